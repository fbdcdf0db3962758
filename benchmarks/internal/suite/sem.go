package suite

import (
	"context"
	"time"

	"github.com/codomyrmex/concurrency/benchmarks/internal/harness"
	"github.com/codomyrmex/concurrency/sem"
	"golang.org/x/sync/semaphore"
)

// weighted is what sem.Weighted and x/sync's semaphore have in common.
type weighted interface {
	Acquire(ctx context.Context, n int64) error
	Release(n int64)
}

// semWorker takes n tokens of a shared semaphore.
type semWorker struct {
	s weighted
	n int64
}

func (w semWorker) Lock(ctx context.Context) error { return w.s.Acquire(ctx, w.n) }
func (w semWorker) Unlock()                        { w.s.Release(w.n) }

// semaphoreOf returns a constructor whose workers share one semaphore of
// Params.SemSize tokens, worker i taking Params.Weight(i) of them.
func semaphoreOf(newSem func(size int64) weighted) func(harness.Env, harness.Params) (harness.Instance, error) {
	return func(_ harness.Env, p harness.Params) (harness.Instance, error) {
		s := newSem(p.SemSize)
		return harness.LockerFunc(func(i int) harness.Locker { return semWorker{s, p.Weight(i)} }), nil
	}
}

// semScenario: goroutines take weighted shares of one semaphore.
func semScenario() Scenario {
	return Scenario{
		Name:     "sem",
		About:    "goroutines take weighted shares of one semaphore",
		Section:  500 * time.Nanosecond,
		Baseline: "x-sync-semaphore",
		Impls: []harness.Impl{
			{Name: "sem.Weighted", New: semaphoreOf(func(n int64) weighted { return sem.NewWeighted(n) })},
			{Name: "x-sync-semaphore", New: semaphoreOf(func(n int64) weighted { return semaphore.NewWeighted(n) })},
		},
	}
}
