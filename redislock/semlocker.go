package redislock

import (
	"context"

	"github.com/codomyrmex/concurrency/internal/lease"
	"github.com/codomyrmex/concurrency/lock"
)

// A SemaphoreLocker is a lock.Locker that holds a fixed weight of a
// Semaphore: Lock acquires it and Unlock (or Release) releases it. As
// with Mutex, Lock's context bounds only the wait, and the lease lasts
// until Unlock.
//
// A SemaphoreLocker holds one lease at a time: like a sync.Mutex, it is
// locked or not, and Lock waits, in FIFO order, while it is locked. For
// several holders of one semaphore, use a SemaphoreLocker each (they may
// be of one Client) or Acquire.
type SemaphoreLocker struct {
	s    *Semaphore
	n    int64
	core lease.Mutex[*Lease]
}

var _ lock.Locker = (*SemaphoreLocker)(nil)

// Locker returns a new SemaphoreLocker that takes n of s's weight. A bad
// weight is reported by Lock, as Acquire reports it.
func (s *Semaphore) Locker(n int64) *SemaphoreLocker {
	l := &SemaphoreLocker{s: s, n: n}
	l.core.InitTurn(backend, "SemaphoreLocker", s.t.name, nil)
	return l
}

// Lock acquires the locker's weight, waiting while the locker is locked
// and then while the weight does not fit (see Semaphore.Acquire). It
// returns nil if and only if the weight is now held through l; otherwise
// nothing is held, and if ctx ended the wait the error satisfies
// errors.Is(err, ctx.Err()).
func (l *SemaphoreLocker) Lock(ctx context.Context) error {
	return l.core.Lock(ctx, l.obtain(true))
}

// TryLock acquires the locker's weight if it fits and nobody waits,
// without waiting. It returns an error wrapping lock.ErrNotAcquired if
// the weight does not fit or l is locked. See Semaphore.TryAcquire.
func (l *SemaphoreLocker) TryLock(ctx context.Context) error {
	return l.core.TryLock(ctx, l.obtain(false))
}

func (l *SemaphoreLocker) obtain(wait bool) func(context.Context) (*Lease, error) {
	return func(ctx context.Context) (*Lease, error) {
		return l.s.take(ctx, context.WithoutCancel(ctx), l.n, wait)
	}
}

// Unlock releases the weight, waiting at most a second for Redis; if that
// fails, the lease expires with its TTL. A caller that needs to know
// whether the weight was held throughout should call Release instead.
//
// Unlocking a SemaphoreLocker that is not locked is a bug in the caller:
// Unlock panics with "redislock: Unlock of unlocked SemaphoreLocker", as
// Mutex.Unlock does.
func (l *SemaphoreLocker) Unlock() { l.core.Unlock((*Lease).unlock) }

// Release unlocks l, releasing its lease as Lease.Release does under ctx,
// and returns its error; if l is not locked, it returns an error wrapping
// lock.ErrNotHeld.
func (l *SemaphoreLocker) Release(ctx context.Context) error { return l.core.Release(ctx) }

// Done returns the Done channel of the current lease, or a closed channel
// if l is not locked.
func (l *SemaphoreLocker) Done() <-chan struct{} { return l.core.Done() }

// Lease returns the lease of the current holding, or nil if l is not
// locked.
func (l *SemaphoreLocker) Lease() *Lease { return l.core.Lease() }

// LockKind returns "redissemaphore", the lock.kind under which the
// semaphore records its telemetry.
func (l *SemaphoreLocker) LockKind() string { return kindSemaphore }
