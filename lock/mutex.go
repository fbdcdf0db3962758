package lock

import (
	"context"
	"runtime"
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
// goroutine has had to wait, the mutex is handed over in FIFO order, that
// in which the waiters reached its queue: later callers queue behind them
// instead of barging, so no waiter starves.
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
// flight. A value is not addressed to anyone: whoever receives it first
// owns the mutex, and a waiter that leaves takes one off waiters whether
// or not it was the one an Unlock counted off. A queue is given up only
// when nobody is left in it, so nobody is left on its channel; the next
// queue makes or reuses one in the context of its first waiter (see
// waitq.NewWaiter and the package documentation on testing/synctest).
//
// The state word's atomics and the values on the queue's channel order
// callers that the mutex does not order (a failed TryLock and the Unlock
// it saw, a Lock that fails after it was handed the mutex), so the race
// detector is told to ignore them, as package sync does; Lock and Unlock
// state the real edge with internal/race. The queue's pointer, start and
// pool stay visible: they only order goroutines that wait in one queue.

// Lock locks m, waiting in FIFO order while it is held. It returns nil when
// m is locked by the caller. If ctx is done first, including before the
// call, m is not locked and the error satisfies errors.Is(err, ctx.Err()).
// If it would have to wait behind as many waiters as SetMaxWaiters allows,
// it fails at once with a *TooManyWaitersError and m is not locked.
func (m *Mutex) Lock(ctx context.Context) error {
	if m.load() != 0 || ctx.Err() != nil || !m.cas(0, lockedBit) {
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
		s := m.load()
		switch {
		case s&lockedBit == 0: // free, so no queue
			if m.cas(s, lockedBit) {
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
			if m.cas(s, s+oneWaiter) {
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
	s := m.load()
	if s&lockedBit == 0 || s&queueBit != 0 {
		return nil
	}
	// With the mutex locked and no queue, only a free can change state
	// now: waiters need a queue, and queues are started under start.
	w := waitq.NewWaiter()
	m.queue.Store(w)
	if !m.cas(s, s|queueBit+oneWaiter) {
		w.Free()
		return nil
	}
	return w
}

// wait receives the mutex from w, the channel of the queue the caller
// joined, or withdraws once ctx is done.
func (m *Mutex) wait(ctx context.Context, w *waitq.Waiter) error {
	done := ctx.Done()
	if receive(w, done) {
		// A ctx that ended meanwhile still fails the call (the
		// pre-check's promise holds for the whole wait), so the mutex
		// goes on to the next waiter.
		select {
		case <-done:
			m.unlock()
			return ctxerr.From(ctx)
		default:
			return nil
		}
	}
	for {
		// Leaving takes one waiter off the count; whoever is left
		// receives what is in flight.
		if s := m.load(); s>>waiterShift > 0 {
			if m.cas(s, s-oneWaiter) {
				return ctxerr.From(ctx)
			}
			continue
		}
		// Nobody in the queue is left uncounted, the caller included, so
		// a value is in flight to it: take it and hand it on. Until it
		// has arrived (the Unlock that sends it has counted off, and
		// sends next), a newcomer may count itself in and take it; the
		// caller then leaves in the newcomer's place.
		if testHookPicked != nil {
			testHookPicked()
		}
		if tryReceive(w) {
			m.unlock()
			return ctxerr.From(ctx)
		}
		runtime.Gosched()
	}
}

// testHookPicked, if set by a test, runs when a Lock whose ctx has ended
// finds every goroutine in its queue counted off.
var testHookPicked func()

// receive, tryReceive and trySend are the queue channel's operations,
// hidden from the race detector; see the comment above Lock.

// receive receives from w and reports true, or reports false once done
// is closed. A nil done is never closed.
func receive(w *waitq.Waiter, done <-chan struct{}) bool {
	if race.Enabled {
		race.Disable()
		defer race.Enable()
	}
	if done == nil {
		<-w.C
		return true
	}
	select {
	case <-w.C:
		return true
	case <-done:
		return false
	}
}

func tryReceive(w *waitq.Waiter) bool {
	if race.Enabled {
		race.Disable()
		defer race.Enable()
	}
	select {
	case <-w.C:
		return true
	default:
		return false
	}
}

func trySend(w *waitq.Waiter) bool {
	if race.Enabled {
		race.Disable()
		defer race.Enable()
	}
	select {
	case w.C <- 1:
		return true
	default:
		return false
	}
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
	ok := m.cas(0, lockedBit)
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
	if m.load() != lockedBit || !m.cas(lockedBit, 0) {
		m.unlock()
	}
}

// unlock is the slow path of Unlock, without its edge for the race
// detector; a Lock that fails with the mutex in hand hands it on with it.
func (m *Mutex) unlock() {
	for {
		s := m.load()
		switch {
		case s&lockedBit == 0:
			panic("lock: Unlock of unlocked Mutex")
		case s>>waiterShift == 0: // a queue with nobody in it: end it
			w := m.queue.Load()
			if m.cas(s, 0) {
				w.Free()
				return
			}
		default:
			if m.cas(s, s-oneWaiter) {
				if !trySend(m.queue.Load()) {
					// Only a second Unlock can find a value in
					// flight already. Nothing was sent, so the
					// count goes back.
					m.add(oneWaiter)
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
func (m *Mutex) Locked() bool { return m.load()&lockedBit != 0 }

// Waiters returns the number of goroutines waiting in Lock.
func (m *Mutex) Waiters() int { return int(m.load() >> waiterShift) }

// load, cas and add are the state word's atomics, hidden from the race
// detector; see the comment above Lock.

func (m *Mutex) load() int64 {
	if race.Enabled {
		race.Disable()
		defer race.Enable()
	}
	return m.state.Load()
}

func (m *Mutex) cas(old, new int64) bool {
	if race.Enabled {
		race.Disable()
		defer race.Enable()
	}
	return m.state.CompareAndSwap(old, new)
}

func (m *Mutex) add(delta int64) {
	if race.Enabled {
		race.Disable()
		defer race.Enable()
	}
	m.state.Add(delta)
}

// noCopy lets go vet's copylocks check report copies of a lock.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
