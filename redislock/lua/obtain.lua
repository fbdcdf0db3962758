-- Take the lock for a token, or confirm that the token already holds it.
--
-- KEYS[1]  the lock key
-- KEYS[2]  the fencing counter key
-- KEYS[3]  the wait queue: a sorted set of tokens by arrival (server microseconds)
-- KEYS[4]  the queue's deadlines: a sorted set of tokens by expiry (server milliseconds)
-- ARGV[1]  the token of this acquisition
-- ARGV[2]  the lease TTL in milliseconds
-- ARGV[3]  how long (ms) a queue entry lives unless renewed by another
--          call; 0 for a caller that does not wait, which is not queued
--
-- All keys share a hash slot. The lock key holds the holder's token, or
-- '~' and the token of the waiter that a release handed the lock to; '*'
-- is appended once a caller has found it held, and then the release hands
-- the lock to the first waiter in the queue and publishes its token.
--
-- A free lock goes to the first live waiter in the queue (entries ahead of
-- it whose deadline has passed on the server's clock are dropped): a caller
-- that is not at the head of the queue, queued or not, is refused while a
-- live waiter is ahead of it, even if the key expired or was deleted
-- without a release, or a release handed it to a waiter that did not come.
--
-- Returns the fence (>= 0) when ARGV[1] holds the lock with a fresh TTL,
-- and -2 - wait (< 0) otherwise, where wait is the key's PTTL (-1 for a
-- key without TTL) or, for a free lock kept for the head of the queue, the
-- milliseconds until the head's entry expires unless renewed; then
-- ARGV[1] is queued (ARGV[3] > 0). The counter is bumped only for a new
-- grant: a retried call with the same token (an acquire whose reply was
-- lost) gets the fence it got before.
local tok = ARGV[1]
if redis.call('zcard', KEYS[3]) == 0 and redis.call('set', KEYS[1], tok, 'NX', 'PX', ARGV[2]) then
	return redis.call('incr', KEYS[2])
end
local v = redis.call('get', KEYS[1])
if v == tok or v == tok .. '*' then
	redis.call('pexpire', KEYS[1], ARGV[2])
	return tonumber(redis.call('get', KEYS[2]) or '0')
end
local t = redis.call('time')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local wait
if not v then
	-- Free, with waiters queued: the first live one has the right of way.
	-- Drop the dead ones ahead of it.
	while true do
		local head = redis.call('zrange', KEYS[3], 0, 0)[1]
		if not head or head == tok then
			break
		end
		local deadline = tonumber(redis.call('zscore', KEYS[4], head))
		if deadline and deadline > now then
			wait = deadline - now
			break
		end
		redis.call('zrem', KEYS[3], head)
		redis.call('zrem', KEYS[4], head)
	end
end
if v == '~' .. tok or v == '~' .. tok .. '*' or (not v and not wait) then
	redis.call('zrem', KEYS[3], tok)
	redis.call('zrem', KEYS[4], tok)
	if redis.call('zcard', KEYS[3]) > 0 then
		tok = tok .. '*'
	end
	redis.call('set', KEYS[1], tok, 'PX', ARGV[2])
	return redis.call('incr', KEYS[2])
end
if v then
	if string.sub(v, -1) ~= '*' then
		redis.call('append', KEYS[1], '*')
	end
	wait = redis.call('pttl', KEYS[1])
end
local entry = tonumber(ARGV[3])
if entry > 0 then
	-- The arrival in microseconds, built as a string: Lua would format
	-- the number with 14 significant digits, too few for 16.
	local arrival = t[1] .. string.rep('0', 6 - #t[2]) .. t[2]
	redis.call('zadd', KEYS[3], 'NX', arrival, tok)
	redis.call('zadd', KEYS[4], now + entry, tok)
	redis.call('pexpire', KEYS[3], entry)
	redis.call('pexpire', KEYS[4], entry)
end
return -2 - wait
