//go:build linux

package filelock_test

import (
	"context"
	"errors"
	"path/filepath"
	"regexp"
	"slices"
	"testing"

	"github.com/codomyrmex/concurrency/filelock"
	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/internal/oteltest"
	"github.com/codomyrmex/concurrency/internal/race"
	"github.com/codomyrmex/concurrency/lock"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/sys/unix"
)

// sdk is an OpenTelemetry SDK that records in memory, with the options
// that make a Lock record to it.
type sdk struct {
	*oteltest.SDK
	opts []filelock.Option
}

func newSDK(t testing.TB) *sdk {
	s := oteltest.New(t)
	return &sdk{s, []filelock.Option{filelock.WithTracerProvider(s.TracerProvider), filelock.WithMeterProvider(s.MeterProvider)}}
}

// metrics collects the metrics, checking that they are all in the scope of
// package filelock, and returns them by name.
func (s *sdk) metrics(t *testing.T) oteltest.Metrics {
	t.Helper()
	return s.Metrics(t, lockotel.ScopeFile, lockotel.Version)
}

// sums returns the data points of the int64 sum metric name by
// "mode/outcome/error.type".
func (s *sdk) sums(t *testing.T, name string) map[string]int64 {
	t.Helper()
	return s.metrics(t).Sums(t, name, lockotel.AttrMode, lockotel.AttrOutcome, lockotel.AttrErrorType)
}

// started waits until n spans have started: the waits have begun.
func (s *sdk) started(t *testing.T, n int) {
	t.Helper()
	waitFor(t, "a span to start", func() bool { return len(s.Spans.Started()) == n })
}

func attrs(kv ...attribute.KeyValue) string {
	set := attribute.NewSet(kv...)
	return set.Encoded(attribute.DefaultEncoder())
}

func TestTelemetryUncontendedStartsNoSpan(t *testing.T) {
	s := newSDK(t)
	ctx := context.Background()
	l := newLock(t, s.opts...)
	for range 2 {
		if err := l.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		l.Unlock()
	}
	if err := l.TryLock(); err != nil {
		t.Fatal(err)
	}
	notAcquired(t, "TryRLock", l.TryRLock()) // not recorded
	l.Unlock()
	if err := l.RLock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.TryRLock(); err != nil {
		t.Fatal(err)
	}
	l.RUnlock()
	l.RUnlock()
	if n := len(s.Spans.Started()); n != 0 {
		t.Fatalf("%d spans for uncontended acquisitions, want 0", n)
	}
	if got, want := s.sums(t, "lock.acquisitions"), map[string]int64{"write/acquired/": 3, "read/acquired/": 2}; !equal(got, want) {
		t.Errorf("acquisitions %v, want %v", got, want)
	}
	if got, want := s.sums(t, "lock.holders"), map[string]int64{"write//": 0, "read//": 0}; !equal(got, want) {
		t.Errorf("holders %v, want %v", got, want)
	}
	if got := s.sums(t, "lock.contentions"); len(got) != 0 {
		t.Errorf("contentions %v, want none", got)
	}
	hold := s.metrics(t)["lock.hold.duration"].Data.(metricdata.Histogram[float64]).DataPoints
	if len(hold) != 1 || hold[0].Count != 3 || !slices.Equal(hold[0].Bounds, lockotel.DurationBoundaries) {
		t.Errorf("hold durations %+v, want 3 exclusive holds with lockotel.DurationBoundaries", hold)
	}
}

func equal(a, b map[string]int64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// A wait behind another Lock of the same process makes one span, with the
// path as lock.name, in the package's scope.
func TestTelemetryContendedSpan(t *testing.T) {
	s := newSDK(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "lock")
	holder, waiter := openLock(t, path, s.opts...), openLock(t, path, s.opts...)
	if err := holder.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- waiter.Lock(ctx) }()
	s.started(t, 1)
	holder.Unlock()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	waiter.Unlock()

	spans := s.Spans.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	sp := spans[0]
	if sp.Name() != "acquire filelock" || sp.SpanKind() != trace.SpanKindInternal || sp.Status().Code != codes.Unset {
		t.Errorf("span %q, kind %v, status %v", sp.Name(), sp.SpanKind(), sp.Status())
	}
	scope := sp.InstrumentationScope()
	if scope.Name != "github.com/codomyrmex/concurrency/filelock" ||
		!regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(scope.Version) || scope.Version != lockotel.Version {
		t.Errorf("scope %q version %q", scope.Name, scope.Version)
	}
	want := attrs(lockotel.AttrName.String(path), lockotel.AttrKind.String("filelock"), lockotel.AttrMode.String("write"))
	if got := attrs(sp.Attributes()...); got != want {
		t.Errorf("attributes %s, want %s", got, want)
	}

	if got, want := s.sums(t, "lock.contentions"), map[string]int64{"write//": 1}; !equal(got, want) {
		t.Errorf("contentions %v, want %v", got, want)
	}
	if got, want := s.sums(t, "lock.waiters"), map[string]int64{"write//": 0}; !equal(got, want) {
		t.Errorf("waiters %v, want %v", got, want)
	}
	base := []attribute.KeyValue{lockotel.AttrName.String(path), lockotel.AttrKind.String("filelock"), lockotel.AttrMode.String("write")}
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name:        "lock.wait.duration",
		Description: "Time acquisitions that had to wait took, from the call to the outcome.",
		Unit:        "s",
		Data: metricdata.Histogram[float64]{
			Temporality: metricdata.CumulativeTemporality,
			DataPoints: []metricdata.HistogramDataPoint[float64]{{
				Attributes: attribute.NewSet(append(base, lockotel.AttrOutcome.String("acquired"))...),
				Count:      1,
				Bounds:     lockotel.DurationBoundaries,
			}},
		},
	}, s.metrics(t)["lock.wait.duration"], metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreValue())
}

