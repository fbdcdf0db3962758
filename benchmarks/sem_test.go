package benchmarks

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/sem"
	"golang.org/x/sync/semaphore"
)

type weighted interface {
	Acquire(ctx context.Context, n int64) error
	Release(n int64)
}

type semImpl struct {
	name string
	new  func(n int64) weighted
}

var semImpls = []semImpl{
	{"sem.Weighted", func(n int64) weighted { return sem.NewWeighted(n) }},
	{"x-sync-semaphore", func(n int64) weighted { return semaphore.NewWeighted(n) }},
}

func BenchmarkSemUncontended(b *testing.B) {
	ctx := context.Background()
	b.Run("impl=sem.Weighted", func(b *testing.B) {
		s := sem.NewWeighted(4)
		b.ReportAllocs()
		for b.Loop() {
			s.Acquire(ctx, 1)
			s.Release(1)
		}
	})
	b.Run("impl=x-sync-semaphore", func(b *testing.B) {
		s := semaphore.NewWeighted(4)
		b.ReportAllocs()
		for b.Loop() {
			s.Acquire(ctx, 1)
			s.Release(1)
		}
	})
}

// BenchmarkSemContended: 4×GOMAXPROCS goroutines take one token each from a
// semaphore of size 1 or 4 around a short section. At size 1 it also runs
// lock.Mutex as a semaphore (impl=lock.Mutex): the cheapest FIFO handover
// in this module, a floor for any FIFO semaphore's.
func BenchmarkSemContended(b *testing.B) {
	ctx := context.Background()
	for _, size := range []int64{1, 4} {
		impls := semImpls
		if size == 1 {
			impls = append(impls[:len(impls):len(impls)], semImpl{"lock.Mutex", func(int64) weighted { return new(mutexSem) }})
		}
		for _, impl := range impls {
			b.Run(fmt.Sprintf("size=%d/impl=%s", size, impl.name), func(b *testing.B) {
				s := impl.new(size)
				b.ReportAllocs()
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						s.Acquire(ctx, 1)
						work(50)
						s.Release(1)
					}
				})
			})
		}
	}
}

// A mutexSem is a lock.Mutex as a semaphore of size 1 (weights ignored).
type mutexSem struct{ m lock.Mutex }

func (s *mutexSem) Acquire(ctx context.Context, _ int64) error { return s.m.Lock(ctx) }
func (s *mutexSem) Release(int64)                              { s.m.Unlock() }

// BenchmarkSemBigWaiter: a request for the whole semaphore (size 8), with a
// 50 ms budget, while 6 goroutines churn single tokens without yielding.
// Reports the fraction of big requests that timed out.
func BenchmarkSemBigWaiter(b *testing.B) {
	for _, impl := range semImpls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			s := impl.new(8)
			stop, cancel := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for range 6 {
				wg.Go(func() {
					for stop.Err() == nil {
						if s.Acquire(stop, 1) == nil {
							work(50)
							s.Release(1)
						}
					}
				})
			}
			timeouts := 0
			for b.Loop() {
				ctx, c := context.WithTimeout(context.Background(), 50*time.Millisecond)
				if s.Acquire(ctx, 8) == nil {
					s.Release(8)
				} else {
					timeouts++
				}
				c()
			}
			cancel()
			wg.Wait()
			b.ReportMetric(float64(timeouts)/float64(b.N), "timeouts/op")
		})
	}
}

// BenchmarkSemBlockedAcquire: every Acquire blocks (the token is released
// by another goroutine only after the acquirer had time to queue), so
// allocs/op is the cost of one blocked acquire.
func BenchmarkSemBlockedAcquire(b *testing.B) {
	ctx := context.Background()
	for _, impl := range semImpls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			s := impl.new(1)
			s.Acquire(ctx, 1)
			ping := make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for range ping {
					for range 20 { // let the acquirer queue
						runtime.Gosched()
					}
					s.Release(1)
				}
			}()
			b.ReportAllocs()
			for b.Loop() {
				ping <- struct{}{}
				s.Acquire(ctx, 1)
			}
			close(ping)
			<-done
		})
	}
}
