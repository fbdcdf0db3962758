package redislock_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/redislock"
)

// BenchmarkObtainRelease is an uncontended acquire and release against a
// loopback redis-server: two round trips.
func BenchmarkObtainRelease(b *testing.B) {
	_, rdb := real(b)
	c := newClient(b, rdb)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l, err := c.Obtain(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawSetNXDel is the floor: SET NX PX and DEL, without tokens
// checked on release.
func BenchmarkRawSetNXDel(b *testing.B) {
	_, rdb := real(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if !rdb.SetNX(ctx, "bench", "x", redislock.DefaultTTL).Val() {
			b.Fatal("SET NX failed")
		}
		rdb.Del(ctx, "bench")
	}
}

// BenchmarkHotKey: 8 workers, each with its own Client (as 8 processes
// would have), on one lock with a 100µs critical section. It reports the
// throughput, the longest wait and Jain's fairness index over the workers'
// acquisition counts.
func BenchmarkHotKey(b *testing.B) {
	s, _ := real(b)
	const workers = 8
	clients := make([]*redislock.Client, workers)
	for i := range clients {
		clients[i] = newClient(b, dial(b, s.Addr()))
	}
	ctx := context.Background()
	counts := make([]int, workers)
	waits := make([]time.Duration, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range workers {
		m := clients[w].NewMutex("hot")
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := m.Lock(ctx); err != nil {
					b.Error(err)
					return
				}
				waits[w] = max(waits[w], time.Since(t0))
				for t1 := time.Now(); time.Since(t1) < 100*time.Microsecond; {
				}
				counts[w]++
				m.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var sum, sumSq float64
	var maxWait time.Duration
	for w := range workers {
		sum += float64(counts[w])
		sumSq += float64(counts[w]) * float64(counts[w])
		maxWait = max(maxWait, waits[w])
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "acq/s")
	b.ReportMetric(float64(maxWait.Milliseconds()), "maxwait-ms")
	b.ReportMetric(sum*sum/(workers*sumSq), "jain")
}

// BenchmarkHotKeySpin is the same load on a busy-spinning SET NX loop.
func BenchmarkHotKeySpin(b *testing.B) {
	s, _ := real(b)
	const workers = 8
	rdbs := make([]*redis.Client, workers)
	for i := range rdbs {
		rdbs[i] = dial(b, s.Addr())
	}
	ctx := context.Background()
	counts := make([]int, workers)
	waits := make([]time.Duration, workers)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start := time.Now()
	for w := range workers {
		rdb := rdbs[w]
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				for !rdb.SetNX(ctx, "hot", w, time.Minute).Val() {
				}
				waits[w] = max(waits[w], time.Since(t0))
				for t1 := time.Now(); time.Since(t1) < 100*time.Microsecond; {
				}
				counts[w]++
				rdb.Del(ctx, "hot")
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var sum, sumSq float64
	var maxWait time.Duration
	for w := range workers {
		sum += float64(counts[w])
		sumSq += float64(counts[w]) * float64(counts[w])
		maxWait = max(maxWait, waits[w])
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "acq/s")
	b.ReportMetric(float64(maxWait.Milliseconds()), "maxwait-ms")
	b.ReportMetric(sum*sum/(workers*sumSq), "jain")
}

// BenchmarkMutexLockUnlock is an uncontended Lock and Unlock of a Mutex
// under a cancellable context, as a caller with a shutdown signal has.
func BenchmarkMutexLockUnlock(b *testing.B) {
	_, rdb := real(b)
	c := newClient(b, rdb)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m := c.NewMutex("bench")
	b.ReportAllocs()
	for b.Loop() {
		if err := m.Lock(ctx); err != nil {
			b.Fatal(err)
		}
		m.Unlock()
	}
}
