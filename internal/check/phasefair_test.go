package check_test

import (
	"slices"
	"testing"

	"github.com/codomyrmex/concurrency/internal/check"
)

// TestPhaseFairModel walks the model through what may overtake what: a
// reader overtakes a writer waiting for its turn but not an announced one,
// readers of a phase enter before the next writer, an announced writer
// that gives up admits its phase's readers, and the waiter bound.
func TestPhaseFairModel(t *testing.T) {
	m := check.PhaseFair{MaxWaiters: 4}
	call := func(id int, write bool, r check.Result) {
		t.Helper()
		got := m.RLock
		if write {
			got = m.Lock
		}
		if g := got(id); g != r {
			t.Fatalf("call %d (write %v) = %v, want %v", id, write, g, r)
		}
	}
	want := func(id int, r check.Result) {
		t.Helper()
		if got := m.Result(id); got != r {
			t.Fatalf("call %d is %v, want %v", id, got, r)
		}
	}
	call(0, false, check.Granted)
	call(1, true, check.Waiting) // announced: waits for reader 0
	call(2, false, check.Waiting)
	call(3, true, check.Waiting) // waits for its turn
	if m.TryRLock() || m.TryLock() {
		t.Fatal("a try entered an announced writer's phase")
	}
	if w := m.Waiting(); !slices.Equal(w, []int{1, 2, 3}) || m.Waiters() != 3 {
		t.Fatalf("waiting %v, %d waiters", w, m.Waiters())
	}
	m.RUnlock() // reader 0 leaves: writer 1 holds
	want(1, check.Granted)
	call(4, false, check.Waiting)
	call(5, false, check.Waiting)
	call(6, false, check.Refused) // 2, 4, 5 and writer 3 wait
	m.Cancel(4)
	want(4, check.Cancelled)
	m.Unlock() // readers 2 and 5 enter, then writer 3 is announced
	want(2, check.Granted)
	want(5, check.Granted)
	want(3, check.Waiting)
	if m.Readers() != 2 || m.Writing() {
		t.Fatalf("readers %d, writing %v", m.Readers(), m.Writing())
	}
	call(7, false, check.Waiting)
	m.Cancel(3) // announced writer gives up: reader 7 enters
	want(3, check.Cancelled)
	want(7, check.Granted)
	call(8, true, check.Waiting) // announced at once, behind 3 readers
	for range 3 {
		m.RUnlock()
	}
	want(8, check.Granted)
	call(9, true, check.Waiting)
	m.Downgrade() // writer 8 reads; writer 9 is announced and waits for it
	want(9, check.Waiting)
	if m.Readers() != 1 || m.Waiters() != 1 {
		t.Fatalf("after Downgrade: readers %d, waiters %d", m.Readers(), m.Waiters())
	}
	m.RUnlock()
	want(9, check.Granted)
	m.Unlock()
	if !m.TryRLock() || m.TryLock() {
		t.Fatal("a free lock refused a reader or let a writer in with a reader")
	}
}
