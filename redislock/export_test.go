package redislock

// LocalWaiters returns the number of calls of c that wait for the lock
// called name, as WithMaxWaiters counts them.
func LocalWaiters(c *Client, name string) int64 {
	k, err := c.cfg.keys(name)
	if err != nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if q := c.queues[k.lock]; q != nil {
		return int64(q.waiters.Count())
	}
	return 0
}
