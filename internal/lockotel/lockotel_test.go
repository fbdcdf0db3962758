package lockotel_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/internal/oteltest"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/sem"
	"go.opentelemetry.io/otel/attribute"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type sdk struct {
	*oteltest.SDK
	providers lockotel.Providers
}

func newSDK(t testing.TB) *sdk {
	s := oteltest.New(t)
	return &sdk{s, lockotel.Providers{Tracer: s.TracerProvider, Meter: s.MeterProvider}}
}

func TestErrorType(t *testing.T) {
	deadline, cancel := context.WithDeadline(context.Background(), time.Now())
	defer cancel()
	<-deadline.Done()
	caused, cancelCause := context.WithCancelCause(context.Background())
	cancelCause(lock.ErrClosed) // a cause does not hide the cancellation
	for _, tc := range []struct {
		err          error
		typ, outcome string
	}{
		{nil, "", "acquired"},
		{context.DeadlineExceeded, "timeout", "timeout"},
		{context.Canceled, "canceled", "canceled"},
		{fmt.Errorf("x: %w", deadline.Err()), "timeout", "timeout"},
		{context.Cause(caused), "closed", "failed"},
		{lockErr(caused), "canceled", "canceled"},
		{lock.ErrNotAcquired, "not_acquired", "failed"},
		{lock.ErrNotHeld, "not_held", "failed"},
		{lock.ErrLockLost, "lock_lost", "failed"},
		{fmt.Errorf("release: %w: %w", lock.ErrNotHeld, lock.ErrLockLost), "lock_lost", "failed"},
		{lock.ErrClosed, "closed", "failed"},
		{sem.ErrClosed, "closed", "failed"},
		{lock.ErrInvalidArgument, "invalid_argument", "failed"},
		{lock.ErrTooManyWaiters, "too_many_waiters", "failed"},
		{sem.ErrTooLarge, "invalid_argument", "failed"},
		{errors.New("disk on fire"), "_OTHER", "failed"},
	} {
		if got := lockotel.ErrorType(tc.err); got != tc.typ {
			t.Errorf("ErrorType(%v) = %q, want %q", tc.err, got, tc.typ)
		}
		if got := lockotel.Outcome(tc.err); got != tc.outcome {
			t.Errorf("Outcome(%v) = %q, want %q", tc.err, got, tc.outcome)
		}
	}
}

// lockErr returns the error lock.Mutex.Lock gives for a done ctx.
func lockErr(ctx context.Context) error {
	var mu lock.Mutex
	return mu.Lock(ctx)
}

func TestLeaseEvents(t *testing.T) {
	s := newSDK(t)
	in, err := lockotel.New("example.com/remote", s.providers)
	if err != nil {
		t.Fatal(err)
	}
	r := in.Recorder(lockotel.KindRedis, "jobs", "")
	ctx, span := s.TracerProvider.Tracer("test").Start(context.Background(), "hold")
	r.Contended(ctx)
	r.Renewed(ctx, nil)
	r.Renewed(ctx, fmt.Errorf("renew: %w", context.DeadlineExceeded))
	r.Lost(ctx, lock.ErrLockLost)
	span.End()
	events := s.Spans.Ended()[0].Events()
	if len(events) != 3 || events[0].Name != "lock contended" || events[1].Name != "lease renewal failed" || events[2].Name != "lease lost" {
		t.Fatalf("events %v", events)
	}
	got := s.Metrics(t, "example.com/remote", lockotel.Version)
	base := []attribute.KeyValue{lockotel.AttrName.String("jobs"), lockotel.AttrKind.String("redislock")}
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name: "lock.lease.renewals", Description: "Lease renewals, by outcome.", Unit: "{renewal}",
		Data: metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true, DataPoints: []metricdata.DataPoint[int64]{
			{Attributes: attribute.NewSet(base...), Value: 1},
			{Attributes: attribute.NewSet(append(slices.Clone(base), lockotel.AttrOutcome.String("timeout"), lockotel.AttrErrorType.String("timeout"))...), Value: 1},
		}},
	}, got["lock.lease.renewals"], metricdatatest.IgnoreTimestamp())
	metricdatatest.AssertEqual(t, metricdata.Metrics{
		Name: "lock.lease.lost", Description: "Leases lost while held.", Unit: "{lease}",
		Data: metricdata.Sum[int64]{Temporality: metricdata.CumulativeTemporality, IsMonotonic: true, DataPoints: []metricdata.DataPoint[int64]{
			{Attributes: attribute.NewSet(base...), Value: 1},
		}},
	}, got["lock.lease.lost"], metricdatatest.IgnoreTimestamp())
}

func TestNoopProvidersAreOff(t *testing.T) {
	in, err := lockotel.New(lockotel.ScopeLock, lockotel.Providers{
		Tracer: tracenoop.NewTracerProvider(),
		Meter:  metricnoop.NewMeterProvider(),
	})
	if err != nil || !in.Off() || in.Recorder(lockotel.KindMutex, "a", "") != nil {
		t.Fatalf("noop providers: off = %v, err = %v", in.Off(), err)
	}
	var r *lockotel.Recorder // a nil Recorder does nothing
	r.Acquired(context.Background(), 1)
	_, w := r.Begin(context.Background(), 1)
	w.End(context.Background(), nil, 0)
	r.Released(context.Background(), 1, 0)
}

// New with an empty scope returns a usable instrumentation and an error
// wrapping lock.ErrInvalidArgument.
func TestNewEmptyScope(t *testing.T) {
	s := newSDK(t)
	in, err := lockotel.New("", s.providers)
	if !errors.Is(err, lock.ErrInvalidArgument) {
		t.Fatalf("New(\"\") = %v, want lock.ErrInvalidArgument", err)
	}
	in.Recorder(lockotel.KindMutex, "m", "").Acquired(context.Background(), 1)
}

// SetTracer and SetMeter set a provider and ignore a nil one, as every
// WithTracerProvider and WithMeterProvider option does.
func TestProvidersSet(t *testing.T) {
	var p lockotel.Providers
	tp, mp := tracenoop.NewTracerProvider(), metricnoop.NewMeterProvider()
	p.SetTracer(tp)
	p.SetMeter(mp)
	p.SetTracer(nil)
	p.SetMeter(nil)
	if p.Tracer != tp || p.Meter != mp {
		t.Fatalf("after setting and then nil: %+v, want the providers set", p)
	}
}

// Recorders keep one recorder per name, and none while the instrumentation
// is off.
func TestRecorders(t *testing.T) {
	s := newSDK(t)
	rs := lockotel.NewHandled(lockotel.ScopeFile, s.providers).Recorders(lockotel.KindRedis)
	a := rs.Get("a")
	if a == nil || rs.Get("a") != a || rs.Get("b") == a {
		t.Fatal("Get did not keep one recorder per name")
	}
	off := lockotel.NewHandled(lockotel.ScopeFile, lockotel.Providers{Tracer: tracenoop.NewTracerProvider(), Meter: metricnoop.NewMeterProvider()})
	if off.Recorders(lockotel.KindRedis).Get("a") != nil {
		t.Fatal("Get returned a recorder with telemetry off")
	}
}
