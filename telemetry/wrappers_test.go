package telemetry_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/sem"
	"github.com/codomyrmex/concurrency/telemetry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// sums returns the int64 sum metric name as value by "mode/outcome"; the
// metric must have been recorded.
func sums(t *testing.T, s *sdk, scope, name string) map[string]int64 {
	t.Helper()
	m := s.metrics(t, scope)
	if _, ok := m[name]; !ok {
		t.Fatalf("no metric %s in scope %s", name, scope)
	}
	return m.Sums(t, name, lockotel.AttrMode, lockotel.AttrOutcome)
}

func TestRWMutexWrapper(t *testing.T) {
	s := newSDK(t)
	ctx := context.Background()
	m := telemetry.NewRWMutex("cfg", nil, s.opts...)
	if !m.TryLock() {
		t.Fatal("TryLock failed")
	}
	if m.TryRLock() {
		t.Fatal("TryRLock succeeded under a writer")
	}
	m.Downgrade() // now a reader
	r := m.RLocker()
	if err := r.Lock(ctx); err != nil { // a second reader
		t.Fatal(err)
	}
	if m.TryLock() {
		t.Fatal("TryLock succeeded under readers")
	}
	r.Unlock()
	m.RUnlock()
	// A writer that waits for a reader.
	if err := contend(t, func() { m.RLock(ctx) }, m.RUnlock,
		func() bool { return m.Unwrap().Waiters() == 1 },
		func() error { return m.Lock(ctx) }); err != nil {
		t.Fatal(err)
	}
	m.Unlock()
	got := sums(t, s, lockotel.ScopeRW, "lock.acquisitions")
	want := map[string]int64{"write/acquired": 2, "read/acquired": 3}
	if len(got) != len(want) || got["write/acquired"] != 2 || got["read/acquired"] != 3 {
		t.Errorf("acquisitions %v, want %v", got, want)
	}
	if h := sums(t, s, lockotel.ScopeRW, "lock.holders"); h["write/"] != 0 || h["read/"] != 0 {
		t.Errorf("holders %v, want 0", h)
	}
	if n := len(s.Spans.Ended()); n != 1 {
		t.Errorf("%d spans, want 1 (the waiting writer)", n)
	}
}

func TestWeightedWrapper(t *testing.T) {
	s := newSDK(t)
	ctx := context.Background()
	w := telemetry.NewWeighted("pool", sem.NewWeighted(2), s.opts...)
	if err := w.Acquire(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if err := w.Acquire(ctx, -1); !errors.Is(err, lock.ErrInvalidArgument) {
		t.Fatalf("Acquire(-1) = %v", err)
	}
	if err := w.Acquire(ctx, 3); !errors.Is(err, sem.ErrTooLarge) {
		t.Fatalf("Acquire(3) = %v", err)
	}
	if err := contend(t, func() { w.Acquire(ctx, 2) }, func() { w.Release(2) },
		func() bool { return w.Unwrap().Waiters() == 1 },
		func() error { return w.Acquire(ctx, 2) }); err != nil {
		t.Fatal(err)
	}
	w.Release(2)
	got := sums(t, s, lockotel.ScopeSem, "lock.acquisitions")
	if got["/acquired"] != 3 || got["/failed"] != 2 {
		t.Errorf("acquisitions %v, want 3 acquired and 2 failed", got)
	}
	spans := s.Spans.Ended()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	want := attribute.NewSet(lockotel.AttrName.String("pool"), lockotel.AttrKind.String("semaphore"))
	if got := attribute.NewSet(spans[0].Attributes()...); spans[0].Name() != "acquire semaphore" || !got.Equals(&want) {
		t.Errorf("span %q %v", spans[0].Name(), spans[0].Attributes())
	}
}

// TestWrappersTooManyWaiters: a Lock or RLock refused by the bound of the
// wrapped lock is a failed acquisition with error.type too_many_waiters, on
// the metric and on the span.
func TestWrappersTooManyWaiters(t *testing.T) {
	ctx := context.Background()
	refuse := func(t *testing.T, s *sdk, scope string, hold, release func(), waiters func() int, lockFn func(context.Context) error) {
		t.Helper()
		hold()
		queued := make(chan error, 1)
		go func() { queued <- lockFn(ctx) }()
		for waiters() != 1 {
			time.Sleep(10 * time.Microsecond)
		}
		if err := lockFn(ctx); !errors.Is(err, lock.ErrTooManyWaiters) {
			t.Fatalf("over the bound: %v, want lock.ErrTooManyWaiters", err)
		}
		release()
		if err := <-queued; err != nil {
			t.Fatal(err)
		}
		refused := 0
		for _, dp := range s.metrics(t, scope)["lock.acquisitions"].Data.(metricdata.Sum[int64]).DataPoints {
			typ, _ := dp.Attributes.Value(lockotel.AttrErrorType)
			outcome, _ := dp.Attributes.Value(lockotel.AttrOutcome)
			if typ.AsString() == lockotel.ErrorTypeTooManyWaiters {
				refused += int(dp.Value)
				if outcome.AsString() != lockotel.OutcomeFailed {
					t.Errorf("refusal has outcome %q", outcome.AsString())
				}
			}
		}
		if refused != 1 {
			t.Errorf("%d acquisitions with error.type too_many_waiters, want 1", refused)
		}
		spans := 0
		for _, sp := range s.Spans.Ended() {
			for _, kv := range sp.Attributes() {
				if kv.Key == lockotel.AttrErrorType && kv.Value.AsString() == lockotel.ErrorTypeTooManyWaiters {
					spans++
				}
			}
		}
		if spans != 1 {
			t.Errorf("%d spans with error.type too_many_waiters, want 1", spans)
		}
	}
	t.Run("Mutex", func(t *testing.T) {
		s := newSDK(t)
		m := telemetry.NewMutex("m", nil, s.opts...)
		m.Unwrap().SetMaxWaiters(1)
		refuse(t, s, lockotel.ScopeLock, func() { m.Lock(ctx) }, m.Unlock, m.Unwrap().Waiters, m.Lock)
		m.Unlock()
	})
	t.Run("RWMutex", func(t *testing.T) {
		s := newSDK(t)
		m := telemetry.NewRWMutex("rw", nil, s.opts...)
		m.Unwrap().SetMaxWaiters(1)
		refuse(t, s, lockotel.ScopeRW, func() { m.Lock(ctx) }, m.Unlock, m.Unwrap().Waiters, m.RLock)
		m.RUnlock()
	})
}
