package check_test

import (
	"slices"
	"testing"

	"github.com/codomyrmex/concurrency/internal/check"
)

// TestFIFOModel walks the model through head-of-line blocking, a
// cancellation that unblocks, Resize and Close.
func TestFIFOModel(t *testing.T) {
	m := check.FIFO{Capacity: 3, MaxWaiters: 2}
	acquire := func(id int, n int64, r check.Result) {
		t.Helper()
		if got := m.Acquire(id, n); got != r {
			t.Fatalf("Acquire(%d, %d) = %v, want %v", id, n, got, r)
		}
	}
	want := func(id int, r check.Result) {
		t.Helper()
		if got := m.Result(id); got != r {
			t.Fatalf("acquire %d is %v, want %v", id, got, r)
		}
	}
	acquire(0, 2, check.Granted)
	acquire(1, 2, check.Waiting)
	acquire(2, 1, check.Waiting) // fits, but queued behind 1
	acquire(3, 1, check.Refused)
	acquire(4, 4, check.Oversized)
	acquire(5, 0, check.Granted)
	if m.TryAcquire(1) {
		t.Fatal("TryAcquire barged past the queue")
	}
	m.Cancel(1) // 2 now fits
	want(1, check.Cancelled)
	want(2, check.Granted)
	acquire(6, 3, check.Waiting)
	m.Resize(2) // 6 can never fit
	want(6, check.Oversized)
	acquire(7, 1, check.Waiting)
	m.Release(2)
	want(7, check.Granted)
	acquire(8, 2, check.Waiting)
	if !slices.Equal(m.Queued(), []int{8}) || m.Waiters() != 1 || m.Used() != 2 {
		t.Fatalf("queue %v, used %d", m.Queued(), m.Used())
	}
	m.Close()
	want(8, check.Shut)
	acquire(9, 0, check.Shut)
	m.Release(2)
	if m.Used() != 0 || m.TryAcquire(1) {
		t.Fatalf("after Close and Release: used %d, TryAcquire succeeded", m.Used())
	}
}
