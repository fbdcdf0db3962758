package telemetry_test

import (
	"context"
	"errors"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/internal/oteltest"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/rw"
	"github.com/codomyrmex/concurrency/sem"
	"github.com/codomyrmex/concurrency/telemetry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sdk is an SDK tracer and meter provider pair that records in memory,
// with the options that make a wrapper record to it.
type sdk struct {
	*oteltest.SDK
	opts []telemetry.Option
}

func newSDK(t testing.TB) *sdk {
	s := oteltest.New(t)
	return &sdk{s, []telemetry.Option{telemetry.WithTracerProvider(s.TracerProvider), telemetry.WithMeterProvider(s.MeterProvider)}}
}

// metrics collects and returns the metrics of scope by name.
func (s *sdk) metrics(t testing.TB, scope string) oteltest.Metrics {
	t.Helper()
	return s.Metrics(t, scope, lockotel.Version)
}

// contend holds l, starts acquire in a goroutine, waits until it queues
// (waiting reports it), then releases l and returns acquire's error.
func contend(t *testing.T, hold, release func(), waiting func() bool, acquire func() error) error {
	t.Helper()
	hold()
	res := make(chan error, 1)
	go func() { res <- acquire() }()
	for !waiting() {
		time.Sleep(10 * time.Microsecond)
	}
	release()
	return <-res
}

func TestUncontendedStartsNoSpan(t *testing.T) {
	s := newSDK(t)
	ctx := context.Background()
	m := telemetry.NewMutex("a", nil, s.opts...)
	for range 3 {
		if err := m.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		m.Unlock()
	}
	if !m.TryLock() {
		t.Fatal("TryLock failed")
	}
	m.Unlock()
	rwm := telemetry.NewRWMutex("b", nil, s.opts...)
	rwm.RLock(ctx)
	rwm.RUnlock()
	rwm.Lock(ctx)
	rwm.Unlock()
	w := telemetry.NewWeighted("c", sem.NewWeighted(2), s.opts...)
	w.Acquire(ctx, 2)
	w.Release(2)
	if n := len(s.Spans.Ended()) + len(s.Spans.Started()); n != 0 {
		t.Fatalf("%d spans for uncontended acquisitions, want 0", n)
	}
}

func TestContendedSpan(t *testing.T) {
	s := newSDK(t)
	ctx := context.Background()
	var mu lock.Mutex
	m := telemetry.NewMutex("orders", &mu, s.opts...)
	err := contend(t, func() { m.Lock(ctx) }, m.Unlock,
		func() bool { return mu.Waiters() == 1 },
		func() error { return m.Lock(ctx) })
	if err != nil {
		t.Fatal(err)
	}
	m.Unlock()
	spans := s.Spans.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	sp := spans[0]
	if sp.Name() != "acquire mutex" {
		t.Errorf("span name %q", sp.Name())
	}
	scope := sp.InstrumentationScope()
	if scope.Name != lockotel.ScopeLock {
		t.Errorf("scope %q, want %q", scope.Name, lockotel.ScopeLock)
	}
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(scope.Version) || scope.Version != lockotel.Version {
		t.Errorf("scope version %q", scope.Version)
	}
	want := []attribute.KeyValue{lockotel.AttrName.String("orders"), lockotel.AttrKind.String("mutex")}
	if got, want := attribute.NewSet(sp.Attributes()...), attribute.NewSet(want...); !got.Equals(&want) {
		t.Errorf("attributes %v, want %v", got.Encoded(attribute.DefaultEncoder()), want.Encoded(attribute.DefaultEncoder()))
	}
	if sp.Status().Code != codes.Unset {
		t.Errorf("status %v", sp.Status())
	}
}

func TestFailedWaitSpan(t *testing.T) {
	s := newSDK(t)
	var mu rw.RWMutex
	m := telemetry.NewRWMutex("cfg", &mu, s.opts...)
	m.Lock(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	err := m.RLock(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RLock = %v", err)
	}
	m.Unlock()
	spans := s.Spans.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	sp := spans[0]
	if sp.Name() != "acquire rwmutex" || sp.InstrumentationScope().Name != lockotel.ScopeRW {
		t.Errorf("span %q in scope %q", sp.Name(), sp.InstrumentationScope().Name)
	}
	if sp.Status().Code != codes.Error || sp.Status().Description != err.Error() {
		t.Errorf("status %v", sp.Status())
	}
	want := []attribute.KeyValue{
		lockotel.AttrName.String("cfg"), lockotel.AttrKind.String("rwmutex"),
		lockotel.AttrMode.String("read"), lockotel.AttrErrorType.String("timeout"),
	}
	if got, want := attribute.NewSet(sp.Attributes()...), attribute.NewSet(want...); !got.Equals(&want) {
		t.Errorf("attributes %v, want %v", got.Encoded(attribute.DefaultEncoder()), want.Encoded(attribute.DefaultEncoder()))
	}
}

func TestDoneContextFailsWithoutSpan(t *testing.T) {
	s := newSDK(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	m := telemetry.NewMutex("a", nil, s.opts...)
	if err := m.Lock(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock(done ctx) = %v", err)
	}
	if len(s.Spans.Ended()) != 0 {
		t.Fatal("span for a call that did not wait")
	}
	got := s.metrics(t, lockotel.ScopeLock)["lock.acquisitions"]
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name: "lock.acquisitions", Description: "Acquisition attempts, by outcome.", Unit: "{acquisition}",
		Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality, IsMonotonic: true,
			DataPoints: []metricdata.DataPoint[int64]{{Attributes: attribute.NewSet(
				lockotel.AttrName.String("a"), lockotel.AttrKind.String("mutex"),
				lockotel.AttrOutcome.String("canceled"), lockotel.AttrErrorType.String("canceled"),
			), Value: 1}},
		},
	}, got, metricdatatest.IgnoreTimestamp())
}

