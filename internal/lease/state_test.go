package lease_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/lease"
	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/internal/oteltest"
	"github.com/codomyrmex/concurrency/lock"
)

var testBackend = lease.NewBackend("testlock")

const scope = "github.com/codomyrmex/concurrency/internal/lease_test"

// telemetry returns a recorder of the lock called name and a function
// that returns the total of an int64 sum it recorded.
func telemetry(t *testing.T, name string) (*lockotel.Recorder, func(metric string) int64) {
	t.Helper()
	s := oteltest.New(t)
	in, err := lockotel.New(scope, lockotel.Providers{Tracer: s.TracerProvider, Meter: s.MeterProvider})
	if err != nil {
		t.Fatal(err)
	}
	sum := func(metric string) int64 { return s.Metrics(t, scope, "").Sums(t, metric)[""] }
	return in.Recorder(lockotel.KindLocker, name, ""), sum
}

// started returns a started State of the lock "x", watched by a goroutine
// (see State.Watch), valid for ttl from now; its goroutine's exit is
// signalled at the end of the test.
func started(t *testing.T, holdCtx context.Context, rec *lockotel.Recorder, ttl time.Duration) *lease.State {
	t.Helper()
	s := new(lease.State)
	s.Start(holdCtx, testBackend, "x", rec)
	s.Watch()
	s.ValidFrom(time.Now(), ttl)
	t.Cleanup(func() {
		s.End(errors.New("test over"))
		select {
		case <-s.Stopped():
		default:
			s.Exit()
		}
	})
	return s
}

func TestStateEnd(t *testing.T) {
	type key struct{}
	holdCtx := context.WithValue(context.Background(), key{}, "v")
	s := started(t, holdCtx, nil, time.Second)
	if s.Name() != "x" || s.Err() != nil || s.Context().Value(key{}) != "v" {
		t.Fatalf("new state: name %q, Err %v, value %v", s.Name(), s.Err(), s.Context().Value(key{}))
	}
	reason := errors.New("reason")
	lost := s.Lost(reason)
	if !errors.Is(lost, lock.ErrLockLost) || !errors.Is(lost, reason) || lost.Error() != `testlock: lease on "x": `+lock.ErrLockLost.Error()+`: reason` {
		t.Fatalf("Lost = %q", lost)
	}
	if !s.End(lost) {
		t.Fatal("first End reported the lease ended already")
	}
	if s.End(errors.New("other")) {
		t.Fatal("second End reported ending the lease")
	}
	<-s.Done()
	if s.Err() != lost || context.Cause(s.Context()) != lost {
		t.Fatalf("Err = %v, cause %v, want %v", s.Err(), context.Cause(s.Context()), lost)
	}
	if s.Validity() != 0 {
		t.Fatalf("Validity of an ended lease = %v", s.Validity())
	}
}

// The holder's context ends the lease's context, though not End.
func TestStateHoldContext(t *testing.T) {
	holdCtx, cancel := context.WithCancelCause(context.Background())
	s := started(t, holdCtx, nil, time.Second)
	cause := errors.New("holder gone")
	cancel(cause)
	<-s.Done()
	if s.Err() != cause {
		t.Fatalf("Err = %v, want the holder's cause", s.Err())
	}
	if !s.End(cause) {
		t.Fatal("End after the holder's context ended reported the lease ended already")
	}
}

