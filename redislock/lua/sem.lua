-- A weighted semaphore with leased holders, FIFO waiters and direct
-- handoff: one script for every operation, so that each of them reclaims
-- expired weight and hands weight on in the same way.
--
-- KEYS     (one hash slot: each is prefix:{name}:sem or starts with it)
-- KEYS[1]  ...:sem: a hash without TTL: 'size', the size, and 'fence',
--          the fencing counter, bumped for every grant
-- KEYS[2]  ...:sem:holders: the holders' tokens, each scored by the
--          deadline of its lease (server time, ms)
-- KEYS[3]  ...:sem:weights: each holder's 'weight fence', and under the
--          field '' the sum of the weights of the tokens in KEYS[2]
-- KEYS[4]  ...:sem:queue: the waiting tokens, scored by arrival (a new
--          member gets the highest score present plus 1)
-- KEYS[5]  ...:sem:deadlines: the same tokens, scored by the server time
--          (ms) at which each entry dies unless refreshed
-- KEYS[6]  ...:sem:wants: the same tokens, scored by the weight each waits for
-- KEYS[7]  ...:sem:entries: each waiting token's 'stamp channel'
-- KEYS[8]  ...:sem:solo: the only holder, 'token weight fence', with the
--          TTL of its lease, while nobody else holds or waits: then
--          KEYS[2] to KEYS[7] do not exist
-- ARGV[1]  'acquire', 'release', 'renew', 'resize' or 'stat'
-- ARGV[2]  the token ('' for resize and stat)
-- ARGV[3]  '1' if a PUBLISH that reached no subscriber means that the
--          waiter's Client is gone (one server: standalone, Sentinel);
--          '0' where the count covers one node only (Cluster)
-- ARGV[4]  the size: the caller's, which becomes the size if none is
--          stored; for resize, the new size
-- ARGV[5]  acquire, renew: the lease TTL (ms)
-- ARGV[6]  acquire: the weight (>= 1)
-- ARGV[7]  acquire: the queue entry's lifetime (ms); 0 for a caller that
--          does not wait, which is never queued
-- ARGV[8]  acquire: the caller's Client's channel, '' for none
-- ARGV[9]  acquire: the caller's stamp of this request (digits; '0' for none)
--
-- Every call first reclaims, on the server's clock, the weight of the
-- holders whose lease has ended and the entries of the waiters whose entry
-- has died, then grants waiters from the head of the queue as long as the
-- head's weight fits (head-of-line blocking: a waiter that does not fit
-- stops those behind it, so a big request is not starved by small ones).
-- A waiter granted by another's call becomes a holder until its entry's
-- deadline (its first renewal extends the lease to a full TTL), the fence
-- is bumped, and 'token fence stamp' is published on its channel: it holds
-- the weight from then on. If the message reached nobody and ARGV[3] is
-- '1', its Client is gone: the grant is undone and the next waiter served.
-- A waiter whose weight exceeds the size (after a resize) leaves the queue
-- and is sent 'token -1 size'. The work of a call is O(log n) for each
-- holder or waiter it reclaims, grants or refuses, plus O(log n).
--
-- An acquire of an idle semaphore (no holder, no waiter) makes the caller
-- the solo holder, KEYS[8], whose lease is the key's TTL: a release or
-- renewal of it is then a GET and a DEL or PEXPIRE, as a mutex's. Every
-- other call that finds the solo holder first moves it into KEYS[2] and
-- KEYS[3] (its deadline from the key's TTL) and then runs as described.
local op, tok, probe = ARGV[1], ARGV[2], ARGV[3] == '1'

local function int(i, min)
	local v = tonumber(ARGV[i])
	if not v or v % 1 ~= 0 or v < min or v > 9007199254740991 then
		error('sem.lua: ARGV[' .. i .. '] must be an integer >= ' .. min .. ', not ' .. tostring(ARGV[i]))
	end
	return v
end
local arg_size = int(4, 0)
local ttl, want, lifetime, channel, stamp
if op == 'acquire' or op == 'release' or op == 'renew' then
	-- A token is never '' (the field of the sum) and has no space (the
	-- messages are space-separated).
	if tok == '' or string.find(tok, ' ', 1, true) then
		error('sem.lua: bad token')
	end
end
if op == 'acquire' then
	ttl, want, lifetime = int(5, 1), int(6, 1), int(7, 0)
	channel, stamp = ARGV[8], ARGV[9]
	if not string.find(stamp, '^%d+$') then
		error('sem.lua: bad stamp')
	end
elseif op == 'renew' then
	ttl = int(5, 1)
elseif op ~= 'release' and op ~= 'resize' and op ~= 'stat' then
	error('sem.lua: unknown operation')
end

-- The solo holder's record, 'token weight fence', once read.
local solo
-- Fast paths of release and renew: the token is the solo holder, so
-- nobody else holds or waits, and there is nobody to grant.
if op ~= 'acquire' then
	solo = redis.call('get', KEYS[8])
	if solo and string.match(solo, '^%S+') == tok then
		if op == 'release' then
			redis.call('del', KEYS[8])
		else
			redis.call('pexpire', KEYS[8], ttl)
		end
		return 1
	end
end

-- present holds one bit for each of KEYS[2] (1), KEYS[3] (2), KEYS[4] (4)
-- and, for acquire, KEYS[8] (8), from one EXISTS, which counts a key named
-- twice twice. holding and queued say whether KEYS[2] and KEYS[4] existed
-- when the call began: when one did not, there is nothing in it to
-- reclaim, look up or grant, and the call saves those commands.
local present
if op == 'acquire' then
	present = redis.call('exists', KEYS[2], KEYS[3], KEYS[3], KEYS[4], KEYS[4], KEYS[4], KEYS[4],
		KEYS[8], KEYS[8], KEYS[8], KEYS[8], KEYS[8], KEYS[8], KEYS[8], KEYS[8])
	if present >= 8 then
		present = present - 8
		solo = redis.call('get', KEYS[8])
	end
else
	present = redis.call('exists', KEYS[2], KEYS[3], KEYS[3], KEYS[4], KEYS[4], KEYS[4], KEYS[4])
end
local holding, weighing, queued = present % 2 == 1, present % 4 >= 2, present >= 4

local size
local function load_size()
	size = tonumber(redis.call('hget', KEYS[1], 'size'))
	if op == 'resize' or not size then
		size = arg_size
		redis.call('hset', KEYS[1], 'size', string.format('%d', size))
	end
end

-- Fast path of acquire: an idle semaphore (the weights of holders gone
-- may linger, see held). The caller becomes its solo holder.
if op == 'acquire' and not (holding or queued or solo) then
	load_size()
	if want > size then
		return {-1, size}
	end
	if weighing then
		redis.call('del', KEYS[3])
	end
	local fence = redis.call('hincrby', KEYS[1], 'fence', 1)
	redis.call('set', KEYS[8], string.format('%s %d %d', tok, want, fence), 'PX', ttl)
	return {1, fence}
end

local t = redis.call('time')
local now = t[1] * 1000 + math.floor(t[2] / 1000)

-- The solo holder moves into KEYS[2] and KEYS[3], which do not exist
-- while it does, with the deadline its key's TTL gives.
if solo then
	local h, w, fence = string.match(solo, '^(%S+) (%d+) (%d+)$')
	local ms = redis.call('pttl', KEYS[8])
	redis.call('del', KEYS[8])
	if h and ms > 0 then
		redis.call('zadd', KEYS[2], now + ms, h)
		redis.call('hset', KEYS[3], h, w .. ' ' .. fence, '', w)
		redis.call('pexpire', KEYS[2], ms)
		redis.call('pexpire', KEYS[3], ms + 1000)
		holding, weighing = true, true
	end
end

-- lowest is the earliest deadline in KEYS[2], when a fast path read it: if
-- it is later than now, no lease has ended, and reclaim looks for none.
local lowest

-- Fast path of release: the token is the only holder in KEYS[2] and
-- nobody waits. What the full path does then comes down to deleting
-- KEYS[2] and KEYS[3] (reclaim drops the token if its lease has ended,
-- and release then returns 0; commit deletes the weights of a semaphore
-- with no holder left); KEYS[1] is left as it is (release reads the size
-- only to grant waiters).
if op == 'release' and holding and not queued then
	local first = redis.call('zrange', KEYS[2], 0, 1, 'withscores')
	lowest = tonumber(first[2])
	if #first == 2 and first[1] == tok then
		redis.call('del', KEYS[2], KEYS[3])
		if lowest > now then
			return 1
		end
		return 0
	end
end

load_size()

-- held is the sum of the weights of the tokens in KEYS[2]. The weights
-- outlive the holders (their TTL is a second longer), so the sum is
-- missing only if something other than this script removed KEYS[3] (an
-- eviction policy other than noeviction, a DEL): the semaphore then
-- counts as full until those holders are gone.
local held = 0
if holding then
	held = tonumber(redis.call('hget', KEYS[3], '')) or math.huge
elseif weighing then
	-- The holders' key expired with the last lease: their weights go too.
	redis.call('del', KEYS[3])
end
local holders_changed, queue_changed = false, false

-- The writes to KEYS[3] wait for commit, which makes them in one HDEL and
-- one HSET (or a DEL when no holder is left): dropped are the fields of
-- holders gone, added those of new holders, field and value in turn.
-- Nothing reads a field of either between its change and commit: a
-- token is unheld (reclaimed or released) before any grant of the call,
-- and a token is granted once.
local dropped, added = {}, {}
-- latest is the latest deadline given to a holder by this call, if
-- KEYS[2] did not exist when it began (then its last holder's).
local latest

local function hold(h, w, fence, deadline)
	redis.call('zadd', KEYS[2], deadline, h)
	added[#added + 1] = h
	added[#added + 1] = string.format('%d %d', w, fence)
	held = held + w
	holders_changed = true
	if not holding then
		latest = math.max(latest or deadline, deadline)
	end
end

local function unhold(h)
	local rec = redis.call('hget', KEYS[3], h)
	if rec then
		held = held - tonumber(string.match(rec, '^%d+'))
		dropped[#dropped + 1] = h
	end
	holders_changed = true
end

-- chunked calls cmd on key with the values of list, at most 1000 at a
-- time (unpack has a limit).
local function chunked(cmd, key, list)
	for i = 1, #list, 1000 do
		redis.call(cmd, key, unpack(list, i, math.min(i + 999, #list)))
	end
end

local function unqueue(w)
	redis.call('zrem', KEYS[4], w)
	redis.call('zrem', KEYS[5], w)
	redis.call('zrem', KEYS[6], w)
	redis.call('hdel', KEYS[7], w)
	queue_changed = true
end

-- reclaim drops the holders whose lease has ended and the waiters whose
-- entry has died, except self: a waiter that calls is alive, and keeps
-- its place.
local function reclaim(self)
	if holding and not (lowest and lowest > now) then
		local dead = redis.call('zrangebyscore', KEYS[2], '-inf', now)
		if #dead > 0 then
			for _, h in ipairs(dead) do
				unhold(h)
			end
			redis.call('zremrangebyscore', KEYS[2], '-inf', now)
		end
	end
	if queued then
		for _, w in ipairs(redis.call('zrangebyscore', KEYS[5], '-inf', now)) do
			if w ~= self then
				unqueue(w)
			end
		end
	end
end

-- refuse tells waiter w (its entry e) that its weight exceeds the size.
local function refuse(w, e)
	local c = string.match(e, '^%d+ (.*)$')
	if c and c ~= '' then
		redis.call('publish', c, string.format('%s -1 %d', w, size))
	end
end

-- pump grants the waiters at the head of the queue while their weight
-- fits. Self (the caller of acquire) gets a full TTL and no message, and
-- pump returns its fence.
local function pump(self)
	local mine
	while queued do
		local head = redis.call('zrange', KEYS[4], 0, 0)[1]
		if not head then
			return mine
		end
		local w = tonumber(redis.call('zscore', KEYS[6], head))
		local deadline = tonumber(redis.call('zscore', KEYS[5], head))
		local e = redis.call('hget', KEYS[7], head)
		if not (w and deadline and e) or (deadline <= now and head ~= self) then
			unqueue(head) -- dead, or an incomplete entry
		elseif w > size then
			unqueue(head)
			if head ~= self then
				refuse(head, e)
			end
		elseif held + w > size then
			return mine
		else
			unqueue(head)
			local fence = redis.call('hincrby', KEYS[1], 'fence', 1)
			if head == self then
				hold(head, w, fence, now + ttl)
				mine = fence
			else
				local s, c = string.match(e, '^(%d+) (.*)$')
				local heard = c == '' or redis.call('publish', c, string.format('%s %d %s', head, fence, s)) > 0
				if heard or not probe then
					hold(head, w, fence, deadline)
				end
			end
		end
	end
end

-- commit sets the keys' TTLs: the holders' key lives until the last
-- lease ends (the weights a second longer), the queue's keys until the
-- last entry dies.
local function commit()
	if holders_changed then
		local last = latest
		if holding then
			last = redis.call('zrange', KEYS[2], -1, -1, 'withscores')[2]
		end
		if last then
			local ms = math.max(tonumber(last) - now, 1)
			chunked('hdel', KEYS[3], dropped)
			if held ~= math.huge then
				added[#added + 1] = ''
				added[#added + 1] = string.format('%d', held)
			end
			chunked('hset', KEYS[3], added)
			redis.call('pexpire', KEYS[2], ms)
			redis.call('pexpire', KEYS[3], ms + 1000)
		else
			held = 0
			redis.call('del', KEYS[3])
		end
	end
	if queue_changed then
		local last = redis.call('zrange', KEYS[5], -1, -1, 'withscores')[2]
		if last then
			local ms = math.max(tonumber(last) - now, 1)
			for i = 4, 7 do
				redis.call('pexpire', KEYS[i], ms)
			end
		end
	end
end

-- wait is the time (ms) until the first lease ends, -1 if none: when
-- weight may come free without a release.
local function wait()
	local first = redis.call('zrange', KEYS[2], 0, 0, 'withscores')[2]
	if first then
		return tonumber(first) - now
	end
	return -1
end

local function stat()
	local h = held
	if h == math.huge then
		h = -1
	end
	return {size, h, redis.call('zcard', KEYS[4]), redis.call('zcard', KEYS[2])}
end

-- Acquire. Returns {1, fence} when the token holds its weight with a
-- full TTL: a new grant, or one it was handed (the fence of that grant; a
-- retried acquire or a grantee's claim bumps nothing); {0, wait} when it
-- does not, and then it is queued if ARGV[7] > 0 (or its entry refreshed,
-- keeping its place, if it was queued); {-1, size} when its weight exceeds
-- the size, and then it is not queued. A newcomer is granted only if its
-- weight fits and no live waiter is queued.
if op == 'acquire' then
	reclaim(tok)
	local mine = pump(tok)
	if mine then
		commit()
		return {1, mine}
	end
	local rec = holding and redis.call('hget', KEYS[3], tok)
	if rec and redis.call('zscore', KEYS[2], tok) then
		redis.call('zadd', KEYS[2], now + ttl, tok)
		holders_changed = true
		commit()
		return {1, tonumber(string.match(rec, ' (%d+)$'))}
	end
	if queued and redis.call('zscore', KEYS[4], tok) then
		if lifetime > 0 then
			redis.call('zadd', KEYS[5], now + lifetime, tok)
			redis.call('hset', KEYS[7], tok, stamp .. ' ' .. channel)
			queue_changed = true
		end
		commit()
		return {0, wait()}
	end
	if want > size then
		commit()
		return {-1, size}
	end
	if (not queued or redis.call('exists', KEYS[4]) == 0) and held + want <= size then
		local fence = redis.call('hincrby', KEYS[1], 'fence', 1)
		hold(tok, want, fence, now + ttl)
		commit()
		return {1, fence}
	end
	if lifetime > 0 then
		local last = redis.call('zrange', KEYS[4], -1, -1, 'withscores')[2]
		redis.call('zadd', KEYS[4], (tonumber(last) or 0) + 1, tok)
		redis.call('zadd', KEYS[5], now + lifetime, tok)
		redis.call('zadd', KEYS[6], want, tok)
		redis.call('hset', KEYS[7], tok, stamp .. ' ' .. channel)
		queue_changed = true
	end
	commit()
	return {0, wait()}
end

-- Release. Returns 1 if the token held weight, which goes to the waiters
-- that now fit; 0 otherwise (its lease had ended, or it never held), and
-- a waiter that gives up leaves the queue, which may let those behind it
-- in.
if op == 'release' then
	reclaim(nil)
	local r = 0
	if redis.call('zrem', KEYS[2], tok) == 1 then
		unhold(tok)
		r = 1
	elseif queued and redis.call('zscore', KEYS[4], tok) then
		unqueue(tok)
	end
	pump(nil)
	commit()
	return r
end

-- Renew. Returns 1 if the token holds weight, whose lease now ends after
-- ARGV[5] ms; 0 otherwise. It never makes a holder of a token whose lease
-- has ended: that weight is reclaimed first.
if op == 'renew' then
	reclaim(nil)
	local r = 0
	if redis.call('zscore', KEYS[2], tok) then
		redis.call('zadd', KEYS[2], 'XX', now + ttl, tok)
		holders_changed = true
		r = 1
	end
	pump(nil)
	commit()
	return r
end

-- Resize sets the size (ARGV[4]). A shrink revokes nothing: holders keep
-- their weight, and nobody is granted until the weight held fits under
-- the new size. The waiters whose weight exceeds it leave the queue and
-- are told; those at the head that now fit are granted. Returns what stat
-- returns.
if op == 'resize' then
	reclaim(nil)
	local big = redis.call('zrangebyscore', KEYS[6], '(' .. string.format('%d', size), '+inf')
	for _, w in ipairs(big) do
		local e = redis.call('hget', KEYS[7], w)
		unqueue(w)
		if e then
			refuse(w, e)
		end
	end
	pump(nil)
	commit()
	return stat()
end

-- Stat. Returns {size, weight held (-1 if unknown, see held), waiters,
-- holders}, after reclaiming and granting as every call does.
reclaim(nil)
pump(nil)
commit()
return stat()
