package rw

import (
	"sync"
	"testing"
	"time"
)

// A waiter is what a blocked RLock, or a writer waiting for the readers
// inside, parks on. Its channel receives exactly one value per wait, sent
// by whoever admits the waiter; a waiter goes back to the pool only after
// that value was received, or when it was taken back before it could be
// sent, so a pooled waiter's channel is always empty.
type waiter struct {
	ch         chan struct{} // capacity 1
	prev, next *waiter       // in a waiterList
	pooled     bool          // made outside a synctest bubble: may be reused
}

var waiters = sync.Pool{New: func() any { return &waiter{ch: make(chan struct{}, 1), pooled: true} }}

// newWaiter returns a waiter for one wait: a pooled one, so that waits
// allocate nothing, except inside a testing/synctest bubble. There it is a
// fresh one that is never pooled, as the bubble's rules ask: a channel made
// inside a bubble must not be used outside it (that is fatal), and a
// goroutine blocked on a channel made outside its bubble is not durably
// blocked (synctest.Wait would not return).
func newWaiter() *waiter {
	if inBubble() {
		return &waiter{ch: make(chan struct{}, 1)}
	}
	return waiters.Get().(*waiter)
}

// wait blocks until w receives its value, reporting true, or until done
// is closed, reporting false; a nil done is never closed.
func (w *waiter) wait(done <-chan struct{}) bool {
	if done == nil {
		<-w.ch
		return true
	}
	select {
	case <-w.ch:
		return true
	case <-done:
		return false
	}
}

// free returns w to the pool if it came from there. w's channel must be
// empty and nothing may send on it any more.
func (w *waiter) free() {
	if w.pooled {
		w.prev, w.next = nil, nil
		waiters.Put(w)
	}
}

// inBubble reports whether the calling goroutine runs in a testing/synctest
// bubble. There time.Now reads the bubble's fake clock, which has no
// monotonic reading, so that Round(0), which strips the monotonic reading,
// changes nothing; outside a bubble time.Now always has one. Outside test
// binaries there are no bubbles, and the clock is not read.
// TestInBubble fails if a Go release changes this.
func inBubble() bool {
	if !testing.Testing() {
		return false
	}
	t := time.Now()
	return t == t.Round(0)
}

// A waiterList is a doubly linked list of waiters, and its length.
type waiterList struct {
	head, tail *waiter
	n          int
}

func (l *waiterList) push(w *waiter) {
	w.prev, w.next = l.tail, nil
	if l.tail == nil {
		l.head = w
	} else {
		l.tail.next = w
	}
	l.tail = w
	l.n++
}

func (l *waiterList) remove(w *waiter) {
	if w.prev == nil {
		l.head = w.next
	} else {
		w.prev.next = w.next
	}
	if w.next == nil {
		l.tail = w.prev
	} else {
		w.next.prev = w.prev
	}
	l.n--
}

// take empties l and returns its first waiter, from which the others
// follow by next.
func (l *waiterList) take() *waiter {
	first := l.head
	*l = waiterList{}
	return first
}

// wake sends each waiter from first on, following next, its value.
func wake(first *waiter) {
	for w := first; w != nil; {
		next := w.next // w may be reused once it has its value
		w.ch <- struct{}{}
		w = next
	}
}
