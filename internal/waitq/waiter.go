package waitq

import (
	"sync"
	"testing"
	"time"
)

// A waiter is the channel on which one blocked Acquire receives its single
// result. Waiters are reused across waits, so that a contended wait
// allocates nothing: a waiter goes back to the pool only after its result
// has been received, or once it is known that none will be sent (it was
// cancelled while still queued), so a stale result can never reach its
// next user.
type waiter struct {
	ch     chan uint8 // buffered(1)
	pooled bool       // false inside a testing/synctest bubble
}

var waiters sync.Pool // of chan uint8, all made outside any bubble

// getWaiter returns a waiter for one wait.
//
// A channel made outside a testing/synctest bubble must not be used inside
// one (the runtime treats it as a fatal error) and a goroutine of a bubble
// blocked on such a channel is not durably blocked, so synctest.Wait would
// hang; a channel made inside must not be used outside. So in a bubble, and
// only there, every wait makes a fresh channel that is never pooled. Only
// test binaries check for bubbles.
func getWaiter() waiter {
	if testing.Testing() && inBubble() {
		return waiter{ch: make(chan uint8, 1)}
	}
	if ch, ok := waiters.Get().(chan uint8); ok {
		return waiter{ch: ch, pooled: true}
	}
	return waiter{ch: make(chan uint8, 1), pooled: true}
}

// receive waits for w's result, then gives w back.
func (w waiter) receive() uint8 {
	r := <-w.ch
	w.put()
	return r
}

// put gives w back for reuse. Its result must have been received, or be
// known never to come.
func (w waiter) put() {
	if w.pooled {
		waiters.Put(w.ch)
	}
}

// inBubble reports whether the calling goroutine runs in a testing/synctest
// bubble. There, time.Now carries no monotonic clock reading (time is
// fake), so stripping the reading changes nothing; outside, it always does.
// TestInBubble fails if a Go release changes this.
func inBubble() bool {
	t := time.Now()
	return t == t.Round(0)
}
