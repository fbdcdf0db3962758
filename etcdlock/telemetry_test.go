package etcdlock_test

import (
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/etcdlock"
	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/internal/oteltest"
)

// TestTelemetry: every acquisition is a span "acquire etcdlock" in the
// package's scope; only one that waits has the "lock contended" event and
// counts as a contention; holders go up and down.
func TestTelemetry(t *testing.T) {
	_, cli := single(t)
	s := oteltest.New(t)
	opts := []etcdlock.Option{etcdlock.WithTracerProvider(s.TracerProvider), etcdlock.WithMeterProvider(s.MeterProvider)}
	sum := func(name string) int64 { return s.Metrics(t, etcdlock.ScopeName, lockotel.Version).Sums(t, name)[""] }
	ctx := testCtx(t, 10*time.Second)
	a, b := newClient(t, cli, opts...), newClient(t, cli, opts...)

	m := a.NewMutex("tel")
	if got := m.LockKind(); got != "etcdlock" {
		t.Fatalf("LockKind = %q", got)
	}
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if n := sum("lock.holders"); n != 1 {
		t.Fatalf("lock.holders = %d while held, want 1", n)
	}
	if spans := s.Spans.Ended(); len(spans) != 1 || len(spans[0].Events()) != 0 {
		t.Fatalf("uncontended Lock recorded %d spans, want 1 without events", len(spans))
	}
	got := make(chan error, 1)
	go func() {
		l, err := b.Obtain(ctx, "tel")
		if err == nil {
			err = l.Release(ctx)
		}
		got <- err
	}()
	if !eventually(5*time.Second, func() bool { return len(keys(t, cli, etcdlock.DefaultPrefix)) == 2 }) {
		t.Fatal("the waiter did not queue")
	}
	if err := m.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	spans := s.Spans.Ended()
	if len(spans) != 2 {
		t.Fatalf("two acquisitions recorded %d spans, want 2", len(spans))
	}
	waited := spans[1]
	if waited.Name() != "acquire etcdlock" || waited.InstrumentationScope().Name != etcdlock.ScopeName {
		t.Fatalf("span %q in scope %q", waited.Name(), waited.InstrumentationScope().Name)
	}
	if ev := waited.Events(); len(ev) != 1 || ev[0].Name != "lock contended" {
		t.Fatalf("waiting acquisition's events %v, want one \"lock contended\"", ev)
	}
	for name, want := range map[string]int64{"lock.acquisitions": 2, "lock.contentions": 1, "lock.holders": 0, "lock.waiters": 0} {
		if n := sum(name); n != want {
			t.Errorf("%s = %d, want %d", name, n, want)
		}
	}
}
