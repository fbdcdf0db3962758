-- Write a value guarded by a fencing token.
--
-- KEYS[1]  the guarded resource: a hash with fields "fence" and "value"
-- ARGV[1]  the writer's fencing token
-- ARGV[2]  the value
--
-- Returns 1 when the value was written, 0 when a write with a higher token
-- has already been accepted (the writer's lease is stale).
local seen = tonumber(redis.call('hget', KEYS[1], 'fence') or '0')
if tonumber(ARGV[1]) < seen then
	return 0
end
redis.call('hset', KEYS[1], 'fence', ARGV[1], 'value', ARGV[2])
return 1
