package manager_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/internal/oteltest"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/manager"
	"github.com/codomyrmex/concurrency/rw"
)

// errTry is an rw.RWMutex whose TryLock and TryRLock have the shape of
// filelock.Lock's: nil if held, an error wrapping lock.ErrNotAcquired if
// they would have to wait, or tryErr if set. It reports its lock.kind.
type errTry struct {
	rw.RWMutex
	tryErr error
	locks  atomic.Int64 // calls of Lock and RLock
}

func (l *errTry) try(try func() bool) error {
	switch {
	case l.tryErr != nil:
		return l.tryErr
	case try():
		return nil
	}
	return fmt.Errorf("errTry: busy: %w", lock.ErrNotAcquired)
}

func (l *errTry) TryLock() error   { return l.try(l.RWMutex.TryLock) }
func (l *errTry) TryRLock() error  { return l.try(l.RWMutex.TryRLock) }
func (l *errTry) LockKind() string { return "custom" }

func (l *errTry) Lock(ctx context.Context) error {
	l.locks.Add(1)
	return l.RWMutex.Lock(ctx)
}

func (l *errTry) RLock(ctx context.Context) error {
	l.locks.Add(1)
	return l.RWMutex.RLock(ctx)
}

// contendOn holds name in mode through m, acquires it again in mode from
// another goroutine, and releases the first hold once the second waits.
func contendOn(t *testing.T, m *manager.Manager, name string, hold, wait manager.Mode) {
	t.Helper()
	ctx := context.Background()
	h, err := m.Acquire(ctx, manager.Request{Name: name, Mode: hold})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		h, err := m.Acquire(ctx, manager.Request{Name: name, Mode: wait})
		if err == nil {
			err = h.Release(ctx)
		}
		done <- err
	}()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Microsecond) {
		if st, _ := m.Stats(name); st.Waiters == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second acquisition never waited")
		}
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// TryLock() error and TryRLock() error are tried first: an uncontended
// acquisition does not call Lock, and one that finds the lock busy counts
// as contended.
func TestTryLockErrorShape(t *testing.T) {
	ctx := context.Background()
	m := manager.New()
	l := new(errTry)
	m.Register("e", l)
	for _, mode := range []manager.Mode{manager.ModeWrite, manager.ModeRead} {
		h, err := m.Acquire(ctx, manager.Request{Name: "e", Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		h.Release(ctx)
	}
	if n := l.locks.Load(); n != 0 {
		t.Fatalf("%d calls of Lock or RLock for uncontended acquisitions, want 0", n)
	}
	contendOn(t, m, "e", manager.ModeWrite, manager.ModeWrite)
	contendOn(t, m, "e", manager.ModeWrite, manager.ModeRead)
	st, _ := m.Stats("e")
	if st.Acquisitions != 6 || st.Contended != 2 || st.Holders != 0 || st.Waiters != 0 {
		t.Errorf("stats %+v, want 6 acquisitions, 2 contended", st)
	}
}

// A try that fails with another error than lock.ErrNotAcquired is not
// contention: Lock decides.
func TestTryLockErrorFailure(t *testing.T) {
	ctx := context.Background()
	m := manager.New()
	l := &errTry{tryErr: errors.New("disk on fire")}
	m.Register("e", l)
	h, err := m.AcquireAll(ctx, "e")
	if err != nil {
		t.Fatalf("AcquireAll = %v; Lock should decide, and it succeeds", err)
	}
	h.Release(ctx)
	st, _ := m.Stats("e")
	if l.locks.Load() != 1 || st.Acquisitions != 1 || st.Contended != 0 {
		t.Errorf("%d Lock calls, stats %+v; want 1 call, 1 acquisition, none contended", l.locks.Load(), st)
	}
}

// LockKind sets lock.kind; a contended acquisition of a lock with
// TryLock() error gets the span and the contention of a wait.
func TestLockKindTelemetry(t *testing.T) {
	s := oteltest.New(t)
	m := manager.New(manager.WithTracerProvider(s.TracerProvider), manager.WithMeterProvider(s.MeterProvider))
	m.Register("e", new(errTry))
	contendOn(t, m, "e", manager.ModeWrite, manager.ModeRead)

	ended := s.Spans.Ended()
	if len(ended) != 1 || ended[0].Name() != "acquire custom" {
		t.Fatalf("spans %v, want one \"acquire custom\"", ended)
	}
	contentions := s.Metrics(t, lockotel.ScopeManager, "").Sums(t, "lock.contentions", lockotel.AttrKind, lockotel.AttrMode)
	if len(contentions) != 1 || contentions["custom/read"] != 1 {
		t.Errorf("contentions %v, want custom/read: 1", contentions)
	}
}

// ctxTry is an rw.RWMutex whose TryLock and TryRLock have the shape of
// redislock.Mutex's: they take the acquisition's ctx and return nil if
// held, or an error wrapping lock.ErrNotAcquired if they would have to
// wait. It remembers the ctx of the last try.
type ctxTry struct {
	rw.RWMutex
	locks   atomic.Int64 // calls of Lock and RLock
	lastCtx atomic.Pointer[context.Context]
}

func (l *ctxTry) try(ctx context.Context, try func() bool) error {
	l.lastCtx.Store(&ctx)
	if err := ctx.Err(); err != nil {
		return err
	}
	if try() {
		return nil
	}
	return fmt.Errorf("ctxTry: busy: %w", lock.ErrNotAcquired)
}

func (l *ctxTry) TryLock(ctx context.Context) error  { return l.try(ctx, l.RWMutex.TryLock) }
func (l *ctxTry) TryRLock(ctx context.Context) error { return l.try(ctx, l.RWMutex.TryRLock) }

func (l *ctxTry) Lock(ctx context.Context) error {
	l.locks.Add(1)
	return l.RWMutex.Lock(ctx)
}

func (l *ctxTry) RLock(ctx context.Context) error {
	l.locks.Add(1)
	return l.RWMutex.RLock(ctx)
}

type ctxKey struct{}

// TryLock(ctx) error and TryRLock(ctx) error are tried first, with the
// acquisition's ctx: an uncontended acquisition does not call Lock, and one
// that finds the lock busy counts as contended.
func TestTryLockContextShape(t *testing.T) {
	ctx := context.WithValue(context.Background(), ctxKey{}, "acquisition")
	m := manager.New()
	l := new(ctxTry)
	if err := m.Register("c", l); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []manager.Mode{manager.ModeWrite, manager.ModeRead} {
		l.lastCtx.Store(nil)
		h, err := m.Acquire(ctx, manager.Request{Name: "c", Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		h.Release(ctx)
		if p := l.lastCtx.Load(); p == nil || (*p).Value(ctxKey{}) != "acquisition" {
			t.Fatalf("%v: the try did not get the acquisition's ctx", mode)
		}
	}
	if n := l.locks.Load(); n != 0 {
		t.Fatalf("%d calls of Lock or RLock for uncontended acquisitions, want 0", n)
	}
	contendOn(t, m, "c", manager.ModeWrite, manager.ModeWrite)
	contendOn(t, m, "c", manager.ModeWrite, manager.ModeRead)
	st, _ := m.Stats("c")
	if st.Acquisitions != 6 || st.Contended != 2 || st.Holders != 0 || st.Waiters != 0 {
		t.Errorf("stats %+v, want 6 acquisitions, 2 contended", st)
	}
}
