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
		name, _ := attrs.Value(telemetry.AttrName)
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
			name, _ := dp.Attributes.Value(telemetry.AttrName)
			fmt.Println(m.Name, name.AsString(), dp.Value)
		}
	}
	// Output: lock.acquisitions db-connections 1
}

// A lock implementation outside this package records through a Recorder:
// here a lock that always has to go over the network.
func ExampleRecorder() {
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer mp.Shutdown(context.Background())

	in, err := telemetry.New("example.com/netlock", telemetry.WithMeterProvider(mp))
	if err != nil {
		fmt.Println(err)
		return
	}
	rec := in.Recorder(telemetry.KindRedis, "jobs", "")

	ctx := context.Background()
	start := time.Now()
	wctx, w := rec.BeginCall(ctx, 1) // a span around the round trip
	err = acquireOverNetwork(wctx)
	w.End(ctx, err, time.Since(start))
	if err == nil {
		held := time.Now()
		// ... the critical section ...
		rec.Released(ctx, 1, time.Since(held))
	}

	var rm metricdata.ResourceMetrics
	reader.Collect(ctx, &rm)
	for _, m := range rm.ScopeMetrics[0].Metrics {
		if m.Name == "lock.acquisitions" {
			dp := m.Data.(metricdata.Sum[int64]).DataPoints[0]
			outcome, _ := dp.Attributes.Value(telemetry.AttrOutcome)
			fmt.Println(m.Name, outcome.String(), dp.Value)
		}
	}
	// Output: lock.acquisitions acquired 1
}

func acquireOverNetwork(context.Context) error { return nil }
