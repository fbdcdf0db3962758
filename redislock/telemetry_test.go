package redislock_test

import (
	"context"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/internal/oteltest"
	"github.com/codomyrmex/concurrency/redislock"
)

// otelSDK records spans and metrics in memory.
type otelSDK struct{ *oteltest.SDK }

func newOtelSDK(t *testing.T) (otelSDK, []redislock.Option) {
	s := otelSDK{oteltest.New(t)}
	return s, []redislock.Option{redislock.WithTracerProvider(s.TracerProvider), redislock.WithMeterProvider(s.MeterProvider)}
}

// sum returns the total of the int64 sum metric name, 0 if absent.
func (s otelSDK) sum(t *testing.T, name string) int64 {
	t.Helper()
	return s.Metrics(t, redislock.ScopeName, "").Sums(t, name)[""]
}

// Every acquisition, uncontended or not, is a span in the package's scope;
// only one that waits has the "lock contended" event and counts as a
// contention; renewals and a lost lease are counted.
func TestTelemetry(t *testing.T) {
	_, rdb := mini(t)
	s, opts := newOtelSDK(t)
	ctx := testCtx(t, 10*time.Second)
	a := newClient(t, rdb, opts...)
	b := newClient(t, rdb, opts...)

	m := a.NewMutex("tel")
	if got := m.LockKind(); got != lockotel.KindRedis {
		t.Fatalf("LockKind = %q", got)
	}
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if n := s.sum(t, "lock.holders"); n != 1 {
		t.Fatalf("lock.holders = %d while held, want 1", n)
	}
	// Every acquisition goes over the network, so each is a span; only
	// one that waits has the contention event.
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
	time.Sleep(50 * time.Millisecond) // b waits
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
	if waited.Name() != "acquire redislock" {
		t.Fatalf("span name %q", waited.Name())
	}
	if sc := waited.InstrumentationScope(); sc.Name != redislock.ScopeName {
		t.Fatalf("span scope %q, want %q", sc.Name, redislock.ScopeName)
	}
	if ev := waited.Events(); len(ev) != 1 || ev[0].Name != "lock contended" {
		t.Fatalf("waiting acquisition's events %v, want one \"lock contended\"", ev)
	}
	if n := s.sum(t, "lock.contentions"); n != 1 {
		t.Fatalf("lock.contentions = %d, want 1", n)
	}
	if n := s.sum(t, "lock.acquisitions"); n != 2 {
		t.Fatalf("lock.acquisitions = %d, want 2", n)
	}
	if n := s.sum(t, "lock.holders"); n != 0 {
		t.Fatalf("lock.holders = %d after release, want 0", n)
	}

	l, err := a.Obtain(ctx, "renewed", redislock.WithWatchdog(100*time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if n := s.sum(t, "lock.lease.renewals"); n < 2 {
		t.Fatalf("lock.lease.renewals = %d after 5 renewal intervals", n)
	}
	rdb.Del(ctx, "lock:{renewed}")
	<-l.Done()
	_ = l.Release(ctx)
	if n := s.sum(t, "lock.lease.lost"); n != 1 {
		t.Fatalf("lock.lease.lost = %d, want 1", n)
	}
}

// A lease lost while held is an event on the holder's span: the one in the
// context given to Obtain.
func TestTelemetryLostLeaseEvent(t *testing.T) {
	_, rdb := mini(t)
	s, opts := newOtelSDK(t)
	c := newClient(t, rdb, opts...)
	ctx, span := s.TracerProvider.Tracer("test").Start(testCtx(t, 10*time.Second), "critical section")
	l, err := c.Obtain(ctx, "evt", redislock.WithWatchdog(100*time.Millisecond, 20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	rdb.Del(ctx, "lock:{evt}")
	<-l.Done()
	_ = l.Release(context.WithoutCancel(ctx))
	span.End()
	for _, sp := range s.Spans.Ended() {
		if sp.Name() != "critical section" {
			continue
		}
		for _, e := range sp.Events() {
			if e.Name == "lease lost" {
				return
			}
		}
		t.Fatalf("holder's span has events %v, want a \"lease lost\"", sp.Events())
	}
	t.Fatal("holder's span not recorded")
}

// A lease that the package ended itself (here, its holder's context) is
// recorded as released once: the Release that follows records nothing.
func TestTelemetryReleasedOnce(t *testing.T) {
	_, rdb := mini(t)
	s, opts := newOtelSDK(t)
	c := newClient(t, rdb, opts...)
	ctx, cancel := context.WithCancel(testCtx(t, 10*time.Second))
	l, err := c.Obtain(ctx, "once")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	for s.sum(t, "lock.holders") != 0 { // the lease's goroutine released it
		time.Sleep(time.Millisecond)
	}
	_ = l.Release(context.Background())
	if n := s.sum(t, "lock.holders"); n != 0 {
		t.Fatalf("lock.holders = %d after the lease ended and was released, want 0", n)
	}
}

// A semaphore records under its own kind with its weights: a lease of
// weight 3 is 3 holders while held and none after; an RW lock records
// under its kind with the mode of each lease.
func TestTelemetrySemaphoreRWMutex(t *testing.T) {
	_, rdb := mini(t)
	s, opts := newOtelSDK(t)
	ctx := testCtx(t, 10*time.Second)
	c := newClient(t, rdb, opts...)
	holders := func() map[string]int64 {
		return s.Metrics(t, redislock.ScopeName, "").Sums(t, "lock.holders", lockotel.AttrKind, lockotel.AttrMode)
	}

	sem := c.NewSemaphore("tel", 4)
	l, err := sem.Acquire(ctx, 3)
	if err != nil {
		t.Fatal(err)
	}
	if got := holders()["redissemaphore/"]; got != 3 {
		t.Fatalf("lock.holders of a semaphore with weight 3 held = %d, want 3 (%v)", got, holders())
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if got := holders()["redissemaphore/"]; got != 0 {
		t.Fatalf("lock.holders after the release = %d", got)
	}
	if k := sem.Locker(1).LockKind(); k != "redissemaphore" {
		t.Fatalf("LockKind = %q", k)
	}

	m := c.NewRWMutex("tel")
	r1, err := m.ObtainRead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := m.ObtainRead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h := holders(); h["redisrwmutex/read"] != 2 || h["redisrwmutex/write"] != 0 {
		t.Fatalf("lock.holders with two readers: %v", h)
	}
	_ = r1.Release(ctx)
	_ = r2.Release(ctx)
	w, err := m.ObtainWrite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h := holders(); h["redisrwmutex/read"] != 0 || h["redisrwmutex/write"] != 1 {
		t.Fatalf("lock.holders with a writer: %v", h)
	}
	_ = w.Release(ctx)
	var names []string
	for _, sp := range s.Spans.Ended() {
		names = append(names, sp.Name())
	}
	want := []string{"acquire redissemaphore", "acquire redisrwmutex", "acquire redisrwmutex", "acquire redisrwmutex"}
	if len(names) != len(want) {
		t.Fatalf("spans %v, want %v", names, want)
	}
	for i := range want {
		if names[i] != want[i] {
			t.Fatalf("spans %v, want %v", names, want)
		}
	}
}
