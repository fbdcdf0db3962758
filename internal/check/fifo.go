package check

import (
	"fmt"
	"maps"
	"slices"
)

// A Result is what became of one acquire in a [FIFO] model.
type Result uint8

// Results of an acquire.
const (
	Waiting   Result = iota // queued, not yet decided
	Granted                 // holds its weight
	Cancelled               // its context ended while it was queued
	Shut                    // the queue was closed before it was granted
	Oversized               // its weight exceeds the capacity
	Refused                 // the queue already had MaxWaiters waiters
)

func (r Result) String() string {
	switch r {
	case Waiting:
		return "waiting"
	case Granted:
		return "granted"
	case Cancelled:
		return "cancelled"
	case Shut:
		return "closed"
	case Oversized:
		return "too large"
	case Refused:
		return "too many waiters"
	}
	return fmt.Sprintf("Result(%d)", uint8(r))
}

// A FIFO is the sequential specification of the waiter queue shared by
// lock.Mutex and sem.Weighted: weights out of a capacity,
// granted strictly in arrival order with head-of-line blocking (a waiter
// that does not fit stops everyone behind it), never barged by TryAcquire.
// It is not safe for concurrent use: a test drives it step by step
// alongside the real primitive (see [DriveFIFO]).
type FIFO struct {
	Capacity   int64
	MaxWaiters int // 0 for no bound

	used    int64
	closed  bool
	queue   []fifoWaiter
	results map[int]Result
}

type fifoWaiter struct {
	id int
	n  int64
}

// Acquire records waiter id asking for n and returns its result, Waiting if
// it was queued.
func (m *FIFO) Acquire(id int, n int64) Result {
	r := m.admit(n)
	if m.results == nil {
		m.results = map[int]Result{}
	}
	m.results[id] = r
	if r == Waiting {
		m.queue = append(m.queue, fifoWaiter{id, n})
	}
	return r
}

func (m *FIFO) admit(n int64) Result {
	switch {
	case m.closed:
		return Shut
	case n == 0:
		return Granted
	case n > m.Capacity:
		return Oversized
	case len(m.queue) == 0 && m.used+n <= m.Capacity:
		m.used += n
		return Granted
	case m.MaxWaiters > 0 && len(m.queue) >= m.MaxWaiters:
		return Refused
	}
	return Waiting
}

// TryAcquire reports whether n can be taken without waiting, and takes it.
func (m *FIFO) TryAcquire(n int64) bool {
	if m.closed || len(m.queue) > 0 || m.used+n > m.Capacity {
		return false
	}
	m.used += n
	return true
}

// Cancel ends the wait of waiter id if it is still queued.
func (m *FIFO) Cancel(id int) {
	for i, w := range m.queue {
		if w.id == id {
			m.queue = append(m.queue[:i], m.queue[i+1:]...)
			m.results[id] = Cancelled
			m.grant()
			return
		}
	}
}

// Release returns n of the weight held and grants the waiters that now fit.
func (m *FIFO) Release(n int64) {
	if n > m.used {
		panic(fmt.Sprintf("check: FIFO release of %d with %d held", n, m.used))
	}
	m.used -= n
	m.grant()
}

// Resize sets the capacity, fails the waiters that can no longer fit and
// grants those that now do. Weight held is never revoked.
func (m *FIFO) Resize(capacity int64) {
	m.Capacity = capacity
	q := m.queue[:0]
	for _, w := range m.queue {
		if w.n > capacity {
			m.results[w.id] = Oversized
			continue
		}
		q = append(q, w)
	}
	m.queue = q
	m.grant()
}

// Close fails every queued waiter and every later acquire.
func (m *FIFO) Close() {
	m.closed = true
	for _, w := range m.queue {
		m.results[w.id] = Shut
	}
	m.queue = nil
}

// grant hands the capacity to the front of the queue while it fits.
func (m *FIFO) grant() {
	for len(m.queue) > 0 && m.used+m.queue[0].n <= m.Capacity {
		m.used += m.queue[0].n
		m.results[m.queue[0].id] = Granted
		m.queue = m.queue[1:]
	}
}

// Clone returns an independent copy of m.
func (m *FIFO) Clone() FIFO {
	c := *m
	c.queue = slices.Clone(m.queue)
	c.results = maps.Clone(m.results)
	return c
}

// Result returns what became of waiter id so far.
func (m *FIFO) Result(id int) Result { return m.results[id] }

// Waiters returns the number of queued waiters.
func (m *FIFO) Waiters() int { return len(m.queue) }

// Used returns the weight held.
func (m *FIFO) Used() int64 { return m.used }

// Queued returns the ids of the queued waiters, front first.
func (m *FIFO) Queued() []int {
	ids := make([]int, len(m.queue))
	for i, w := range m.queue {
		ids[i] = w.id
	}
	return ids
}
