package waitq

import (
	"sync"
	"testing"
	"time"
)

// A Waiter is what one blocked call parks on: its channel receives exactly
// one value per wait, sent by whoever grants or fails the call. (lock.Mutex
// parks a whole queue of calls on one Waiter, one value per handover.)
// Waiters are reused across waits, so that a contended wait allocates
// nothing. A Waiter must be freed only after its values were received, or
// once it is certain that none will be sent (the waiter was withdrawn
// before anyone could pick it), so a stale value never reaches its next
// user.
//
// Prev and Next are for the owner to keep waiters in an intrusive list;
// they are nil in a new Waiter, and Free clears them.
type Waiter struct {
	C          chan uint8 // buffered(1)
	Prev, Next *Waiter
	pooled     bool // made outside any testing/synctest bubble
}

var waiters = sync.Pool{New: func() any { return &Waiter{C: make(chan uint8, 1), pooled: true} }}

// NewWaiter returns a Waiter for one wait (or, for lock.Mutex, one queue).
//
// A channel made outside a testing/synctest bubble must not be used inside
// one (a goroutine of a bubble blocked on it is not durably blocked, so
// synctest.Wait would hang), and one made inside must not be used outside
// (the runtime treats that as a fatal error). So in a bubble, and only
// there, NewWaiter returns a fresh Waiter that is never pooled. Only test
// binaries look for bubbles.
func NewWaiter() *Waiter { return newWaiter(inBubble()) }

// newWaiter is NewWaiter for a caller that knows whether its waiters run
// in a bubble: a Queue asks once per queue (see Queue.bubbled).
func newWaiter(bubbled bool) *Waiter {
	if bubbled {
		return &Waiter{C: make(chan uint8, 1)}
	}
	return waiters.Get().(*Waiter)
}

// Wait blocks until w receives its value, returning it and true, or until
// done is closed, returning false. A nil done is never closed.
func (w *Waiter) Wait(done <-chan struct{}) (uint8, bool) {
	if done == nil {
		return <-w.C, true
	}
	select {
	case r := <-w.C:
		return r, true
	case <-done:
		return 0, false
	}
}

// Free gives w back for reuse. Its value must have been received, or be
// certain never to come.
func (w *Waiter) Free() {
	if w.pooled {
		w.Prev, w.Next = nil, nil
		waiters.Put(w)
	}
}

// inBubble reports whether the calling goroutine runs in a testing/synctest
// bubble. There time.Now reads the bubble's fake clock, which has no
// monotonic reading, so stripping it with Round(0) changes nothing;
// outside a bubble time.Now always has one. Outside test binaries there
// are no bubbles, and the clock is not read. TestInBubble fails if a Go
// release changes this.
func inBubble() bool {
	if !testing.Testing() {
		return false
	}
	t := time.Now()
	return t == t.Round(0)
}
