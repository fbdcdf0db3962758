package telemetry_test

import (
	"context"
	"fmt"
	"time"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/telemetry"
	"go.opentelemetry.io/otel/attribute"
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
