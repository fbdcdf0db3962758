package lock

import (
	"context"
	"unsafe"

	"github.com/codomyrmex/concurrency/internal/race"
	"github.com/codomyrmex/concurrency/internal/waitq"
)

// A Mutex is a mutual exclusion lock whose Lock can be cancelled through a
// context. The zero value is an unlocked mutex. A Mutex must not be copied
// after first use.
//
// An uncontended Lock and Unlock are one compare-and-swap each. Once a
// goroutine has had to wait, the mutex is handed over in FIFO order: later
// callers queue behind the waiters instead of barging, so no waiter starves.
//
// As with sync.Mutex, a locked Mutex is not associated with a goroutine: one
// goroutine may Lock it and another Unlock it. In the terminology of the Go
// memory model, the n'th call to Unlock synchronizes before the m'th
// successful call to Lock for any n < m. A failed Lock or TryLock does not
// synchronize with anything.
type Mutex struct {
	_ noCopy
	q waitq.Queue
}

// Lock locks m, waiting in FIFO order while it is held. It returns nil when
// m is locked by the caller. If ctx is done first, including before the
// call, m is not locked and the error satisfies errors.Is(err, ctx.Err()).
// If it would have to wait behind as many waiters as SetMaxWaiters allows,
// it fails at once with a *TooManyWaitersError and m is not locked.
func (m *Mutex) Lock(ctx context.Context) error {
	if err := m.q.Acquire(ctx, 1, 1); err != nil {
		if err == waitq.ErrTooManyWaiters {
			return &TooManyWaitersError{Lock: "lock.Mutex", Max: m.q.MaxWaiters()}
		}
		return err
	}
	if race.Enabled {
		race.Acquire(unsafe.Pointer(m))
	}
	return nil
}

// SetMaxWaiters bounds the goroutines waiting in Lock: a Lock that would
// have to wait behind n waiters fails at once with a *TooManyWaitersError
// (which wraps ErrTooManyWaiters), holding nothing. n ≤ 0 removes the bound (the default). It may be called
// at any time, also concurrently with Lock; waiters already queued are not
// affected, even when there are more of them than n. TryLock never waits
// and is not affected.
//
// A bound guards against unbounded growth of the queue when callers arrive
// faster than the mutex is released: the excess fails fast instead of
// piling up.
func (m *Mutex) SetMaxWaiters(n int) {
	m.q.SetMaxWaiters(n)
}

// TryLock locks m if it is free and no goroutine is waiting for it, and
// reports whether it did. It never waits and never takes m from a waiter.
func (m *Mutex) TryLock() bool {
	ok := m.q.TryAcquire(1, 1)
	if race.Enabled && ok {
		race.Acquire(unsafe.Pointer(m))
	}
	return ok
}

// Unlock unlocks m, handing it to the longest waiter if there is one. It
// panics if m is not locked.
func (m *Mutex) Unlock() {
	if race.Enabled {
		race.Release(unsafe.Pointer(m))
	}
	if !m.q.Release(1, 1) {
		panic("lock: Unlock of unlocked Mutex")
	}
}

// Locked reports whether m is locked at the moment of the call. It is meant
// for tests and introspection; the answer may be stale by the time it is
// used.
func (m *Mutex) Locked() bool { return m.q.Used() != 0 }

// Waiters returns the number of goroutines waiting in Lock.
func (m *Mutex) Waiters() int { return m.q.Waiters() }

// noCopy lets go vet's copylocks check report copies of a lock.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