// A loss and the end of the hold are recorded only once the lock is held,
// and the end of the hold once.
func TestStateRecords(t *testing.T) {
	rec, sum := telemetry(t, "x")
	s := started(t, context.Background(), rec, time.Second)
	s.RecordRenewal(nil)
	s.RecordRelease(context.Background())
	if n := sum("lock.lease.renewals"); n != 0 {
		t.Fatalf("%d renewals recorded before Hold", n)
	}
	if n := sum("lock.holders"); n != 0 {
		t.Fatalf("holders %d after a release recorded before Hold", n)
	}
	granted := time.Now()
	s.Hold(granted)
	if !s.Granted().Equal(granted) {
		t.Fatalf("Granted = %v, want %v", s.Granted(), granted)
	}
	s.RecordRenewal(nil)
	s.End(s.Lost(errors.New("gone")))
	s.RecordRelease(context.Background())
	s.RecordRelease(context.Background())
	if n := sum("lock.lease.renewals"); n != 1 {
		t.Fatalf("%d renewals recorded, want 1", n)
	}
	if n := sum("lock.lease.lost"); n != 1 {
		t.Fatalf("%d losses recorded, want 1", n)
	}
	if n := sum("lock.holders"); n != -1 {
		t.Fatalf("holders %d after two RecordRelease, want -1 (one release)", n)
	}

	// An end that is not a loss is not recorded as one; nor is a loss
	// before Hold.
	for _, held := range []bool{true, false} {
		s := started(t, context.Background(), rec, time.Second)
		if held {
			s.Hold(time.Now())
			s.End(lock.ErrClosed)
		} else {
			s.End(s.Lost(errors.New("gone")))
		}
	}
	if n := sum("lock.lease.lost"); n != 1 {
		t.Fatalf("%d losses recorded, want still 1", n)
	}
}

// A weighed lease records the end of its hold with its weight.
func TestStateWeigh(t *testing.T) {
	rec, sum := telemetry(t, "x")
	s := started(t, context.Background(), rec, time.Second)
	s.Weigh(5)
	s.Hold(time.Now())
	s.RecordRelease(context.Background())
	if n := sum("lock.holders"); n != -5 {
		t.Fatalf("holders %d after the release of weight 5, want -5", n)
	}
}

func TestValidity(t *testing.T) {
	s := new(lease.State)
	s.Start(context.Background(), testBackend, "x", nil)
	defer s.End(lock.ErrClosed)
	if s.Validity() != 0 || s.Remaining() > 0 {
		t.Fatalf("validity %v, remaining %v before ValidFrom, want none", s.Validity(), s.Remaining())
	}
	start := time.Now()
	s.ValidFrom(start, 10*time.Second)
	want := lease.ValidUntil(start, 10*time.Second)
	if want != start.Add(10*time.Second-101*time.Millisecond) {
		t.Fatalf("ValidUntil(start, 10s) = start + %v, want the TTL less 1%% and 1ms", want.Sub(start))
	}
	most := time.Until(want)
	if v := s.Validity(); v <= 9*time.Second || v > most {
		t.Fatalf("Validity = %v, want about %v", v, most)
	}
	s.ValidFrom(start.Add(-time.Second), 10*time.Second) // an older renewal
	if d := s.Remaining(); d <= 9*time.Second {
		t.Fatalf("an older renewal moved the validity back: %v left", d)
	}
	ctx, cancel := s.WithValidity(context.Background())
	defer cancel()
	if d, ok := ctx.Deadline(); !ok || !d.Equal(want) {
		t.Fatalf("WithValidity's deadline %v, %v, want %v", d, ok, want)
	}
	now := time.Now()
	most = time.Until(want)
	if d := s.UntilNext(time.Time{}, time.Time{}); d > most || d < 9*time.Second {
		t.Fatalf("UntilNext with neither = %v, want the validity", d)
	}
	if d := s.UntilNext(now.Add(time.Second), now.Add(2*time.Second)); d > time.Second {
		t.Fatalf("UntilNext = %v, want the renewal's 1s at most", d)
	}
	if d := s.UntilNext(now.Add(3*time.Second), now.Add(2*time.Second)); d > 2*time.Second || d <= time.Second {
		t.Fatalf("UntilNext = %v, want the maximum hold's 2s", d)
	}
}

func TestExpired(t *testing.T) {
	if got := lease.Expired(nil).Error(); got != "the lease's TTL ran out" {
		t.Fatalf("Expired(nil) = %q", got)
	}
	renewErr := errors.New("timeout")
	if got := lease.Expired(renewErr); !errors.Is(got, renewErr) || !strings.HasPrefix(got.Error(), "no renewal confirmed") {
		t.Fatalf("Expired(err) = %q", got)
	}
}
