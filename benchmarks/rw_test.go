package benchmarks

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/benchmarks/internal/stats"
	"github.com/codomyrmex/concurrency/rw"
)

var rwImpls = []struct {
	name string
	new  func() RWLocker
}{
	{"rw.RWMutex", func() RWLocker { return new(rw.RWMutex) }},
	{"sync.RWMutex", func() RWLocker { return new(SyncRWMutex) }},
	{"chan", func() RWLocker { return NewChanRWMutex() }},
}

// BenchmarkRWReadParallel: 4×GOMAXPROCS goroutines only read a shared map.
func BenchmarkRWReadParallel(b *testing.B) {
	ctx := context.Background()
	for _, impl := range rwImpls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			mu := impl.new()
			m := map[int]int{0: 0}
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					mu.RLock(ctx)
					_ = m[0]
					mu.RUnlock()
				}
			})
		})
	}
}

// BenchmarkRWReadMostly: 4×GOMAXPROCS goroutines, one operation in 100 a
// write, the rest reads of a shared map.
func BenchmarkRWReadMostly(b *testing.B) {
	ctx := context.Background()
	for _, impl := range rwImpls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			mu := impl.new()
			m := map[int]int{0: 0}
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					if i%100 == 0 {
						mu.Lock(ctx)
						m[0]++
						mu.Unlock()
						continue
					}
					mu.RLock(ctx)
					_ = m[0]
					mu.RUnlock()
				}
			})
		})
	}
}

// BenchmarkRWWriteHeavy: 4×GOMAXPROCS goroutines, one operation in 4 a
// write, the rest reads of a shared map.
func BenchmarkRWWriteHeavy(b *testing.B) {
	ctx := context.Background()
	for _, impl := range rwImpls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			mu := impl.new()
			m := map[int]int{0: 0}
			b.ReportAllocs()
			b.SetParallelism(4)
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					if i%4 == 0 {
						mu.Lock(ctx)
						m[0]++
						mu.Unlock()
						continue
					}
					mu.RLock(ctx)
					_ = m[0]
					mu.RUnlock()
				}
			})
		})
	}
}

// BenchmarkRWWriterUnderReaders: 8 goroutines read without pause; reports
// how long a writer waits for the lock. The chan peer prefers readers, so
// its writer would wait without bound: it is skipped.
func BenchmarkRWWriterUnderReaders(b *testing.B) {
	for _, impl := range rwImpls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			if impl.name == "chan" {
				b.Skip("readers-preference lock: a writer under a reader flood waits without bound")
			}
			mu := impl.new()
			stop, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for range 8 {
				wg.Go(func() {
					for stop.Err() == nil {
						if mu.RLock(stop) == nil {
							work(20)
							mu.RUnlock()
						}
					}
				})
			}
			var waits stats.Waits
			for b.Loop() {
				t0 := time.Now()
				mu.Lock(context.Background())
				waits = append(waits, time.Since(t0))
				mu.Unlock()
			}
			cancel()
			wg.Wait()
			reportWaits(b, waits)
		})
	}
}
