-- Acquire or release a lock: one script, so that both hand the lock to
-- the next waiter the same way (handoff, below).
--
-- KEYS[1]  the lock key: the holder's token
-- KEYS[2]  the fencing counter
-- KEYS[3]  the queue: a list of waiting tokens, in the order they came
-- KEYS[4]  the queue's entries: a hash from each waiting token to
--          'deadline stamp channel': the server time (ms) at which the
--          entry dies unless refreshed, the waiter's stamp of the request
--          that set it, and its Client's channel ('' for none)
-- ARGV[1]  'acquire' or 'release'
-- ARGV[2]  the token
-- ARGV[3]  '1' if a PUBLISH that reached no subscriber means that the
--          grantee's Client is gone (one server: standalone, Sentinel);
--          '0' where the count covers one node only (Cluster)
-- ARGV[4]  acquire: the lease TTL (ms)
-- ARGV[5]  acquire: the queue entry's lifetime (ms); 0 for a caller that
--          does not wait, which is never queued
-- ARGV[6]  acquire: the caller's Client's channel, '' for none
-- ARGV[7]  acquire: the caller's stamp of this request
--
-- All keys share a hash slot. A free lock goes to the first live waiter:
-- while one is queued, nobody else takes it, even after the holder's key
-- expired or was deleted without a release.
local tok, probe = ARGV[2], ARGV[3] == '1'
local now
local function clock()
	if not now then
		local t = redis.call('time')
		now = t[1] * 1000 + math.floor(t[2] / 1000)
	end
	return now
end

-- handoff gives the lock to the first live waiter, dropping the entries
-- ahead of it whose deadline has passed. If that waiter is self (the
-- caller of acquire), the key becomes self's for a full TTL and handoff
-- returns the new fence. Otherwise the key becomes the waiter's token
-- until its entry's deadline (the grantee's first renewal extends it),
-- the fence is bumped, and 'token fence stamp' is published on the
-- waiter's channel: the waiter holds the lock from then on, and handoff
-- returns true. A publication that reached nobody, with ARGV[3] '1',
-- means the waiter's Client is gone: the lock goes to the next waiter.
-- handoff returns false when no live waiter was left; the key may then
-- hold the token of a waiter that is gone.
local function handoff(self)
	while true do
		local head = redis.call('lpop', KEYS[3])
		if not head then
			return false
		end
		local entry = redis.call('hget', KEYS[4], head)
		redis.call('hdel', KEYS[4], head)
		if head == self then
			redis.call('set', KEYS[1], self, 'PX', ARGV[4])
			return redis.call('incr', KEYS[2])
		end
		local deadline, stamp, channel
		if entry then
			deadline, stamp, channel = string.match(entry, '^(%d+) (%d+) (.*)$')
		end
		if deadline and tonumber(deadline) > clock() then
			local fence = redis.call('incr', KEYS[2])
			redis.call('set', KEYS[1], head, 'PX', tonumber(deadline) - now)
			if channel == '' or redis.call('publish', channel, head .. ' ' .. fence .. ' ' .. stamp) > 0 or not probe then
				return true
			end
		end
	end
end

-- Release. Returns 1 if the token held the lock, which goes to the next
-- live waiter or is deleted; 0 otherwise, and a waiter that gives up
-- leaves the queue.
if ARGV[1] == 'release' then
	if redis.call('get', KEYS[1]) ~= tok then
		if redis.call('hdel', KEYS[4], tok) == 1 then
			redis.call('lrem', KEYS[3], 1, tok)
		end
		return 0
	end
	if not handoff(nil) then
		redis.call('del', KEYS[1])
	end
	return 1
end

-- Acquire. Returns the fence (>= 0) when the token holds the lock with a
-- full TTL; otherwise -2 - pttl (the key's remaining TTL in ms, -1 for
-- none), and, if ARGV[5] > 0, the token is queued, or its entry
-- refreshed. A token that already holds the lock (a retried acquire, or a
-- waiter claiming the lock a release handed it) gets the fence of its
-- grant: the counter is bumped only for a new grant.
local ttl, lifetime = ARGV[4], tonumber(ARGV[5])
local v = redis.call('set', KEYS[1], tok, 'NX', 'PX', ttl, 'GET')
if not v then
	if redis.call('exists', KEYS[3]) == 0 then
		return redis.call('incr', KEYS[2])
	end
	-- Free, with waiters queued: the first live one has the right of way.
	local r = handoff(tok)
	if r == false then
		redis.call('set', KEYS[1], tok, 'PX', ttl)
		return redis.call('incr', KEYS[2])
	elseif r ~= true then
		return r
	end
elseif v == tok then
	redis.call('pexpire', KEYS[1], ttl)
	if redis.call('hdel', KEYS[4], tok) == 1 then
		redis.call('lrem', KEYS[3], 1, tok)
	end
	return tonumber(redis.call('get', KEYS[2]) or '0')
end
if lifetime > 0 then
	local entry = (clock() + lifetime) .. ' ' .. ARGV[7] .. ' ' .. ARGV[6]
	if redis.call('hset', KEYS[4], tok, entry) == 1 then
		redis.call('rpush', KEYS[3], tok)
	end
	redis.call('pexpire', KEYS[3], lifetime)
	redis.call('pexpire', KEYS[4], lifetime)
end
return -2 - redis.call('pttl', KEYS[1])
