package oteltest_test

import (
	"context"
	"fmt"
	"maps"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/goleak"

	"github.com/codomyrmex/concurrency/internal/oteltest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// errorsTB records what Errorf reports instead of failing the test.
type errorsTB struct {
	*testing.T
	errs []string
}

func (e *errorsTB) Errorf(format string, args ...any) {
	e.errs = append(e.errs, fmt.Sprintf(format, args...))
}

func TestSDK(t *testing.T) {
	s := oteltest.New(t)
	ctx := context.Background()
	_, span := s.TracerProvider.Tracer("test").Start(ctx, "op")
	span.End()
	if ended := s.Spans.Ended(); len(ended) != 1 || ended[0].Name() != "op" {
		t.Fatalf("ended spans %v, want one \"op\"", ended)
	}

	meter := s.MeterProvider.Meter("a", metric.WithInstrumentationVersion("1.0.0"))
	c, err := meter.Int64Counter("calls")
	if err != nil {
		t.Fatal(err)
	}
	mode, outcome := attribute.Key("mode"), attribute.Key("outcome")
	c.Add(ctx, 2, metric.WithAttributes(mode.String("read"), outcome.String("ok")))
	c.Add(ctx, 3, metric.WithAttributes(mode.String("write"), outcome.String("ok")))
	c.Add(ctx, 4, metric.WithAttributes(mode.String("write")))
	h, err := meter.Float64Histogram("seconds")
	if err != nil {
		t.Fatal(err)
	}
	h.Record(ctx, 1)

	m := s.Metrics(t, "a", "1.0.0")
	for _, tc := range []struct {
		keys []attribute.Key
		want map[string]int64
	}{
		{nil, map[string]int64{"": 9}},
		{[]attribute.Key{mode}, map[string]int64{"read": 2, "write": 7}},
		{[]attribute.Key{mode, outcome}, map[string]int64{"read/ok": 2, "write/ok": 3, "write/": 4}},
	} {
		if got := m.Sums(t, "calls", tc.keys...); !maps.Equal(got, tc.want) {
			t.Errorf("Sums(calls, %v) = %v, want %v", tc.keys, got, tc.want)
		}
	}
	if got := m.Sums(t, "absent"); len(got) != 0 {
		t.Errorf("Sums of an unrecorded metric = %v, want empty", got)
	}
	if _, ok := s.Metrics(t, "a", "")["seconds"]; !ok {
		t.Error("Metrics with any version left out the histogram")
	}
}

// Metrics in another scope or version fail the test and are left out.
func TestMetricsOtherScope(t *testing.T) {
	s := oteltest.New(t)
	c, err := s.MeterProvider.Meter("b", metric.WithInstrumentationVersion("2.0.0")).Int64Counter("calls")
	if err != nil {
		t.Fatal(err)
	}
	c.Add(context.Background(), 1)
	for _, scope := range [][2]string{{"a", ""}, {"b", "1.0.0"}} {
		tb := &errorsTB{T: t}
		if m := s.Metrics(tb, scope[0], scope[1]); len(m) != 0 || len(tb.errs) != 1 {
			t.Errorf("Metrics(%q, %q) = %v, errors %q; want none, and one error", scope[0], scope[1], m, tb.errs)
		}
	}
}
