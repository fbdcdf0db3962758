-- Delete a lock that the token holds and wake the waiters.
--
-- KEYS[1]  the lock key
-- ARGV[1]  the token
-- ARGV[2]  the channel that waiters for this lock subscribe to
--
-- Returns 1 when the lock was released, 0 when the token does not hold it
-- (so a retried or stale release never touches a later holder's lock).
if redis.call('get', KEYS[1]) == ARGV[1] then
	redis.call('del', KEYS[1])
	redis.call('publish', ARGV[2], '')
	return 1
end
return 0
