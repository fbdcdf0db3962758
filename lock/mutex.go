package lock

import (
	"context"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
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

	// state is waiters<<waiterShift | queueBit | lockedBit, where waiters
	// counts the goroutines queued in Lock that no Unlock has picked yet.
	// A free mutex has state 0.
	state atomic.Int64
	// queue is the channel on which the waiters of the current queue
	// receive the mutex, one value per handover, in the order in which
	// they came to receive (the runtime's own FIFO). It is valid while
	// queueBit is set, and replaced only by the goroutine that sets it,
	// under start.
	queue      atomic.Pointer[waitq.Waiter]
	start      sync.Mutex
	maxWaiters atomic.Int64 // see SetMaxWaiters; ≤ 0 means no bound
}

const (
	lockedBit   = 1 << 0
	queueBit    = 1 << 1 // queue holds the channel of a queue
	waiterShift = 2
	oneWaiter   = 1 << waiterShift
)

// A queue lives from its first waiter until Unlock finds it empty and
// frees the mutex. While it lives, goroutines that come to wait increment
// waiters and receive from its channel, and an Unlock that finds waiters
// decrements them and sends one value, keeping the mutex locked: the
// receiver owns it. So a value is in flight (sent and not yet received)
// only while the mutex is locked and nobody holds it, at most one at a
// time, and the goroutines in the queue number waiters plus the values in
// flight. A queue is given up only when that number is zero, so nobody is
// left on its channel, and the next queue makes or reuses one in the
// context of its first waiter, which keeps testing/synctest bubbles apart
// (see waitq.NewWaiter).

// Lock locks m, waiting in FIFO order while it is held. It returns nil when
// m is locked by the caller. If ctx is done first, including before the
// call, m is not locked and the error satisfies errors.Is(err, ctx.Err()).
// If it would have to wait behind as many waiters as SetMaxWaiters allows,
// it fails at once with a *TooManyWaitersError and m is not locked.
func (m *Mutex) Lock(ctx context.Context) error {
	if m.state.Load() != 0 || ctx.Err() != nil || !m.state.CompareAndSwap(0, lockedBit) {
		if err := m.lockSlow(ctx); err != nil {
			return err
		}
	}
	if race.Enabled {
		race.Acquire(unsafe.Pointer(m))
	}
	return nil
}

func (m *Mutex) lockSlow(ctx context.Context) error {
	if err := ctxerr.From(ctx); err != nil {
		return err
	}
	for {
		s := m.state.Load()
		switch {
		case s&lockedBit == 0: // free, so no queue
			if m.state.CompareAndSwap(s, lockedBit) {
				return nil
			}
		case s&queueBit == 0:
			if w := m.startQueue(); w != nil {
				return m.wait(ctx, w)
			}
		default:
			if max := m.maxWaiters.Load(); max > 0 && s>>waiterShift >= max {
				return &TooManyWaitersError{Lock: "lock.Mutex", Max: int(max)}
			}
			if m.state.CompareAndSwap(s, s+oneWaiter) {
				return m.wait(ctx, m.queue.Load())
			}
		}
	}
}

// startQueue makes the caller the first waiter of a new queue and returns
// its channel, or returns nil if the mutex was freed or another goroutine
// started a queue meanwhile.
func (m *Mutex) startQueue() *waitq.Waiter {
	m.start.Lock()
	defer m.start.Unlock()
	s := m.state.Load()
	if s&lockedBit == 0 || s&queueBit != 0 {
		return nil
	}
	// With the mutex locked and no queue, only a free can change state
	// now: waiters need a queue, and queues are started under start.
	w := waitq.NewWaiter()
	m.queue.Store(w)
	if !m.state.CompareAndSwap(s, s|queueBit+oneWaiter) {
		w.Free()
		return nil
	}
	return w
}

// wait receives the mutex from w, the channel of the queue the caller
// joined, or withdraws once ctx is done.
func (m *Mutex) wait(ctx context.Context, w *waitq.Waiter) error {
	done := ctx.Done()
	if done == nil { // a ctx that is never done
		<-w.C
		return nil
	}
	select {
	case <-w.C:
		// A ctx that ended meanwhile still fails the call (the
		// pre-check's promise holds for the whole wait), so the mutex
		// goes on to the next waiter.
		select {
		case <-done:
			m.Unlock()
			return ctxerr.From(ctx)
		default:
			return nil
		}
	case <-done:
	}
	for {
		s := m.state.Load()
		if s>>waiterShift == 0 {
			break
		}
		// Leaving takes one unpicked waiter off the count; whichever
		// goroutines are left receive what is in flight.
		if m.state.CompareAndSwap(s, s-oneWaiter) {
			return ctxerr.From(ctx)
		}
	}
	// Every goroutine left in the queue has been picked, the caller
	// included: a value is on its way to it. Take it and hand it on.
	<-w.C
	m.Unlock()
	return ctxerr.From(ctx)
}

// SetMaxWaiters bounds the goroutines waiting in Lock: a Lock that would
// have to wait behind n waiters fails at once with a *TooManyWaitersError
// (which wraps ErrTooManyWaiters), holding nothing. n ≤ 0 removes the
// bound (the default). It may be called at any time, also concurrently
// with Lock; waiters already queued are not affected, even when there are
// more of them than n. TryLock never waits and is not affected.
//
// A bound guards against unbounded growth of the queue when callers arrive
// faster than the mutex is released: the excess fails fast instead of
// piling up.
func (m *Mutex) SetMaxWaiters(n int) {
	m.maxWaiters.Store(int64(n))
}

// TryLock locks m if it is free and no goroutine is waiting for it, and
// reports whether it did. It never waits and never takes m from a waiter.
func (m *Mutex) TryLock() bool {
	ok := m.state.CompareAndSwap(0, lockedBit)
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
	// Loading first keeps a contended Unlock from paying for a failed
	// compare-and-swap on top of the one that counts.
	if m.state.Load() != lockedBit || !m.state.CompareAndSwap(lockedBit, 0) {
		m.unlockSlow()
	}
}

func (m *Mutex) unlockSlow() {
	for {
		s := m.state.Load()
		switch {
		case s&lockedBit == 0:
			panic("lock: Unlock of unlocked Mutex")
		case s>>waiterShift == 0: // a queue with nobody in it: end it
			w := m.queue.Load()
			if m.state.CompareAndSwap(s, 0) {
				w.Free()
				return
			}
		default:
			if m.state.CompareAndSwap(s, s-oneWaiter) {
				select {
				case m.queue.Load().C <- 1:
				default:
					// Only a second Unlock can find a value in
					// flight already.
					panic("lock: Unlock of unlocked Mutex")
				}
				return
			}
		}
	}
}

// Locked reports whether m is locked at the moment of the call. It is meant
// for tests and introspection; the answer may be stale by the time it is
// used.
func (m *Mutex) Locked() bool { return m.state.Load()&lockedBit != 0 }

// Waiters returns the number of goroutines waiting in Lock.
func (m *Mutex) Waiters() int { return int(m.state.Load() >> waiterShift) }

// noCopy lets go vet's copylocks check report copies of a lock.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
