-- Take the lock for a token, or confirm that the token already holds it.
--
-- KEYS[1]  the lock key
-- KEYS[2]  the fencing counter key, in the same hash slot as KEYS[1]
-- ARGV[1]  the token of this acquisition
-- ARGV[2]  the lease TTL in milliseconds
--
-- The lock key holds the holder's token, followed by '*' once a caller has
-- found it held: then the release publishes, and only then.
--
-- Returns the fence (>= 0) when ARGV[1] holds the lock with a fresh TTL,
-- and -2 - pttl (< 0) when another token holds it (pttl is -1 for a key
-- without TTL). The counter is bumped only for a new grant: a retried call
-- with the same token (an acquire whose reply was lost) gets the fence it
-- got before.
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
	return redis.call('incr', KEYS[2])
end
local v = redis.call('get', KEYS[1])
if v == ARGV[1] or v == ARGV[1] .. '*' then
	redis.call('pexpire', KEYS[1], ARGV[2])
	return tonumber(redis.call('get', KEYS[2]) or '0')
end
if v and string.sub(v, -1) ~= '*' then
	redis.call('append', KEYS[1], '*')
end
return -2 - redis.call('pttl', KEYS[1])
