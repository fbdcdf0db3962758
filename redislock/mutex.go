package redislock

import (
	"context"
	"time"

	"github.com/codomyrmex/concurrency/internal/lease"
	"github.com/codomyrmex/concurrency/lock"
)

// A Mutex is a lock.Locker over one Redis lock: Lock obtains a lease and
// Unlock (or Release) releases it. Unlike Obtain, Lock's context bounds only
// the wait; the lease lasts until Unlock (renewed by its watchdog unless the
// options say otherwise), and its values are kept for the lease's Context.
//
// As with sync.Mutex, a locked Mutex is not tied to a goroutine, and Lock
// blocks while the Mutex is locked. Use Lease to reach the fencing token
// and the lease's context of the current holding.
type Mutex struct {
	c    *Client
	spec spec                // valid unless NewMutex found an error
	core lease.Mutex[*Lease] // the current lease, and NewMutex's error
}

var _ lock.Locker = (*Mutex)(nil)

// NewMutex returns a Mutex for the lock called name. The options override
// the Client's defaults; a bad name or option is reported by Lock.
func (c *Client) NewMutex(name string, opts ...Option) *Mutex {
	s, err := c.spec(name, opts)
	m := &Mutex{c: c, spec: s}
	m.core.Init(backend, s.name, err)
	return m
}

// Lock obtains the lock, waiting while it is held. It returns nil if and
// only if the lock is now held through m; otherwise nothing is held, and if
// ctx ended the wait the error satisfies errors.Is(err, ctx.Err()). See
// Client.Obtain for the errors.
func (m *Mutex) Lock(ctx context.Context) error {
	return m.lock(ctx, true)
}

// TryLock obtains the lock if it is free, without waiting. It returns an
// error wrapping lock.ErrNotAcquired if it is held. See Client.TryObtain.
func (m *Mutex) TryLock(ctx context.Context) error {
	return m.lock(ctx, false)
}

func (m *Mutex) lock(ctx context.Context, wait bool) error {
	return m.core.Lock(ctx, func(ctx context.Context) (*Lease, error) {
		return m.c.acquire(ctx, context.WithoutCancel(ctx), &m.spec, wait)
	})
}

// Unlock releases the lock, waiting at most a second for Redis; if that
// fails, the key expires with its TTL. A caller that needs to know whether
// the lock was held throughout should call Release instead.
//
// As with sync.Mutex, unlocking a Mutex that is not locked (never locked,
// or unlocked or released already) is a bug in the caller: Unlock panics
// with "redislock: Unlock of unlocked Mutex". It does not panic for a lock
// that was lost while locked: that is not the caller's fault, and Unlock
// releases what is left of it. Release reports an unlocked Mutex as an
// error instead.
func (m *Mutex) Unlock() { m.core.Unlock((*Lease).unlock) }

// unlock releases l for Mutex.Unlock, for at most lease.CleanupTimeout.
func (l *Lease) unlock() {
	_ = l.Release(deadlineCtx{context.Background(), time.Now().Add(lease.CleanupTimeout)})
}

// Release unlocks m, releasing the lock as Lease.Release does under ctx,
// and returns its error: nil if the lease was held until released, an
// error wrapping lock.ErrNotHeld (and lock.ErrLockLost if the lease was
// lost) if it was not, or a transport or context error. m is unlocked in
// every case. If m is not locked, Release returns an error wrapping
// lock.ErrNotHeld.
func (m *Mutex) Release(ctx context.Context) error { return m.core.Release(ctx) }

// Done returns the Done channel of the current lease, which is closed when
// the lease ends (see Lease.Done), or a closed channel if m is not locked.
func (m *Mutex) Done() <-chan struct{} { return m.core.Done() }

// Lease returns the lease of the current holding, or nil if m is not
// locked.
func (m *Mutex) Lease() *Lease { return m.core.Lease() }

// deadlineCtx is a context with a deadline that cannot be cancelled, for
// the calls the package makes on its own behalf: interruptible runs them
// inline, and go-redis bounds them by the deadline on the socket
// (ContextTimeoutEnabled, which New requires), without a timer or
// goroutine. Its Done is nil and its Err nil, even after the deadline.
type deadlineCtx struct {
	context.Context // with neither deadline nor cancellation
	deadline        time.Time
}

func (c deadlineCtx) Deadline() (time.Time, bool) { return c.deadline, true }
