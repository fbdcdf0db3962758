-- Release a lock that the token holds, or give up a wait.
--
-- KEYS[1]  the lock key
-- KEYS[2]  the wait queue (see obtain.lua)
-- KEYS[3]  the queue's deadlines
-- ARGV[1]  the token
-- ARGV[2]  the channel that waiters for this lock subscribe to
-- ARGV[3]  how long (ms) a lock handed to a waiter stays reserved for it
--
-- If the token holds the lock and no caller found it held, the key is
-- deleted. If a caller did, or if the lock was handed to the token, the
-- lock is handed to the first waiter in the queue whose entry has not
-- expired (the key becomes '~' and its token, for ARGV[3] ms) and its
-- token is published; with no such waiter the key is deleted and '' is
-- published, waking every waiter. The waiter handed the lock leaves the
-- queue: the reservation is its place, and if it does not claim the lock
-- in time, the lock goes to the next waiter (see obtain.lua). A token that
-- neither holds nor was handed the lock leaves the queue.
--
-- Returns 1 when the lock was released, 0 when the token did not hold it
-- (so a retried or stale release never touches a later holder's lock).
local tok = ARGV[1]
local v = redis.call('get', KEYS[1])
if v == tok then
	redis.call('del', KEYS[1])
	return 1
end
local held = v == tok .. '*'
if not held and v ~= '~' .. tok and v ~= '~' .. tok .. '*' then
	redis.call('zrem', KEYS[2], tok)
	redis.call('zrem', KEYS[3], tok)
	return 0
end
redis.call('zrem', KEYS[2], tok)
redis.call('zrem', KEYS[3], tok)
local t = redis.call('time')
local gone = redis.call('zrangebyscore', KEYS[3], '-inf', t[1] * 1000 + math.floor(t[2] / 1000))
for _, w in ipairs(gone) do
	redis.call('zrem', KEYS[2], w)
	redis.call('zrem', KEYS[3], w)
end
local head = redis.call('zrange', KEYS[2], 0, 0)[1]
if head then
	redis.call('zrem', KEYS[2], head)
	redis.call('zrem', KEYS[3], head)
	redis.call('set', KEYS[1], '~' .. head, 'PX', ARGV[3])
	redis.call('publish', ARGV[2], head)
else
	redis.call('del', KEYS[1])
	redis.call('publish', ARGV[2], '')
end
if held then
	return 1
end
return 0
