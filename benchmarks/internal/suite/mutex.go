package suite

import (
	"time"

	"github.com/codomyrmex/concurrency/benchmarks"
	"github.com/codomyrmex/concurrency/benchmarks/internal/harness"
	"github.com/codomyrmex/concurrency/lock"
)

// mutexScenario: goroutines of one process share one mutex.
func mutexScenario() Scenario {
	return Scenario{
		Name:     "mutex",
		About:    "goroutines share one in-process mutex",
		Section:  500 * time.Nanosecond,
		Baseline: "sync.Mutex",
		Impls: []harness.Impl{
			{Name: "lock.Mutex", New: shared(func() harness.Locker { return new(lock.Mutex) })},
			{Name: "sync.Mutex", Note: "not cancellable", New: shared(func() harness.Locker { return new(benchmarks.SyncMutex) })},
			{Name: "chan", Note: "buffered channel of 1", New: shared(func() harness.Locker { return benchmarks.NewChanMutex() })},
			{Name: "x-sync-semaphore", Note: "golang.org/x/sync/semaphore of size 1", New: shared(func() harness.Locker { return benchmarks.NewXSyncMutex() })},
		},
	}
}
