package check_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/codomyrmex/concurrency/internal/check"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/sem"
)

const checkTimeout = 10 * time.Second

// op builds one operation of a handcrafted history; ret < 0 means it never
// returned (recorded as +infinity).
func op(client int, kind check.OpKind, weight, call, ret int64, out check.Outcome) porcupine.Operation {
	if ret < 0 {
		ret = math.MaxInt64
	}
	return porcupine.Operation{
		ClientId: client, Input: check.Input{Client: client, Kind: kind, Weight: weight},
		Call: call, Output: out, Return: ret,
	}
}

func acq(client int, call, ret int64, out check.Outcome) porcupine.Operation {
	return op(client, check.Acquire, 1, call, ret, out)
}

func rel(client int, call, ret int64, out check.Outcome) porcupine.Operation {
	return op(client, check.Release, 1, call, ret, out)
}

func TestCheckMutexHandcrafted(t *testing.T) {
	ok, failed, amb := check.OK, check.Failed, check.Ambiguous
	tests := []struct {
		name string
		ops  []porcupine.Operation
		good bool
	}{
		{"handoff", []porcupine.Operation{acq(0, 0, 1, ok), acq(1, 0, 5, ok), rel(0, 2, 3, ok), rel(1, 6, 7, ok)}, true},
		{"two holders", []porcupine.Operation{acq(0, 0, 1, ok), acq(1, 2, 3, ok), rel(0, 4, 5, ok), rel(1, 6, 7, ok)}, false},
		{"release by non-holder", []porcupine.Operation{acq(0, 0, 1, ok), rel(1, 2, 3, ok)}, false},
		{"timed-out acquire while held", []porcupine.Operation{acq(0, 0, 1, ok), acq(1, 0, 9, failed), rel(0, 2, 3, ok), acq(2, 4, 5, ok)}, true},
		{"timed-out acquire while free", []porcupine.Operation{acq(1, 0, 9, failed), acq(2, 4, 5, ok)}, true},
		{"failed acquire took the lock", []porcupine.Operation{acq(1, 0, 1, failed), rel(1, 2, 3, ok)}, false},
		{"failed release of own lock", []porcupine.Operation{acq(0, 0, 1, ok), rel(0, 2, 3, failed)}, false},
		{"failed release of a lost lock", []porcupine.Operation{rel(0, 2, 3, failed), acq(1, 4, 5, ok)}, true},
		{"ambiguous acquire not taken", []porcupine.Operation{acq(0, 0, -1, amb), acq(1, 2, 3, ok), rel(1, 4, 5, ok)}, true},
		{"ambiguous acquire taken, cleaned up", []porcupine.Operation{acq(0, 0, -1, amb), rel(0, 2, 3, ok), acq(1, 4, 5, ok)}, true},
		{"ambiguous acquire released twice", []porcupine.Operation{acq(0, 0, -1, amb), rel(0, 2, 3, ok), rel(0, 4, 5, ok)}, false},
		{"ambiguous release", []porcupine.Operation{acq(0, 0, 1, ok), rel(0, 2, -1, amb), acq(1, 4, 5, ok)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := check.CheckMutex(tt.ops, checkTimeout)
			if tt.good && err != nil {
				t.Fatalf("good history rejected: %v", err)
			}
			if !tt.good && !errors.Is(err, check.ErrNotLinearizable) {
				t.Fatalf("bad history: %v, want ErrNotLinearizable", err)
			}
		})
	}
}

