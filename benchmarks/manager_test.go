package benchmarks

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/manager"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// noTelemetry keeps OpenTelemetry out of the manager benchmarks, so that
// they measure the manager itself.
var noTelemetry = []manager.Option{
	manager.WithTracerProvider(tracenoop.NewTracerProvider()),
	manager.WithMeterProvider(metricnoop.NewMeterProvider()),
}

// newManager returns a Manager with k registered lock.Mutexes and their
// names.
func newManager(b *testing.B, k int, opts ...manager.Option) (*manager.Manager, []string) {
	m := manager.New(append(opts, noTelemetry...)...)
	names := make([]string, k)
	for i := range names {
		names[i] = fmt.Sprintf("lock-%02d", i)
		if err := m.Register(names[i], new(lock.Mutex)); err != nil {
			b.Fatal(err)
		}
	}
	return m, names
}

// BenchmarkAcquireAll: AcquireAll and Release of k uncontended locks,
// against k single-name AcquireAll calls and k bare lock.Mutex Lock/Unlock
// pairs. The target is AcquireAll(k) ≤ k × AcquireAll(1) + a small constant.
func BenchmarkAcquireAll(b *testing.B) {
	ctx := context.Background()
	for _, k := range []int{1, 2, 4, 8} {
		b.Run(fmt.Sprintf("k=%d/impl=AcquireAll", k), func(b *testing.B) {
			m, names := newManager(b, k)
			b.ReportAllocs()
			for b.Loop() {
				h, err := m.AcquireAll(ctx, names...)
				if err != nil {
					b.Fatal(err)
				}
				h.Release(ctx)
			}
		})
		b.Run(fmt.Sprintf("k=%d/impl=single-each", k), func(b *testing.B) {
			m, names := newManager(b, k)
			b.ReportAllocs()
			for b.Loop() {
				for _, n := range names {
					h, err := m.AcquireAll(ctx, n)
					if err != nil {
						b.Fatal(err)
					}
					h.Release(ctx)
				}
			}
		})
		b.Run(fmt.Sprintf("k=%d/impl=lock.Mutex-each", k), func(b *testing.B) {
			mus := make([]lock.Mutex, k)
			b.ReportAllocs()
			for b.Loop() {
				for i := range mus {
					mus[i].Lock(ctx)
				}
				for i := len(mus) - 1; i >= 0; i-- {
					mus[i].Unlock()
				}
			}
		})
	}
}

// BenchmarkAcquireAllOnDemand: the same with on-demand locks, created and
// evicted on every call.
func BenchmarkAcquireAllOnDemand(b *testing.B) {
	ctx := context.Background()
	for _, k := range []int{1, 4} {
		b.Run(fmt.Sprintf("k=%d/impl=AcquireAll", k), func(b *testing.B) {
			m, _ := newManager(b, 0, manager.WithOnDemand())
			names := make([]string, k)
			for i := range names {
				names[i] = fmt.Sprintf("od-%02d", i)
			}
			b.ReportAllocs()
			for b.Loop() {
				h, err := m.AcquireAll(ctx, names...)
				if err != nil {
					b.Fatal(err)
				}
				h.Release(ctx)
			}
		})
	}
}

// BenchmarkManagerStats: the cost of the Stats bookkeeping, on (the
// default) and off, for uncontended AcquireAll. The target is ≤ 10%.
func BenchmarkManagerStats(b *testing.B) {
	ctx := context.Background()
	for _, k := range []int{1, 4} {
		for _, on := range []bool{false, true} {
			impl := "stats-off"
			if on {
				impl = "stats-on"
			}
			b.Run(fmt.Sprintf("k=%d/impl=%s", k, impl), func(b *testing.B) {
				m, names := newManager(b, k, manager.WithStats(on))
				b.ReportAllocs()
				for b.Loop() {
					h, err := m.AcquireAll(ctx, names...)
					if err != nil {
						b.Fatal(err)
					}
					h.Release(ctx)
				}
			})
		}
	}
}

// BenchmarkClock is the floor of the Stats overhead: the two monotonic
// clock reads that time a hold.
func BenchmarkClock(b *testing.B) {
	b.Run("impl=two-monotonic-reads", func(b *testing.B) {
		start := time.Now()
		var d time.Duration
		for b.Loop() {
			d += time.Since(start)
			d -= time.Since(start)
		}
		if d == 1 {
			b.Log(d)
		}
	})
}

// BenchmarkManagerContended: 4×GOMAXPROCS goroutines take the same two of
// four locks in opposite orders.
func BenchmarkManagerContended(b *testing.B) {
	ctx := context.Background()
	m, names := newManager(b, 4)
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			pair := []string{names[i%2], names[3-i%2]}
			h, err := m.AcquireAll(ctx, pair...)
			if err != nil {
				b.Error(err)
				return
			}
			h.Release(ctx)
		}
	})
}