func TestMetrics(t *testing.T) {
	s := newSDK(t)
	ctx := context.Background()
	var mu lock.Mutex
	m := telemetry.NewMutex("a", &mu, s.opts...)
	m.Lock(ctx) // uncontended
	m.Unlock()
	// One wait that succeeds, one that times out.
	if err := contend(t, func() { m.Lock(ctx) }, m.Unlock,
		func() bool { return mu.Waiters() == 1 },
		func() error { return m.Lock(ctx) }); err != nil {
		t.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if err := m.Lock(tctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
	m.Unlock()

	base := []attribute.KeyValue{lockotel.AttrName.String("a"), lockotel.AttrKind.String("mutex")}
	set := func(kv ...attribute.KeyValue) attribute.Set {
		return attribute.NewSet(append(slices.Clone(base), kv...)...)
	}
	acquired := set(lockotel.AttrOutcome.String("acquired"))
	timeout := set(lockotel.AttrOutcome.String("timeout"), lockotel.AttrErrorType.String("timeout"))
	got := s.metrics(t, lockotel.ScopeLock)
	ignore := []metricdatatest.Option{metricdatatest.IgnoreTimestamp()}

	hist := func(name, desc string, sets ...attribute.Set) metricdata.Metrics {
		h := metricdata.Histogram[float64]{Temporality: metricdata.CumulativeTemporality}
		for _, s := range sets {
			h.DataPoints = append(h.DataPoints, metricdata.HistogramDataPoint[float64]{Attributes: s})
		}
		return metricdata.Metrics{Name: name, Description: desc, Unit: "s", Data: h}
	}
	for _, want := range []metricdata.Metrics{
		hist("lock.wait.duration", "Time acquisitions that had to wait took, from the call to the outcome.", acquired, timeout),
		hist("lock.hold.duration", "Time a lock was held, from acquisition to release.", set()),
	} {
		metricdatatest.AssertEqual(t, want, got[want.Name], append(ignore, metricdatatest.IgnoreValue())...)
		for _, dp := range got[want.Name].Data.(metricdata.Histogram[float64]).DataPoints {
			if !slices.Equal(dp.Bounds, lockotel.DurationBoundaries) {
				t.Errorf("%s bounds %v", want.Name, dp.Bounds)
			}
			if want.Name == "lock.hold.duration" && dp.Count != 3 {
				t.Errorf("%d holds recorded, want 3", dp.Count)
			}
		}
	}
	if lockotel.DurationBoundaries[0] != 1e-6 || lockotel.DurationBoundaries[len(lockotel.DurationBoundaries)-1] != 10 {
		t.Errorf("boundaries %v, want 1µs to 10s", lockotel.DurationBoundaries)
	}
	sum := func(name, desc, unit string, mono bool, dps ...metricdata.DataPoint[int64]) metricdata.Metrics {
		return metricdata.Metrics{Name: name, Description: desc, Unit: unit, Data: metricdata.Sum[int64]{
			Temporality: metricdata.CumulativeTemporality, IsMonotonic: mono, DataPoints: dps}}
	}
	dp := func(s attribute.Set, v int64) metricdata.DataPoint[int64] {
		return metricdata.DataPoint[int64]{Attributes: s, Value: v}
	}
	for _, want := range []metricdata.Metrics{
		sum("lock.acquisitions", "Acquisition attempts, by outcome.", "{acquisition}", true, dp(acquired, 3), dp(timeout, 1)),
		sum("lock.contentions", "Acquisitions that had to wait.", "{contention}", true, dp(set(), 2)),
		sum("lock.waiters", "Callers waiting to acquire.", "{waiter}", false, dp(set(), 0)),
		sum("lock.holders", "Current holders (held tokens, for a semaphore).", "{holder}", false, dp(set(), 0)),
	} {
		metricdatatest.AssertEqual(t, want, got[want.Name], ignore...)
	}
}

func TestSemaphoreMetrics(t *testing.T) {
	s := newSDK(t)
	ctx := context.Background()
	w := telemetry.NewWeighted("pool", sem.NewWeighted(5), s.opts...)
	w.Acquire(ctx, 3)
	if !w.TryAcquire(1) {
		t.Fatal("TryAcquire failed")
	}
	if w.Unwrap().Available() != 1 {
		t.Fatal("Unwrap does not return the semaphore")
	}
	got := s.metrics(t, lockotel.ScopeSem)["lock.holders"]
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name: "lock.holders", Description: "Current holders (held tokens, for a semaphore).", Unit: "{holder}",
		Data: metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, DataPoints: []metricdata.DataPoint[int64]{{
			Attributes: attribute.NewSet(lockotel.AttrName.String("pool"), lockotel.AttrKind.String("semaphore")), Value: 4,
		}}},
	}, got, metricdatatest.IgnoreTimestamp())
	w.Release(4)
}

// TestUncontendedAllocs: no allocation on the uncontended paths, with the
// no-op providers, the global ones (no SDK) and an SDK.
func TestUncontendedAllocs(t *testing.T) {
	ctx := context.Background()
	noop := []telemetry.Option{
		telemetry.WithTracerProvider(tracenoop.NewTracerProvider()),
		telemetry.WithMeterProvider(metricnoop.NewMeterProvider()),
	}
	for name, opts := range map[string][]telemetry.Option{
		"noop": noop, "global": nil, "sdk": newSDK(t).opts,
	} {
		m := telemetry.NewMutex("a", nil, opts...)
		rwm := telemetry.NewRWMutex("b", nil, opts...)
		w := telemetry.NewWeighted("c", sem.NewWeighted(1), opts...)
		allocs := testing.AllocsPerRun(1000, func() {
			m.Lock(ctx)
			m.Unlock()
			rwm.Lock(ctx)
			rwm.Unlock()
			rwm.RLock(ctx)
			rwm.RUnlock()
			w.Acquire(ctx, 1)
			w.Release(1)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per uncontended round", name, allocs)
		}
	}
}
