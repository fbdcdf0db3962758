package manager_test

import (
	"context"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/internal/oteltest"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/manager"
)

func TestTelemetry(t *testing.T) {
	s := oteltest.New(t)
	ctx := context.Background()
	m := manager.New(manager.WithOnDemand(), manager.WithTracerProvider(s.TracerProvider), manager.WithMeterProvider(s.MeterProvider))
	var mu lock.Mutex
	m.Register("mu", &mu)

	h, err := m.AcquireAll(ctx, "mu", "od")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Spans.Ended()) + len(s.Spans.Started()); n != 0 {
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
	ended := s.Spans.Ended()
	if len(ended) != 1 || ended[0].Name() != "acquire mutex" || ended[0].InstrumentationScope().Name != lockotel.ScopeManager {
		t.Fatalf("spans %v", ended)
	}

	counts := s.Metrics(t, lockotel.ScopeManager, "").Sums(t, "lock.acquisitions", lockotel.AttrName, lockotel.AttrKind, lockotel.AttrMode)
	want := map[string]int64{"mu/mutex/": 2, "od/rwmutex/write": 1}
	if len(counts) != len(want) || counts["mu/mutex/"] != 2 || counts["od/rwmutex/write"] != 1 {
		t.Fatalf("acquisitions %v, want %v", counts, want)
	}
}
