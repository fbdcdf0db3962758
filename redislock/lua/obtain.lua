-- Take the lock for a token, or confirm that the token already holds it.
--
-- KEYS[1]  the lock key
-- KEYS[2]  the fencing counter key
-- KEYS[3]  the wait queue: a sorted set of tokens by arrival (server microseconds)
-- KEYS[4]  the queue's deadlines: a sorted set of tokens by expiry
-- ARGV[1]  the token of this acquisition
-- ARGV[2]  the lease TTL in milliseconds
-- ARGV[3]  how long (ms) a queue entry lives unless renewed by another
--          call; 0 for a caller that does not wait, which is not queued
-- ARGV[4]  '1' if an earlier call with this token may have queued it
--
-- All keys share a hash slot. The lock key holds the holder's token, or
-- '~' and the token of the waiter that a release handed the lock to; '*'
-- is appended once a caller has found it held, and then the release hands
-- the lock to the first waiter in the queue and publishes its token.
--
-- Returns the fence (>= 0) when ARGV[1] holds the lock with a fresh TTL,
-- and -2 - pttl (< 0) when the lock is held or handed to another token
-- (pttl is -1 for a key without TTL); then ARGV[1] is queued (ARGV[3] > 0).
-- The counter is bumped only for a new grant: a retried call with the same
-- token (an acquire whose reply was lost) gets the fence it got before.
local tok = ARGV[1]
if redis.call('set', KEYS[1], tok, 'NX', 'PX', ARGV[2]) then
	if ARGV[4] == '1' then
		redis.call('zrem', KEYS[3], tok)
		redis.call('zrem', KEYS[4], tok)
	end
	return redis.call('incr', KEYS[2])
end
local v = redis.call('get', KEYS[1])
if v == tok or v == tok .. '*' then
	redis.call('pexpire', KEYS[1], ARGV[2])
	return tonumber(redis.call('get', KEYS[2]) or '0')
end
if v == '~' .. tok or v == '~' .. tok .. '*' then
	redis.call('zrem', KEYS[3], tok)
	redis.call('zrem', KEYS[4], tok)
	if redis.call('zcard', KEYS[3]) > 0 then
		tok = tok .. '*'
	end
	redis.call('set', KEYS[1], tok, 'PX', ARGV[2])
	return redis.call('incr', KEYS[2])
end
if string.sub(v, -1) ~= '*' then
	redis.call('append', KEYS[1], '*')
end
local entry = tonumber(ARGV[3])
if entry > 0 then
	local t = redis.call('time')
	-- The arrival in microseconds, built as a string: Lua would format
	-- the number with 14 significant digits, too few for 16.
	local arrival = t[1] .. string.rep('0', 6 - #t[2]) .. t[2]
	redis.call('zadd', KEYS[3], 'NX', arrival, tok)
	redis.call('zadd', KEYS[4], t[1] * 1000 + math.floor(t[2] / 1000) + entry, tok)
	redis.call('pexpire', KEYS[3], entry)
	redis.call('pexpire', KEYS[4], entry)
end
return -2 - redis.call('pttl', KEYS[1])
