package rw

import "github.com/codomyrmex/concurrency/internal/waitq"

// A waiterList is a doubly linked list of waiters, through their Prev and
// Next links, and its length.
type waiterList struct {
	head, tail *waitq.Waiter
	n          int
}

func (l *waiterList) push(w *waitq.Waiter) {
	w.Prev, w.Next = l.tail, nil
	if l.tail == nil {
		l.head = w
	} else {
		l.tail.Next = w
	}
	l.tail = w
	l.n++
}

func (l *waiterList) remove(w *waitq.Waiter) {
	if w.Prev == nil {
		l.head = w.Next
	} else {
		w.Prev.Next = w.Next
	}
	if w.Next == nil {
		l.tail = w.Prev
	} else {
		w.Next.Prev = w.Prev
	}
	l.n--
}

// take empties l and returns its first waiter, from which the others
// follow by Next.
func (l *waiterList) take() *waitq.Waiter {
	first := l.head
	*l = waiterList{}
	return first
}

// wake sends each waiter from first on, following Next, its value.
func wake(first *waitq.Waiter) {
	for w := first; w != nil; {
		next := w.Next // w may be reused once it has its value
		w.C <- 1
		w = next
	}
}
