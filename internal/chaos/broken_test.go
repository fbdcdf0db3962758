package chaos_test

import (
	"context"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"

	"github.com/codomyrmex/concurrency/internal/check"
)

// brokenMutex is a spinning mutex with the bug the cancellation contract
// forbids: when its context ends, Lock sometimes reports the lock held
// anyway.
type brokenMutex struct{ held atomic.Bool }

func (m *brokenMutex) Lock(ctx context.Context) error {
	for !m.held.CompareAndSwap(false, true) {
		if err := ctx.Err(); err != nil {
			if rand.IntN(4) == 0 {
				return nil // the bug
			}
			return err
		}
		runtime.Gosched()
	}
	return nil
}

func (m *brokenMutex) Unlock() { m.held.Store(false) }

// atomicStore is a Store whose loads and stores are atomic, so that the
// race detector stays quiet and the oracles alone must find the bug; the
// increment built from them is still not atomic.
type atomicStore struct{ v atomic.Int64 }

func (s *atomicStore) Load() (int64, error) { return s.v.Load(), nil }
func (s *atomicStore) Store(v int64) error  { s.v.Store(v); return nil }

// TestChurnCatchesBrokenMutex shows that the churn scenario fails a mutex
// that breaks the cancellation contract.
func TestChurnCatchesBrokenMutex(t *testing.T) {
	var mu brokenMutex
	sum, problems := churn(target{
		capacity: 1,
		weight:   func(*rand.Rand) int64 { return 1 },
		acquire:  func(ctx context.Context, _ int64) error { return mu.Lock(ctx) },
		try:      func(int64) bool { return mu.held.CompareAndSwap(false, true) },
		release:  func(int64) { mu.Unlock() },
		check:    func(ops []check.Operation) error { return check.CheckMutex(ops, historyTimeout) },
	}, new(atomicStore), slices.Values([]int{0, 1, 2}))
	if len(problems) == 0 || sum.Overlaps == 0 {
		t.Fatalf("broken mutex passed: %v", sum)
	}
	t.Logf("broken mutex caught: %v; %d problems, first: %s", sum, len(problems), problems[0])
}
