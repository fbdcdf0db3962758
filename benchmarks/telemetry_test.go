package benchmarks

import (
	"context"
	"testing"

	"github.com/codomyrmex/concurrency/internal/oteltest"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/rw"
	"github.com/codomyrmex/concurrency/sem"
	"github.com/codomyrmex/concurrency/telemetry"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// telemetryConfigs are the providers the telemetry benchmarks compare; "off"
// is the bare primitive, without a wrapper.
var telemetryConfigs = []struct {
	name string
	opts func(b *testing.B) []telemetry.Option
}{
	{"noop", func(*testing.B) []telemetry.Option {
		return []telemetry.Option{
			telemetry.WithTracerProvider(tracenoop.NewTracerProvider()),
			telemetry.WithMeterProvider(metricnoop.NewMeterProvider()),
		}
	}},
	{"global-no-sdk", func(*testing.B) []telemetry.Option { return nil }},
	{"sdk", func(b *testing.B) []telemetry.Option {
		s := oteltest.New(b)
		return []telemetry.Option{telemetry.WithTracerProvider(s.TracerProvider), telemetry.WithMeterProvider(s.MeterProvider)}
	}},
}

// BenchmarkTelemetryUncontended: uncontended Lock/Unlock (RLock/RUnlock,
// Acquire/Release) of the bare primitive ("off") and of its telemetry
// wrapper with no-op providers, the global providers without an SDK, and an
// SDK with a manual reader. Targets: no-op ≤ 5% over off and 0 extra
// allocations.
func BenchmarkTelemetryUncontended(b *testing.B) {
	b.Setenv("OTEL_METRICS_EXEMPLAR_FILTER", "always_off")
	ctx := context.Background()
	b.Run("prim=mutex/impl=off", func(b *testing.B) {
		var mu lock.Mutex
		b.ReportAllocs()
		for b.Loop() {
			mu.Lock(ctx)
			mu.Unlock()
		}
	})
	for _, c := range telemetryConfigs {
		b.Run("prim=mutex/impl="+c.name, func(b *testing.B) {
			mu := telemetry.NewMutex("bench", nil, c.opts(b)...)
			b.ReportAllocs()
			for b.Loop() {
				mu.Lock(ctx)
				mu.Unlock()
			}
		})
	}
	b.Run("prim=rwmutex-read/impl=off", func(b *testing.B) {
		var mu rw.RWMutex
		b.ReportAllocs()
		for b.Loop() {
			mu.RLock(ctx)
			mu.RUnlock()
		}
	})
	for _, c := range telemetryConfigs {
		b.Run("prim=rwmutex-read/impl="+c.name, func(b *testing.B) {
			mu := telemetry.NewRWMutex("bench", nil, c.opts(b)...)
			b.ReportAllocs()
			for b.Loop() {
				mu.RLock(ctx)
				mu.RUnlock()
			}
		})
	}
	b.Run("prim=sem/impl=off", func(b *testing.B) {
		s := sem.NewWeighted(4)
		b.ReportAllocs()
		for b.Loop() {
			s.Acquire(ctx, 1)
			s.Release(1)
		}
	})
	for _, c := range telemetryConfigs {
		b.Run("prim=sem/impl="+c.name, func(b *testing.B) {
			s := telemetry.NewWeighted("bench", sem.NewWeighted(4), c.opts(b)...)
			b.ReportAllocs()
			for b.Loop() {
				s.Acquire(ctx, 1)
				s.Release(1)
			}
		})
	}
}

// BenchmarkTelemetryContended: 4×GOMAXPROCS goroutines on one mutex, bare
// and instrumented; here every wait starts a span.
func BenchmarkTelemetryContended(b *testing.B) {
	b.Setenv("OTEL_METRICS_EXEMPLAR_FILTER", "always_off")
	ctx := context.Background()
	run := func(b *testing.B, l Locker) {
		counter := 0
		b.ReportAllocs()
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				l.Lock(ctx)
				counter++
				l.Unlock()
			}
		})
	}
	b.Run("impl=off", func(b *testing.B) { run(b, new(lock.Mutex)) })
	for _, c := range telemetryConfigs {
		b.Run("impl="+c.name, func(b *testing.B) { run(b, telemetry.NewMutex("bench", nil, c.opts(b)...)) })
	}
}
