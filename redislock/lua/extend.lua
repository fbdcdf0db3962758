-- Reset the TTL of a lock that the token holds.
--
-- KEYS[1]  the lock key
-- ARGV[1]  the token
-- ARGV[2]  the new TTL in milliseconds
--
-- Returns 1 when the TTL was reset, 0 when the token does not hold it (the
-- key holds the token, with a '*' appended once a waiter has seen it). It
-- never creates the key: a lease that was lost stays lost.
local v = redis.call('get', KEYS[1])
if v == ARGV[1] or v == ARGV[1] .. '*' then
	return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
