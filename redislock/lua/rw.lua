-- A phase-fair reader/writer lock with leased holders and direct handoff:
-- one script for every operation, so that each of them reclaims expired
-- leases and hands the lock on in the same way.
--
-- KEYS     (one hash slot: each is prefix:{name}:rw or starts with it)
-- KEYS[1]  ...:rw: a hash without TTL: 'fence', the fencing counter,
--          bumped for every grant
-- KEYS[2]  ...:rw:readers: the readers' tokens, each scored by the
--          deadline of its own lease (server time, ms)
-- KEYS[3]  ...:rw:fences: each reader's fence
-- KEYS[4]  ...:rw:writer: the writer whose turn it is, a hash: 'tok';
--          'held', '1' once it holds the lock and '0' while it waits for
--          the readers inside to leave; 'dl', the deadline of its lease or,
--          while it waits, of its entry; 'fence' once it holds; 'stamp' and
--          'chan' of its entry
-- KEYS[5]  ...:rw:blocked: the readers that wait for the write phase to
--          end, scored by their entries' deadlines
-- KEYS[6]  ...:rw:queue: the writers waiting for their turn, scored by
--          arrival (a new member gets the highest score present plus 1)
-- KEYS[7]  ...:rw:deadlines: the same writers, scored by their entries'
--          deadlines
-- KEYS[8]  ...:rw:entries: each token of KEYS[5] and KEYS[6]: 'stamp channel'
-- KEYS[9]  ...:rw:solo: the only holder, when nobody else holds or
--          waits: 'token mode fence' (mode 'r' or 'w'), whose TTL is the
--          holder's lease. While KEYS[9] exists, KEYS[2] to KEYS[8] do not
--          (KEYS[1] does): its lease ends when it expires, with nothing to
--          reclaim.
-- ARGV[1]  'read', 'write', 'release', 'renew', 'downgrade' or 'stat'
-- ARGV[2]  the token ('' for stat)
-- ARGV[3]  '1' if a PUBLISH that reached no subscriber means that the
--          waiter's Client is gone (one server: standalone, Sentinel);
--          '0' where the count covers one node only (Cluster)
-- ARGV[4]  read, write, renew, downgrade: the lease TTL (ms)
-- ARGV[5]  read, write: the queue entry's lifetime (ms); 0 for a caller
--          that does not wait, which is never queued
-- ARGV[6]  read, write: the caller's Client's channel, '' for none
-- ARGV[7]  read, write: the caller's stamp of this request (digits)
--
-- Phases, as in package rw: writers take turns in arrival order. The
-- writer whose turn it is (KEYS[4]) is announced: readers arriving from
-- then on wait (KEYS[5]), and it waits only for the readers inside to
-- leave, then holds the lock. Its write phase ends when it releases,
-- downgrades, gives up, or its lease or entry expires; then every reader
-- that waited in the phase enters at once, and the next writer is
-- announced. So a reader waits for at most one write phase, and a writer
-- for the writers ahead of it and the readers inside when its turn came.
--
-- Every call first drops, on the server's clock, the readers, writer and
-- waiters whose lease or entry has ended (each reader's lease is its own:
-- no reader keeps another's alive), then moves the phases on. A waiter
-- granted by another's call holds until its entry's deadline (its first
-- renewal extends the lease to a full TTL), the fence is bumped, and
-- 'token fence stamp' is published on its channel. If the message reached
-- nobody and ARGV[3] is '1', its Client is gone: the grant is undone (a
-- writer's phase ends). The work of a call is O(log n) for each holder or
-- waiter it drops or grants, plus O(log n).
--
-- Uncontended, a holder is its solo key (KEYS[9]) and nothing else: a
-- read or write that finds none of KEYS[2] to KEYS[9] (stale fences
-- aside, which it deletes) bumps the fence and sets KEYS[9], without
-- reading the clock; a release or renewal by the solo holder deletes or
-- extends it. Any other call that finds KEYS[9] first spills it: it
-- writes the holder into KEYS[2] and KEYS[3] (a reader) or KEYS[4] (a
-- writer) with the deadline that KEYS[9]'s TTL gave it, deletes KEYS[9],
-- and goes on as if the holder had always been there.
local op, tok, probe = ARGV[1], ARGV[2], ARGV[3] == '1'

local function int(i, min)
	local v = tonumber(ARGV[i])
	if not v or v % 1 ~= 0 or v < min or v > 9007199254740991 then
		error('rw.lua: ARGV[' .. i .. '] must be an integer >= ' .. min .. ', not ' .. tostring(ARGV[i]))
	end
	return v
end
local ttl, lifetime, channel, stamp
if op ~= 'stat' then
	if tok == '' or string.find(tok, ' ', 1, true) then
		error('rw.lua: bad token')
	end
end
if op == 'read' or op == 'write' then
	ttl, lifetime = int(4, 1), int(5, 0)
	channel, stamp = ARGV[6], ARGV[7]
	if not string.find(stamp, '^%d+$') then
		error('rw.lua: bad stamp')
	end
elseif op == 'renew' or op == 'downgrade' then
	ttl = int(4, 1)
elseif op ~= 'release' and op ~= 'stat' then
	error('rw.lua: unknown operation')
end

-- The solo holder (KEYS[9]), once a call has read it: its token, mode
-- ('r' or 'w') and fence (digits); nil if KEYS[9] does not exist.
local solo_tok, solo_mode, solo_fence
local function get_solo()
	solo_tok, solo_mode, solo_fence = string.match(redis.call('get', KEYS[9]) or '', '^(%S+) ([rw]) (%d+)$')
end

-- exists counts KEYS[2] once, KEYS[3] twice, KEYS[4] 4 times, KEYS[5] and
-- KEYS[6] 9 times each, and the keys given, in one EXISTS (which counts a
-- key named twice twice).
local function exists(...)
	return redis.call('exists', KEYS[2], KEYS[3], KEYS[3], KEYS[4], KEYS[4], KEYS[4], KEYS[4],
		KEYS[5], KEYS[5], KEYS[5], KEYS[5], KEYS[5], KEYS[5], KEYS[5], KEYS[5], KEYS[5],
		KEYS[6], KEYS[6], KEYS[6], KEYS[6], KEYS[6], KEYS[6], KEYS[6], KEYS[6], KEYS[6], ...)
end

-- present holds one bit for each of KEYS[2] (1), KEYS[3] (2) and KEYS[4]
-- (4), plus 9 for each of KEYS[5] and KEYS[6] that exists: one of 0 to 7,
-- 9 to 16 and 18 to 25, and the bits are present % 9. readers, fenced,
-- writing and waiting say whether KEYS[2], KEYS[3], KEYS[4], and KEYS[5]
-- or KEYS[6] existed when the call began: when one did not, there is
-- nothing in it to reclaim, look up or grant, and the call saves those
-- commands. KEYS[7] and KEYS[8] go with KEYS[6] and KEYS[5]: their
-- members are added and removed together, and their TTLs are set
-- together. A read or write names KEYS[9] in the same EXISTS 8 times:
-- none of the others exists while it does, so it does exactly when the
-- count is 8, which the others cannot make. Every other call reads it
-- with a GET, and counts the rest only if it does not exist.
local present = 0
if op == 'read' or op == 'write' then
	local s = KEYS[9]
	present = exists(s, s, s, s, s, s, s, s)
	if present == 8 then
		present = 0
		get_solo()
	elseif present == 0 or present == 2 then
		-- Nobody holds or waits: the fences of readers gone go, and the
		-- caller is the solo holder.
		if present == 2 then
			redis.call('del', KEYS[3])
		end
		local fence = redis.call('hincrby', KEYS[1], 'fence', 1)
		redis.call('set', KEYS[9], string.format('%s %s %d', tok, string.sub(op, 1, 1), fence), 'px', ttl)
		return {1, fence}
	end
else
	get_solo()
	if solo_tok == tok then
		-- The solo holder releases or renews: nobody else holds or waits.
		if op == 'release' then
			redis.call('del', KEYS[9])
			return 1
		elseif op == 'renew' then
			redis.call('pexpire', KEYS[9], ttl)
			return 1
		end
	end
	if not solo_tok then
		present = exists()
	end
end
local readers, fenced, writing, waiting = present % 9 % 2 == 1, present % 9 % 4 >= 2, present % 9 >= 4, present >= 9
local f = {}
if writing then
	f = redis.call('hmget', KEYS[4], 'tok', 'held', 'dl', 'fence', 'stamp', 'chan')
end

-- A token is a reader's or a writer's for good: a read with a writer's
-- token, or a write with a reader's, is refused before anything changes.
if op == 'read' and (f[1] == tok or solo_tok == tok and solo_mode == 'w' or waiting and redis.call('zscore', KEYS[6], tok)) then
	error('rw.lua: read with a writer\'s token')
end
if op == 'write' and (solo_tok == tok and solo_mode == 'r' or readers and redis.call('zscore', KEYS[2], tok) or
		waiting and redis.call('zscore', KEYS[5], tok)) then
	error('rw.lua: write with a reader\'s token')
end
-- The caller as a waiter: a reader that may be waiting, or a writer.
local self_r, self_w
if op == 'read' then
	self_r = tok
elseif op == 'write' then
	self_w = tok
end

local t = redis.call('time')
local now = t[1] * 1000 + math.floor(t[2] / 1000)

-- The solo holder spills: it becomes the reader in KEYS[2] and KEYS[3],
-- or the writer in KEYS[4] (and f), that it would be had the full path
-- granted it, with the deadline its TTL gives; if its TTL is spent, it is
-- gone. Either way KEYS[9] goes. Of the flags, only readers is read from
-- here on in a way that the spill changes (fenced only without readers,
-- writing only with them; the writer is read from f).
if solo_tok then
	local ms = redis.call('pttl', KEYS[9])
	if ms > 0 then
		local dl = string.format('%d', now + ms)
		if solo_mode == 'r' then
			redis.call('zadd', KEYS[2], dl, solo_tok)
			redis.call('hset', KEYS[3], solo_tok, solo_fence)
			redis.call('pexpire', KEYS[2], ms)
			redis.call('pexpire', KEYS[3], ms + 1000)
			readers = true
		else
			f = {solo_tok, '1', dl, solo_fence, '0', ''}
			redis.call('hset', KEYS[4], 'tok', f[1], 'held', f[2], 'dl', f[3], 'fence', f[4], 'stamp', f[5], 'chan', f[6])
			redis.call('pexpire', KEYS[4], ms + 1000)
		end
	end
	redis.call('del', KEYS[9])
end

-- W is the writer whose turn it is, or nil.
local W
if f[1] and tonumber(f[3]) then
	W = {tok = f[1], held = f[2] == '1', dl = tonumber(f[3]), fence = tonumber(f[4]), stamp = f[5] or '0', chan = f[6] or ''}
end

-- lowest is the earliest deadline in KEYS[2], when a fast path read it:
-- if it is later than now, no reader's lease has ended, and reclaim
-- looks for none.
local lowest

-- Fast paths, with nobody waiting: what the full path below does then
-- comes down to these few commands.
if not waiting then
	-- Release of the only reader, with no writer: reclaim drops it if its
	-- lease has ended (and the release returns 0), and no reader is left.
	if op == 'release' and readers and not writing then
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
	-- Release of the writer, with no reader: reclaim drops it if its lease
	-- has ended, and the release returns 1 only if it held; either way its
	-- phase ends, and the fences of readers gone go.
	if op == 'release' and W and W.tok == tok and not readers then
		redis.call('del', KEYS[4], KEYS[3])
		if W.held and W.dl > now then
			return 1
		end
		return 0
	end
end

local readers_changed, writer_changed, waiters_changed = false, false, false
if not readers and fenced then
	-- The readers' key expired with the last reader's lease: their fences
	-- (which live a second longer) go too.
	redis.call('del', KEYS[3])
end

-- The writes to KEYS[3] wait for commit, which makes them in one HDEL and
-- one HSET (or a DEL when no reader is left): dropped are the fields of
-- readers gone, added those of new readers, field and value in turn.
-- A reader's field is read only while it reads, never between its
-- change and commit.
local dropped, added = {}, {}
-- latest is the latest deadline given to a reader by this call, if
-- KEYS[2] did not exist when it began (then its last reader's).
local latest

local function add_reader(r, deadline, fence)
	redis.call('zadd', KEYS[2], deadline, r)
	added[#added + 1] = r
	added[#added + 1] = string.format('%d', fence)
	readers_changed = true
	if not readers then
		latest = math.max(latest or deadline, deadline)
	end
end

-- chunked calls cmd on key with the values of list, at most 1000 at a
-- time (unpack has a limit).
local function chunked(cmd, key, list)
	for i = 1, #list, 1000 do
		redis.call(cmd, key, unpack(list, i, math.min(i + 999, #list)))
	end
end

local function unqueue_writer(w)
	redis.call('zrem', KEYS[6], w)
	redis.call('zrem', KEYS[7], w)
	redis.call('hdel', KEYS[8], w)
	waiters_changed = true
end

-- notify publishes a grant to a waiter and reports whether it stands: the
-- message reached someone, or nobody could tell.
local function notify(c, w, fence, s)
	local heard = c == '' or redis.call('publish', c, string.format('%s %d %s', w, fence, s)) > 0
	return heard or not probe
end

-- reclaim drops the readers and the writer whose lease has ended and the
-- waiters whose entry has died, except the caller as a waiter (self_r,
-- self_w): a waiter that calls is alive, and keeps its place.
local function reclaim()
	if readers and not (lowest and lowest > now) then
		local dead = redis.call('zrangebyscore', KEYS[2], '-inf', now)
		if #dead > 0 then
			for _, r in ipairs(dead) do
				dropped[#dropped + 1] = r
			end
			redis.call('zremrangebyscore', KEYS[2], '-inf', now)
			readers_changed = true
		end
	end
	if W and W.dl <= now and (W.held or W.tok ~= self_w) then
		W = nil
		writer_changed = true
	end
	if not waiting then
		return
	end
	for _, r in ipairs(redis.call('zrangebyscore', KEYS[5], '-inf', now)) do
		if r ~= self_r then
			redis.call('zrem', KEYS[5], r)
			redis.call('hdel', KEYS[8], r)
			waiters_changed = true
		end
	end
	for _, w in ipairs(redis.call('zrangebyscore', KEYS[7], '-inf', now)) do
		if w ~= self_w then
			unqueue_writer(w)
		end
	end
end

-- advance moves the phases on: with no writer's turn, the readers that
-- waited enter and the next writer is announced; an announced writer
-- holds once no reader is inside. The caller (self_r, self_w) gets a
-- full TTL and no message, and advance returns its fence.
local function advance()
	local mine
	while true do
		if not W and not waiting then
			return mine
		end
		if not W then
			local blocked = redis.call('zrange', KEYS[5], 0, -1, 'withscores')
			for i = 1, #blocked, 2 do
				local r, deadline = blocked[i], tonumber(blocked[i + 1])
				local e = redis.call('hget', KEYS[8], r)
				redis.call('hdel', KEYS[8], r)
				local fence = redis.call('hincrby', KEYS[1], 'fence', 1)
				if r == self_r then
					add_reader(r, now + ttl, fence)
					mine = fence
				elseif e then
					local s, c = string.match(e, '^(%d+) (.*)$')
					if notify(c, r, fence, s) then
						add_reader(r, deadline, fence)
					end
				end
			end
			if #blocked > 0 then
				redis.call('del', KEYS[5])
				waiters_changed = true
			end
			local head = redis.call('zrange', KEYS[6], 0, 0)[1]
			if not head then
				return mine
			end
			local deadline = tonumber(redis.call('zscore', KEYS[7], head))
			local e = redis.call('hget', KEYS[8], head)
			unqueue_writer(head)
			if deadline and e then
				local s, c = string.match(e, '^(%d+) (.*)$')
				W = {tok = head, held = false, dl = deadline, stamp = s, chan = c}
				writer_changed = true
			end
		end
		if W then
			if not W.held and redis.call('zcard', KEYS[2]) == 0 then
				local fence = redis.call('hincrby', KEYS[1], 'fence', 1)
				if W.tok == self_w then
					W.held, W.fence, W.dl = true, fence, now + ttl
					mine = fence
				elseif notify(W.chan, W.tok, fence, W.stamp) then
					W.held, W.fence = true, fence
				else
					W = nil -- gone: its phase ends
				end
				writer_changed = true
			end
			if W then
				return mine
			end
		end
	end
end

-- commit writes the writer back and sets the keys' TTLs: each key lives
-- until the last lease or entry in it ends (the readers' fences and the
-- writer a second longer: the writer's 'dl' decides, so that an announced
-- writer whose entry has just died keeps its turn if it calls in time).
local function commit()
	if readers_changed then
		local last = latest
		if readers then
			last = redis.call('zrange', KEYS[2], -1, -1, 'withscores')[2]
		end
		if last then
			local ms = math.max(tonumber(last) - now, 1)
			chunked('hdel', KEYS[3], dropped)
			chunked('hset', KEYS[3], added)
			redis.call('pexpire', KEYS[2], ms)
			redis.call('pexpire', KEYS[3], ms + 1000)
		else
			redis.call('del', KEYS[3])
		end
	end
	if writer_changed then
		-- A writer that holds has every field, so the HSET leaves nothing
		-- stale; one that does not has no fence, and one may be left.
		if W and W.fence then
			redis.call('hset', KEYS[4], 'tok', W.tok, 'held', W.held and '1' or '0',
				'dl', string.format('%d', W.dl), 'stamp', W.stamp, 'chan', W.chan,
				'fence', string.format('%d', W.fence))
		else
			redis.call('del', KEYS[4])
			if W then
				redis.call('hset', KEYS[4], 'tok', W.tok, 'held', W.held and '1' or '0',
					'dl', string.format('%d', W.dl), 'stamp', W.stamp, 'chan', W.chan)
			end
		end
		if W then
			redis.call('pexpire', KEYS[4], math.max(W.dl - now, 1) + 1000)
		end
	end
	if waiters_changed then
		-- The waiters' keys expire together, when the last entry dies:
		-- were KEYS[5] to expire before KEYS[8], with KEYS[6] alive, the
		-- entries of its readers would stay in KEYS[8] for as long as
		-- writers keep KEYS[8] alive, since reclaim finds the dead by
		-- their deadlines in KEYS[5] and KEYS[7].
		local b = tonumber(redis.call('zrange', KEYS[5], -1, -1, 'withscores')[2])
		local q = tonumber(redis.call('zrange', KEYS[7], -1, -1, 'withscores')[2])
		if b or q then
			local ms = math.max(math.max(b or 0, q or 0) - now, 1)
			if b then
				redis.call('pexpire', KEYS[5], ms)
			end
			if q then
				redis.call('pexpire', KEYS[6], ms)
				redis.call('pexpire', KEYS[7], ms)
			end
			redis.call('pexpire', KEYS[8], ms)
		end
	end
end

-- first_reader is the time (ms) until the first reader's lease ends, -1
-- if none: when an announced writer may get the lock without a release.
local function first_reader()
	local first = redis.call('zrange', KEYS[2], 0, 0, 'withscores')[2]
	if first then
		return tonumber(first) - now
	end
	return -1
end

local function writer_left()
	if W then
		return W.dl - now
	end
	return -1
end

local function stat()
	local w = 0
	if W then
		w = W.held and 2 or 1
	end
	return {redis.call('zcard', KEYS[2]), w, redis.call('zcard', KEYS[5]), redis.call('zcard', KEYS[6])}
end

-- Read and write. Each returns {1, fence} when the token holds the lock
-- (for reading or writing) with a full TTL: a new grant, or one it was
-- handed (the fence of that grant; a retried call or a grantee's claim
-- bumps nothing); {0, wait} when it does not, and then it waits if
-- ARGV[5] > 0 (or its entry is refreshed, keeping its place, if it
-- waited). wait is the time (ms) until the lease or entry that stops it
-- ends, -1 if unknown. A newcomer reader enters unless a writer's turn
-- has come; a newcomer writer holds if nobody does and no writer is
-- ahead, is announced if only readers hold and no writer is ahead (it
-- then waits for them, and stops newcomer readers), and queues otherwise.
-- A caller that does not wait (ARGV[5] = 0) never announces itself.
if op == 'read' then
	reclaim()
	local mine = advance()
	if mine then
		commit()
		return {1, mine}
	end
	if readers and redis.call('zscore', KEYS[2], tok) then
		redis.call('zadd', KEYS[2], now + ttl, tok)
		readers_changed = true
		commit()
		return {1, tonumber(redis.call('hget', KEYS[3], tok)) or 0}
	end
	if waiting and redis.call('zscore', KEYS[5], tok) then
		if lifetime > 0 then
			redis.call('zadd', KEYS[5], now + lifetime, tok)
			redis.call('hset', KEYS[8], tok, stamp .. ' ' .. channel)
			waiters_changed = true
		end
		commit()
		return {0, writer_left()}
	end
	if not W then
		local fence = redis.call('hincrby', KEYS[1], 'fence', 1)
		add_reader(tok, now + ttl, fence)
		commit()
		return {1, fence}
	end
	if lifetime > 0 then
		redis.call('zadd', KEYS[5], now + lifetime, tok)
		redis.call('hset', KEYS[8], tok, stamp .. ' ' .. channel)
		waiters_changed = true
	end
	commit()
	return {0, writer_left()}
end

if op == 'write' then
	reclaim()
	local mine = advance()
	if mine then
		commit()
		return {1, mine}
	end
	if W and W.tok == tok then
		if W.held then
			W.dl = now + ttl
			writer_changed = true
			commit()
			return {1, W.fence}
		end
		if lifetime > 0 then
			W.dl, W.stamp, W.chan = now + lifetime, stamp, channel
			writer_changed = true
		end
		commit()
		return {0, first_reader()}
	end
	if waiting and redis.call('zscore', KEYS[6], tok) then
		if lifetime > 0 then
			redis.call('zadd', KEYS[7], now + lifetime, tok)
			redis.call('hset', KEYS[8], tok, stamp .. ' ' .. channel)
			waiters_changed = true
		end
		commit()
		return {0, writer_left()}
	end
	if not W then
		-- No writer's turn, so none is queued either (advance). Readers
		-- enter only from KEYS[5] (advance), so without KEYS[2] and
		-- KEYS[5] there are none.
		if not (readers or waiting) or redis.call('zcard', KEYS[2]) == 0 then
			local fence = redis.call('hincrby', KEYS[1], 'fence', 1)
			W = {tok = tok, held = true, dl = now + ttl, fence = fence, stamp = stamp, chan = channel}
			writer_changed = true
			commit()
			return {1, fence}
		end
		if lifetime > 0 then
			W = {tok = tok, held = false, dl = now + lifetime, stamp = stamp, chan = channel}
			writer_changed = true
		end
		commit()
		return {0, first_reader()}
	end
	if lifetime > 0 then
		local last = redis.call('zrange', KEYS[6], -1, -1, 'withscores')[2]
		redis.call('zadd', KEYS[6], (tonumber(last) or 0) + 1, tok)
		redis.call('zadd', KEYS[7], now + lifetime, tok)
		redis.call('hset', KEYS[8], tok, stamp .. ' ' .. channel)
		waiters_changed = true
	end
	commit()
	return {0, writer_left()}
end

-- Release. Returns 1 if the token held the lock (for reading or writing);
-- 0 otherwise (its lease had ended, or it never held), and a waiter that
-- gives up leaves: an announced writer that gives up ends its write phase,
-- so the readers that waited in it enter at once.
if op == 'release' then
	reclaim()
	local r = 0
	if readers and redis.call('zrem', KEYS[2], tok) == 1 then
		dropped[#dropped + 1] = tok
		readers_changed = true
		r = 1
	elseif W and W.tok == tok then
		if W.held then
			r = 1
		end
		W = nil
		writer_changed = true
	elseif waiting and redis.call('zrem', KEYS[5], tok) == 1 then
		redis.call('hdel', KEYS[8], tok)
		waiters_changed = true
	elseif waiting and redis.call('zscore', KEYS[6], tok) then
		unqueue_writer(tok)
	end
	advance()
	commit()
	return r
end

-- Renew. Returns 1 if the token holds the lock, whose lease now ends
-- after ARGV[4] ms; 0 otherwise. It never makes a holder of a token whose
-- lease has ended.
if op == 'renew' then
	reclaim()
	local r = 0
	if readers and redis.call('zscore', KEYS[2], tok) then
		redis.call('zadd', KEYS[2], 'XX', now + ttl, tok)
		readers_changed = true
		r = 1
	elseif W and W.tok == tok and W.held then
		W.dl = now + ttl
		writer_changed = true
		r = 1
	end
	advance()
	commit()
	return r
end

-- Downgrade. If the token holds the lock for writing, it holds it for
-- reading from now on (same token, same fence, a lease of ARGV[4] ms) and
-- its write phase ends: the readers that waited in it enter, and the next
-- writer is announced, to wait for all of them. Returns 1 then; 0 if the
-- token does not hold the lock for writing (its lease had ended, say).
if op == 'downgrade' then
	reclaim()
	local r = 0
	if W and W.tok == tok and W.held then
		add_reader(tok, now + ttl, W.fence)
		W = nil
		writer_changed = true
		r = 1
	end
	advance()
	commit()
	return r
end

-- Stat. Returns {readers, writer (0: none, 1: announced, waiting for
-- readers, 2: holding), blocked readers, queued writers}, after
-- reclaiming and moving the phases on as every call does.
reclaim()
advance()
commit()
return stat()
