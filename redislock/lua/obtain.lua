-- Take the lock for a token, or confirm that the token already holds it.
--
-- KEYS[1]  the lock key
-- KEYS[2]  the fencing counter key, in the same hash slot as KEYS[1]
-- ARGV[1]  the token of this acquisition
-- ARGV[2]  the lease TTL in milliseconds
--
-- Returns {1, fence} when ARGV[1] holds the lock with a fresh TTL, and
-- {0, pttl} when another token holds it (pttl is -1 for a key without TTL).
-- The counter is bumped only for a new grant: a retried call with the same
-- token (an acquire whose reply was lost) returns the fence it got before.
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return {1, redis.call('incr', KEYS[2])}
end
if redis.call('get', KEYS[1]) == ARGV[1] then
	redis.call('pexpire', KEYS[1], ARGV[2])
	return {1, tonumber(redis.call('get', KEYS[2]) or '0')}
end
return {0, redis.call('pttl', KEYS[1])}
