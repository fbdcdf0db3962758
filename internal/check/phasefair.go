package check

import (
	"fmt"
	"slices"
)

// A PhaseFair is the sequential specification of rw.RWMutex, a phase-fair
// reader/writer lock. Writers take turns in arrival order; the writer whose
// turn it is is announced: it waits for the readers inside, then holds.
// A reader enters at once unless a writer is announced (so it overtakes
// writers waiting for their turn); otherwise it waits in that writer's
// write phase, which ends when the writer unlocks, downgrades or gives up
// waiting for readers. At the end of a phase every reader that waited in
// it enters, then the next writer is announced. Cancelling a reader, or a
// writer waiting for its turn, changes nothing for the others. Waiters
// (bounded by MaxWaiters) are the readers waiting in a phase, the writers
// waiting for their turn, and the announced writer while readers are
// inside.
//
// It is not safe for concurrent use: a test drives it step by step
// alongside the real lock (see [DrivePhaseFair]).
type PhaseFair struct {
	MaxWaiters int // ≤ 0 for no bound

	readers   int   // read locks held
	writer    int   // the announced writer, if it waits for readers
	announced bool  // a write phase is under way
	holding   bool  // and its writer holds the lock
	blocked   []int // readers waiting in the current write phase
	turns     []int // writers waiting for their turn, in order
	results   map[int]Result
}

// RLock records reader id asking for a read lock and returns its result,
// Waiting if it waits in the current write phase.
func (m *PhaseFair) RLock(id int) Result {
	switch {
	case !m.announced:
		m.readers++
		return m.set(id, Granted)
	case m.full():
		return m.set(id, Refused)
	}
	m.blocked = append(m.blocked, id)
	return m.set(id, Waiting)
}

// Lock records writer id asking for the write lock and returns its result,
// Waiting if it waits for its turn or for the readers inside.
func (m *PhaseFair) Lock(id int) Result {
	switch {
	case !m.announced: // nobody waits for a turn either
		m.set(id, Waiting)
		m.announce(id)
		return m.results[id]
	case m.full():
		return m.set(id, Refused)
	}
	m.turns = append(m.turns, id)
	return m.set(id, Waiting)
}

// TryRLock reports whether a read lock can be taken without waiting, and
// takes it.
func (m *PhaseFair) TryRLock() bool {
	if m.announced {
		return false
	}
	m.readers++
	return true
}

// TryLock reports whether the write lock can be taken without waiting, and
// takes it.
func (m *PhaseFair) TryLock() bool {
	if m.announced || m.readers > 0 {
		return false
	}
	m.announced, m.holding = true, true
	return true
}

// Cancel ends the wait of id if it is still waiting. An announced writer
// that gives up ends its write phase.
func (m *PhaseFair) Cancel(id int) {
	if r, ok := m.results[id]; !ok || r != Waiting {
		return
	}
	m.results[id] = Cancelled
	switch {
	case m.announced && !m.holding && m.writer == id:
		m.endPhase()
	case slices.Contains(m.blocked, id):
		m.blocked = slices.DeleteFunc(m.blocked, func(r int) bool { return r == id })
	default:
		m.turns = slices.DeleteFunc(m.turns, func(w int) bool { return w == id })
	}
}

// RUnlock releases one read lock; the announced writer holds once the last
// reader is out.
func (m *PhaseFair) RUnlock() {
	if m.readers == 0 {
		panic("check: PhaseFair RUnlock without readers")
	}
	m.readers--
	if m.announced && !m.holding && m.readers == 0 {
		m.holding = true
		m.results[m.writer] = Granted
	}
}

// Unlock releases the write lock, ending its phase.
func (m *PhaseFair) Unlock() {
	if !m.holding {
		panic("check: PhaseFair Unlock without a writer")
	}
	m.endPhase()
}

// Downgrade turns the write lock into a read lock, ending its phase.
func (m *PhaseFair) Downgrade() {
	if !m.holding {
		panic("check: PhaseFair Downgrade without a writer")
	}
	m.readers++
	m.endPhase()
}

// endPhase ends the current write phase: the readers waiting in it enter,
// then the next writer, if any, is announced.
func (m *PhaseFair) endPhase() {
	m.announced, m.holding = false, false
	for _, id := range m.blocked {
		m.results[id] = Granted
	}
	m.readers += len(m.blocked)
	m.blocked = nil
	if len(m.turns) > 0 {
		next := m.turns[0]
		m.turns = m.turns[1:]
		m.announce(next)
	}
}

// announce gives writer id, waiting, its turn.
func (m *PhaseFair) announce(id int) {
	m.writer, m.announced = id, true
	if m.readers == 0 {
		m.holding = true
		m.results[id] = Granted
	}
}

func (m *PhaseFair) full() bool { return m.MaxWaiters > 0 && m.Waiters() >= m.MaxWaiters }

func (m *PhaseFair) set(id int, r Result) Result {
	if m.results == nil {
		m.results = map[int]Result{}
	}
	if _, ok := m.results[id]; ok {
		panic(fmt.Sprintf("check: PhaseFair call %d made twice", id))
	}
	m.results[id] = r
	return r
}

// Result returns what became of call id so far.
func (m *PhaseFair) Result(id int) Result { return m.results[id] }

// Readers returns the number of read locks held.
func (m *PhaseFair) Readers() int { return m.readers }

// Writing reports whether a writer holds the lock.
func (m *PhaseFair) Writing() bool { return m.holding }

// Waiters returns the number of calls waiting.
func (m *PhaseFair) Waiters() int {
	n := len(m.blocked) + len(m.turns)
	if m.announced && !m.holding {
		n++
	}
	return n
}

// Waiting returns the ids of the calls waiting: the announced writer if it
// waits for readers, the readers waiting in its phase, then the writers
// waiting for their turn.
func (m *PhaseFair) Waiting() []int {
	var ids []int
	if m.announced && !m.holding {
		ids = append(ids, m.writer)
	}
	ids = append(ids, m.blocked...)
	return append(ids, m.turns...)
}
