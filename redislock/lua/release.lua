-- Delete a lock that the token holds and, if a caller found it held, wake
-- the waiters.
--
-- KEYS[1]  the lock key
-- ARGV[1]  the token
-- ARGV[2]  the channel that waiters for this lock subscribe to
--
-- Returns 1 when the lock was released, 0 when the token does not hold it
-- (so a retried or stale release never touches a later holder's lock).
local v = redis.call('get', KEYS[1])
if v == ARGV[1] then
	redis.call('del', KEYS[1])
	return 1
end
if v == ARGV[1] .. '*' then
	redis.call('del', KEYS[1])
	redis.call('publish', ARGV[2], '')
	return 1
end
return 0
