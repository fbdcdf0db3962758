-- Reset the TTL of a lock that the token holds.
--
-- KEYS[1]  the lock key
-- ARGV[1]  the token
-- ARGV[2]  the new TTL in milliseconds
--
-- Returns 1 when the TTL was reset, 0 when the token does not hold the
-- lock. It never creates the key: a lease that was lost stays lost.
if redis.call('get', KEYS[1]) == ARGV[1] then
	return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