func TestCheckSemaphoreHandcrafted(t *testing.T) {
	ok, failed, amb := check.OK, check.Failed, check.Ambiguous
	a := func(c int, w, call, ret int64, out check.Outcome) porcupine.Operation {
		return op(c, check.Acquire, w, call, ret, out)
	}
	r := func(c int, w, call, ret int64, out check.Outcome) porcupine.Operation {
		return op(c, check.Release, w, call, ret, out)
	}
	tests := []struct {
		name string
		ops  []porcupine.Operation
		good bool
	}{
		{"fits", []porcupine.Operation{a(0, 2, 0, 1, ok), a(1, 1, 0, 1, ok), r(0, 2, 2, 3, ok), a(2, 2, 4, 5, ok)}, true},
		{"over capacity", []porcupine.Operation{a(0, 2, 0, 1, ok), a(1, 2, 2, 3, ok)}, false},
		{"released more than held", []porcupine.Operation{a(0, 1, 0, 1, ok), r(0, 2, 2, 3, ok)}, false},
		{"failed acquire holds nothing", []porcupine.Operation{a(1, 1, 0, 1, failed), r(1, 1, 2, 3, ok)}, false},
		{"timed out, then fits", []porcupine.Operation{a(0, 3, 0, 1, ok), a(1, 1, 0, 9, failed), r(0, 3, 10, 11, ok), a(1, 3, 12, 13, ok)}, true},
		{"ambiguous may not fit", []porcupine.Operation{a(0, 2, 0, -1, amb), a(1, 3, 2, 3, ok)}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := check.CheckSemaphore(3, tt.ops, checkTimeout)
			if tt.good && err != nil {
				t.Fatalf("good history rejected: %v", err)
			}
			if !tt.good && !errors.Is(err, check.ErrNotLinearizable) {
				t.Fatalf("bad history: %v, want ErrNotLinearizable", err)
			}
		})
	}
}

// churn runs goroutines that acquire with short random deadlines and
// release what they got, recording every operation in h.
func churn(t *testing.T, h *check.History, acquire func(ctx context.Context, w int64) error, release func(w int64), maxWeight int64) {
	t.Helper()
	const goroutines, iterations = 6, 150
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range iterations {
				w := 1 + rand.Int64N(maxWeight)
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(100))*time.Microsecond)
				c := h.Call(g, check.Acquire, w)
				err := acquire(ctx, w)
				cancel()
				if err != nil {
					c.Return(check.Failed)
					continue
				}
				c.Return(check.OK)
				c = h.Call(g, check.Release, w)
				release(w)
				c.Return(check.OK)
			}
		})
	}
	wg.Wait()
}

func TestCheckMutexRealRun(t *testing.T) {
	var mu lock.Mutex
	var h check.History
	churn(t, &h, func(ctx context.Context, _ int64) error { return mu.Lock(ctx) }, func(int64) { mu.Unlock() }, 1)
	if err := check.CheckMutex(h.Operations(), checkTimeout); err != nil {
		t.Fatalf("%d operations: %v", h.Len(), err)
	}
}

func TestCheckSemaphoreRealRun(t *testing.T) {
	s := sem.NewWeighted(3)
	var h check.History
	churn(t, &h, s.Acquire, s.Release, 3)
	if err := check.CheckSemaphore(3, h.Operations(), checkTimeout); err != nil {
		t.Fatalf("%d operations: %v", h.Len(), err)
	}
}

// TestHistoryFiles saves the histories of two "processes" and checks the
// merged history, with a hold of a killed process closed by the kernel.
func TestHistoryFiles(t *testing.T) {
	dir := t.TempDir()
	var a, b check.History
	c := a.Call(0, check.Acquire, 1)
	c.Return(check.OK)
	killedAt := check.Now() // process a dies holding the lock
	b.Add(op(0, check.Release, 1, killedAt, check.Now(), check.OK))
	c = b.Call(1, check.Acquire, 1)
	c.Return(check.OK)
	b.Add(op(1, check.Release, 1, check.Now(), -1, check.Ambiguous)) // a lease found lost
	if err := a.Save(dir + "/a"); err != nil {
		t.Fatal(err)
	}
	if err := b.Save(dir + "/b"); err != nil {
		t.Fatal(err)
	}
	if err := a.Save(dir + "/a"); err == nil {
		t.Fatal("Save overwrote a file")
	}
	var ops []check.Operation
	for _, p := range []string{"a", "b"} {
		o, err := check.LoadHistory(dir + "/" + p)
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, o...)
	}
	if want := append(a.Operations(), b.Operations()...); !reflect.DeepEqual(ops, want) {
		t.Fatalf("loaded %+v\nsaved  %+v", ops, want)
	}
	if err := check.CheckMutex(ops, checkTimeout); err != nil {
		t.Fatal(err)
	}
	// Without the kernel's release, b's acquire overlaps a's hold.
	if err := check.CheckMutex(slices.Delete(slices.Clone(ops), 1, 2), checkTimeout); !errors.Is(err, check.ErrNotLinearizable) {
		t.Fatalf("history without the release at death: %v", err)
	}
}