// A shared wait for another process's exclusive lock makes a span too, and
// a cancelled one sets the status and error.type.
func TestTelemetryCanceledWaitForProcess(t *testing.T) {
	s := newSDK(t)
	dir := t.TempDir()
	l, err := filelock.NewNamed("jobs", append(s.opts, filelock.WithDir(dir))...)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	release := rawLock(t, l.Path(), unix.LOCK_EX) // as another process would

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.RLock(ctx) }()
	s.started(t, 1)
	cancel()
	err = <-done
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("RLock = %v, want context.Canceled", err)
	}
	// A second wait, that succeeds when the other process lets go.
	go func() { done <- l.RLock(context.Background()) }()
	s.started(t, 2)
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	l.RUnlock()

	spans := s.Spans.Ended()
	if len(spans) != 2 {
		t.Fatalf("%d spans, want 2", len(spans))
	}
	sp := spans[0]
	if sp.Name() != "acquire filelock" || sp.Status().Code != codes.Error || sp.Status().Description != err.Error() {
		t.Errorf("span %q status %v, want Error %q", sp.Name(), sp.Status(), err)
	}
	base := []attribute.KeyValue{lockotel.AttrName.String("jobs"), lockotel.AttrKind.String("filelock"), lockotel.AttrMode.String("read")}
	if got, want := attrs(sp.Attributes()...), attrs(append(base, lockotel.AttrErrorType.String("canceled"))...); got != want {
		t.Errorf("attributes %s, want %s", got, want)
	}
	if got, want := attrs(spans[1].Attributes()...), attrs(base...); got != want || spans[1].Status().Code != codes.Unset {
		t.Errorf("second span: attributes %s, status %v; want %s, Unset", got, spans[1].Status(), want)
	}
	want := map[string]int64{"read/canceled/canceled": 1, "read/acquired/": 1}
	if got := s.sums(t, "lock.acquisitions"); !equal(got, want) {
		t.Errorf("acquisitions %v, want %v", got, want)
	}
	if got, want := s.sums(t, "lock.contentions"), map[string]int64{"read//": 2}; !equal(got, want) {
		t.Errorf("contentions %v, want %v", got, want)
	}
}

// Calls that fail without waiting (a done context, a closed Lock) are
// counted, without a span.
func TestTelemetryFailuresWithoutWait(t *testing.T) {
	s := newSDK(t)
	l, err := filelock.New(filepath.Join(t.TempDir(), "lock"), s.opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := l.Lock(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock(done ctx) = %v", err)
	}
	l.Close()
	if err := l.TryRLock(); !errors.Is(err, lock.ErrClosed) {
		t.Fatalf("TryRLock after Close = %v", err)
	}
	if n := len(s.Spans.Started()); n != 0 {
		t.Errorf("%d spans, want 0", n)
	}
	want := map[string]int64{"write/canceled/canceled": 1, "read/failed/closed": 1}
	if got := s.sums(t, "lock.acquisitions"); !equal(got, want) {
		t.Errorf("acquisitions %v, want %v", got, want)
	}
}

// noopOpts turn telemetry off.
var noopOpts = []filelock.Option{
	filelock.WithTracerProvider(tracenoop.NewTracerProvider()),
	filelock.WithMeterProvider(metricnoop.NewMeterProvider()),
}

// With the global providers (no SDK) and with an SDK, the uncontended
// paths allocate no more than with telemetry off: nothing, but for what
// the race detector adds.
func TestTelemetryUncontendedAllocs(t *testing.T) {
	ctx := context.Background()
	round := func(opts []filelock.Option) float64 {
		l := newLock(t, opts...)
		return testing.AllocsPerRun(200, func() {
			if err := l.Lock(ctx); err != nil {
				t.Fatal(err)
			}
			l.Unlock()
			if err := l.RLock(ctx); err != nil {
				t.Fatal(err)
			}
			l.RUnlock()
		})
	}
	off := round(noopOpts)
	if off != 0 && !race.Enabled {
		t.Errorf("off: %v allocations per uncontended round, want 0", off)
	}
	for name, opts := range map[string][]filelock.Option{"global": nil, "sdk": newSDK(t).opts} {
		if n := round(opts); n != off {
			t.Errorf("%s: %v allocations per uncontended round, want %v as with telemetry off", name, n, off)
		}
	}
}

func TestLockKind(t *testing.T) {
	if k := newLock(t).LockKind(); k != "filelock" {
		t.Errorf("LockKind = %q", k)
	}
}

// A call refused by WithMaxWaiters is a failed acquisition with error.type
// too_many_waiters, without a span (it does not wait).
func TestTelemetryTooManyWaiters(t *testing.T) {
	s := newSDK(t)
	l := newLock(t, append(s.opts, filelock.WithMaxWaiters(1))...)
	release := rawLock(t, l.Path(), unix.LOCK_EX)
	got := make(chan error, 1)
	go func() { got <- l.Lock(context.Background()) }()
	s.started(t, 1)
	if err := l.RLock(context.Background()); !errors.Is(err, lock.ErrTooManyWaiters) {
		t.Fatalf("RLock over the bound = %v", err)
	}
	release()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	l.Unlock()
	if n := len(s.Spans.Started()); n != 1 {
		t.Errorf("%d spans, want 1 (the wait)", n)
	}
	if got := s.sums(t, "lock.acquisitions"); got["read/failed/too_many_waiters"] != 1 || got["write/acquired/"] != 1 {
		t.Errorf("acquisitions %v, want one refused read and one write", got)
	}
}
