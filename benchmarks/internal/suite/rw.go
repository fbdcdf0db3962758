package suite

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/codomyrmex/concurrency/benchmarks"
	"github.com/codomyrmex/concurrency/benchmarks/internal/harness"
	"github.com/codomyrmex/concurrency/rw"
)

// rwWorker writes with probability writes and reads otherwise, remembering
// which side it took so that Unlock releases that side.
type rwWorker struct {
	mu      benchmarks.RWLocker
	rng     *rand.Rand
	writes  float64
	writing bool
}

func (w *rwWorker) Lock(ctx context.Context) error {
	w.writing = w.rng.Float64() < w.writes
	if w.writing {
		return w.mu.Lock(ctx)
	}
	return w.mu.RLock(ctx)
}

func (w *rwWorker) Unlock() {
	if w.writing {
		w.mu.Unlock()
		return
	}
	w.mu.RUnlock()
}

// rwOf returns a constructor whose workers share one reader/writer lock,
// each writing a Params.Writes fraction of the time (seeded by worker).
func rwOf(newRW func() benchmarks.RWLocker) func(harness.Env, harness.Params) (harness.Instance, error) {
	return func(_ harness.Env, p harness.Params) (harness.Instance, error) {
		mu := newRW()
		return harness.LockerFunc(func(i int) harness.Locker {
			return &rwWorker{mu: mu, rng: rand.New(rand.NewPCG(uint64(i), 42)), writes: p.Writes}
		}), nil
	}
}

// rwScenario: goroutines read and write under one reader/writer lock.
func rwScenario() Scenario {
	return Scenario{
		Name:     "rw",
		About:    "goroutines read (or, a fraction of the time, write) under one reader/writer lock",
		Section:  500 * time.Nanosecond,
		Baseline: "sync.RWMutex",
		Impls: []harness.Impl{
			{Name: "rw.RWMutex", New: rwOf(func() benchmarks.RWLocker { return new(rw.RWMutex) })},
			{Name: "sync.RWMutex", Note: "not cancellable", New: rwOf(func() benchmarks.RWLocker { return new(benchmarks.SyncRWMutex) })},
			{Name: "chan", Note: "channel write token, reader count; prefers readers", New: rwOf(func() benchmarks.RWLocker { return benchmarks.NewChanRWMutex() })},
		},
	}
}
