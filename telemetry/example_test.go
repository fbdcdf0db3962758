package telemetry_test

import (
	"context"
	"fmt"
	"time"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/sem"
	"github.com/codomyrmex/concurrency/telemetry"
	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func ExampleNewMutex() {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	defer tp.Shutdown(context.Background())

	var raw lock.Mutex
	mu := telemetry.NewMutex("orders", &raw, telemetry.WithTracerProvider(tp))
	ctx := context.Background()

	mu.Lock(ctx) // free: no span
	done := make(chan struct{})
	go func() {
		defer close(done)
		mu.Lock(ctx) // has to wait: one span
		mu.Unlock()
	}()
	for raw.Waiters() == 0 {
		time.Sleep(time.Millisecond)
	}
	mu.Unlock()
	<-done

	for _, s := range spans.Ended() {
		attrs := attribute.NewSet(s.Attributes()...)
		name, _ := attrs.Value("lock.name")
		fmt.Println(s.Name(), name.String())
	}
	// Output: acquire mutex orders
}

// A semaphore is wrapped with its size set: NewWeighted needs one.
func ExampleNewWeighted() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	conns := telemetry.NewWeighted("db-connections", sem.NewWeighted(10), telemetry.WithMeterProvider(mp))
	ctx := context.Background()
	if err := conns.Acquire(ctx, 3); err != nil {
		fmt.Println(err)
		return
	}
	// ... use three connections ...
	conns.Release(3)

	var rm metricdata.ResourceMetrics
	reader.Collect(ctx, &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name == "lock.acquisitions" {
			dp := m.Data.(metricdata.Sum[int64]).DataPoints[0]
			name, _ := dp.Attributes.Value("lock.name")
			fmt.Println(m.Name, name.AsString(), dp.Value)
		}
	}
	// Output: lock.acquisitions db-connections 1
}
