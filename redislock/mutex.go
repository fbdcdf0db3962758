package redislock

import (
	"context"
	"sync"

	"github.com/codomyrmex/concurrency/lock"
)

// A Mutex is a lock.Locker over one Redis lock: Lock obtains a lease and
// Unlock releases it. Unlike Obtain, Lock's context bounds only the wait;
// the lease lasts until Unlock (renewed by its watchdog unless the options
// say otherwise), and its values are kept for the lease's Context.
//
// As with sync.Mutex, a locked Mutex is not tied to a goroutine, and Lock
// blocks while the Mutex is locked. Use Lease to reach the fencing token,
// the Done channel and the lease's context of the current holding.
type Mutex struct {
	c    *Client
	name string
	opts []Option

	mu    sync.Mutex
	lease *Lease
}

var _ lock.Locker = (*Mutex)(nil)

// NewMutex returns a Mutex for the lock called name. The options override
// the Client's defaults; a bad name or option is reported by Lock.
func (c *Client) NewMutex(name string, opts ...Option) *Mutex {
	return &Mutex{c: c, name: name, opts: opts}
}

// Lock obtains the lock, waiting while it is held. It returns nil if and
// only if the lock is now held through m; otherwise nothing is held, and if
// ctx ended the wait the error satisfies errors.Is(err, ctx.Err()). See
// Client.Obtain for the errors.
func (m *Mutex) Lock(ctx context.Context) error {
	l, err := m.c.obtain(ctx, context.WithoutCancel(ctx), m.name, true, m.opts)
	if err != nil {
		return err
	}
	m.set(l)
	return nil
}

// TryLock obtains the lock if it is free, without waiting. It returns an
// error wrapping lock.ErrNotAcquired if it is held. See Client.TryObtain.
func (m *Mutex) TryLock(ctx context.Context) error {
	l, err := m.c.obtain(ctx, context.WithoutCancel(ctx), m.name, false, m.opts)
	if err != nil {
		return err
	}
	m.set(l)
	return nil
}

func (m *Mutex) set(l *Lease) {
	m.mu.Lock()
	m.lease = l
	m.mu.Unlock()
}

// Unlock releases the lock, waiting at most a second for Redis; if that
// fails, the key expires with its TTL. It panics if m is not locked. A
// caller that needs to know whether the lock was held throughout should
// call Release on Lease() instead of Unlock.
func (m *Mutex) Unlock() {
	m.mu.Lock()
	l := m.lease
	m.lease = nil
	m.mu.Unlock()
	if l == nil {
		panic("redislock: unlock of unlocked Mutex")
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	defer cancel()
	_ = l.Release(ctx)
}

// Lease returns the lease of the current holding, or nil if m is not
// locked.
func (m *Mutex) Lease() *Lease {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lease
}
