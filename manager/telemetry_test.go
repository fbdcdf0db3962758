package manager_test

import (
	"context"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/manager"
	"github.com/codomyrmex/concurrency/telemetry"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

func TestTelemetry(t *testing.T) {
	t.Setenv("OTEL_METRICS_EXEMPLAR_FILTER", "always_off")
	ctx := context.Background()
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	defer tp.Shutdown(ctx)
	defer mp.Shutdown(ctx)
	m := manager.New(manager.WithOnDemand(), manager.WithTracerProvider(tp), manager.WithMeterProvider(mp))
	var mu lock.Mutex
	m.Register("mu", &mu)

	h, err := m.AcquireAll(ctx, "mu", "od")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(spans.Ended()) + len(spans.Started()); n != 0 {
		t.Fatalf("%d spans for an uncontended acquisition", n)
	}
	done := make(chan error)
	go func() {
		h, err := m.AcquireAll(ctx, "mu")
		if err == nil {
			err = h.Release(ctx)
		}
		done <- err
	}()
	for mu.Waiters() == 0 {
		time.Sleep(10 * time.Microsecond)
	}
	h.Release(ctx)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	ended := spans.Ended()
	if len(ended) != 1 || ended[0].Name() != "acquire mutex" || ended[0].InstrumentationScope().Name != telemetry.ScopeManager {
		t.Fatalf("spans %v", ended)
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		t.Fatal(err)
	}
	if len(rm.ScopeMetrics) != 1 || rm.ScopeMetrics[0].Scope.Name != telemetry.ScopeManager {
		t.Fatalf("scopes %v", rm.ScopeMetrics)
	}
	counts := map[string]int64{}
	for _, md := range rm.ScopeMetrics[0].Metrics {
		if md.Name != "lock.acquisitions" {
			continue
		}
		for _, dp := range md.Data.(metricdata.Sum[int64]).DataPoints {
			name, _ := dp.Attributes.Value(telemetry.AttrName)
			kind, _ := dp.Attributes.Value(telemetry.AttrKind)
			mode, _ := dp.Attributes.Value(telemetry.AttrMode)
			counts[name.AsString()+"/"+kind.AsString()+"/"+mode.AsString()] += dp.Value
		}
	}
	want := map[string]int64{"mu/mutex/": 2, "od/rwmutex/write": 1}
	if len(counts) != len(want) || counts["mu/mutex/"] != 2 || counts["od/rwmutex/write"] != 1 {
		t.Fatalf("acquisitions %v, want %v", counts, want)
	}
}
