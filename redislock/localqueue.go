package redislock

import (
	"context"
	"fmt"
	"sync"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
	"github.com/codomyrmex/concurrency/internal/waitq"
	"github.com/codomyrmex/concurrency/lock"
)

// localQueue is the in-process FIFO of the goroutines that want one lock:
// its mutex is held from an acquisition's turn until its lease is released,
// so only the goroutine at the head talks to Redis. One that nobody uses
// goes back to localQueues, unlocked and with no waiter counted.
type localQueue struct {
	mu   lock.Mutex
	refs int // acquisitions and leases between queue (or hold) and unqueue; guarded by Client.mu
	// waiters counts the calls that may wait (Obtain, Mutex.Lock) between
	// their start and their outcome; see WithMaxWaiters.
	waiters waitq.Bound
}

var localQueues = sync.Pool{New: func() any { return new(localQueue) }}

// queue returns the local FIFO of a lock key, counting the caller in.
func (c *Client) queue(key string) *localQueue {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queues[key]
	if q == nil {
		q = localQueues.Get().(*localQueue)
		c.queues[key] = q
	}
	q.refs++
	return q
}

// hold counts a lease in q, a FIFO that its acquisition has counted in
// already.
func (c *Client) hold(q *localQueue) {
	c.mu.Lock()
	q.refs++
	c.mu.Unlock()
}

// unqueue counts a caller of queue (or hold) out, dropping the FIFO when
// nobody uses it.
func (c *Client) unqueue(key string, q *localQueue) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if q.refs--; q.refs == 0 {
		delete(c.queues, key)
		localQueues.Put(q)
	}
}

// lockLocal takes a's turn in the local FIFO a.q: at once, or for an
// acquisition that waits, once the goroutines ahead are done. It fails
// without a turn when one that does not wait finds the FIFO busy, when ctx
// ends, or when the Client is closed.
func (a *acquisition) lockLocal(ctx context.Context) error {
	if a.q.mu.TryLock() {
		return nil
	}
	if !a.wait {
		return fmt.Errorf("redislock: %q is held or awaited in this process: %w", a.s.name, lock.ErrNotAcquired)
	}
	a.contended(ctx)
	lctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(a.c.group.Context(), func() { cancel(errClosed) })
	defer stop()
	if err := a.q.mu.Lock(lctx); err != nil {
		if err := ctxerr.From(ctx); err != nil {
			return err
		}
		return errClosed
	}
	return nil
}
