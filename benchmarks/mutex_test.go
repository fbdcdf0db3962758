package benchmarks

import (
	"context"
	"sync"
	"testing"

	"github.com/codomyrmex/concurrency/lock"
)

var mutexImpls = []struct {
	name string
	new  func() Locker
}{
	{"lock.Mutex", func() Locker { return new(lock.Mutex) }},
	{"sync.Mutex", func() Locker { return new(SyncMutex) }},
	{"chan", func() Locker { return NewChanMutex() }},
	{"x-sync-semaphore", func() Locker { return NewXSyncMutex() }},
}

// BenchmarkMutexUncontended calls each implementation directly, without
// the Locker interface, so the ratio is that of the locks themselves.
func BenchmarkMutexUncontended(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=lock.Mutex", func(b *testing.B) {
		var mu lock.Mutex
		b.ReportAllocs()
		for b.Loop() {
			mu.Lock(ctx)
			mu.Unlock()
		}
	})
	b.Run("impl=sync.Mutex", func(b *testing.B) {
		var mu sync.Mutex
		b.ReportAllocs()
		for b.Loop() {
			mu.Lock()
			//lint:ignore SA2001 the lock itself is what is measured
			mu.Unlock()
		}
	})
	b.Run("impl=chan", func(b *testing.B) {
		mu := NewChanMutex()
		b.ReportAllocs()
		for b.Loop() {
			mu.Lock(ctx)
			mu.Unlock()
		}
	})
}

// BenchmarkMutexContended: 4×GOMAXPROCS goroutines hammer one lock around a
// tiny critical section.
func BenchmarkMutexContended(b *testing.B) {
	mutexContended(b, context.Background())
}

// BenchmarkMutexContendedCancellable is BenchmarkMutexContended with a
// context that can be cancelled (and never is), as a request's context
// would be: a blocked Lock then selects on its Done channel too, which
// every waiter shares.
func BenchmarkMutexContendedCancellable(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	mutexContended(b, ctx)
}

func mutexContended(b *testing.B, ctx context.Context) {
	for _, impl := range mutexImpls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			mu := impl.new()
			counter := 0
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					mu.Lock(ctx)
					counter++
					mu.Unlock()
				}
			})
		})
	}
}

// BenchmarkMutexFairness: 8 goroutines share b.N acquisitions with a short
// critical section; reports wait percentiles and Jain's index.
func BenchmarkMutexFairness(b *testing.B) {
	for _, impl := range mutexImpls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			fairness(b, impl.new(), 8, 200)
		})
	}
}
