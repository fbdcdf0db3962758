// Package oteltest is an OpenTelemetry SDK for tests: spans and metrics
// are recorded in memory (a [tracetest.SpanRecorder] and a
// [sdkmetric.ManualReader], which start no goroutines) and read back with
// a few helpers. Only tests import it.
package oteltest

import (
	"context"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// An SDK is a tracer provider and a meter provider that record in memory.
// Pass the providers to the code under test; read spans from Spans and
// metrics with [SDK.Metrics].
type SDK struct {
	TracerProvider *sdktrace.TracerProvider
	MeterProvider  *sdkmetric.MeterProvider
	Spans          *tracetest.SpanRecorder // every span of TracerProvider, started and ended
	Reader         *sdkmetric.ManualReader // the only reader of MeterProvider
}

// New returns an SDK whose providers are shut down when tb ends. It turns
// exemplars off for the rest of tb (OTEL_METRICS_EXEMPLAR_FILTER=always_off,
// with tb.Setenv), so that data points carry no trace-dependent extras;
// like tb.Setenv it must not be used in parallel tests.
func New(tb testing.TB) *SDK {
	tb.Helper()
	tb.Setenv("OTEL_METRICS_EXEMPLAR_FILTER", "always_off")
	s := &SDK{Spans: tracetest.NewSpanRecorder(), Reader: sdkmetric.NewManualReader()}
	s.TracerProvider = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(s.Spans))
	s.MeterProvider = sdkmetric.NewMeterProvider(sdkmetric.WithReader(s.Reader))
	tb.Cleanup(func() {
		_ = s.TracerProvider.Shutdown(context.Background())
		_ = s.MeterProvider.Shutdown(context.Background())
	})
	return s
}
