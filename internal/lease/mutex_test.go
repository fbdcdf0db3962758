package lease_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/lease"
	"github.com/codomyrmex/concurrency/lock"
)

// testLease is a lease that counts its releases.
type testLease struct {
	ctx      context.Context
	cancel   context.CancelFunc
	releases int
	err      error // Release's
}

func newTestLease() *testLease {
	ctx, cancel := context.WithCancel(context.Background())
	return &testLease{ctx: ctx, cancel: cancel}
}

func (l *testLease) Context() context.Context { return l.ctx }
func (l *testLease) Done() <-chan struct{}    { return l.ctx.Done() }
func (l *testLease) Release(context.Context) error {
	l.releases++
	l.cancel()
	return l.err
}

func obtainer(l *testLease, err error) func(context.Context) (*testLease, error) {
	return func(context.Context) (*testLease, error) {
		if err != nil {
			return nil, err
		}
		return l, nil
	}
}

func release(l *testLease) { _ = l.Release(context.Background()) }

func TestMutex(t *testing.T) {
	ctx := context.Background()
	var m lease.Mutex[*testLease]
	m.Init(testBackend, "x", nil)
	select {
	case <-m.Done():
	default:
		t.Fatal("Done of an unlocked Mutex is open")
	}
	if m.Lease() != nil {
		t.Fatal("an unlocked Mutex has a lease")
	}
	failed := errors.New("failed")
	if err := m.Lock(ctx, obtainer(nil, failed)); err != failed || m.Lease() != nil {
		t.Fatalf("Lock whose obtain failed = %v, lease %v", err, m.Lease())
	}

	l := newTestLease()
	if err := m.Lock(ctx, obtainer(l, nil)); err != nil || m.Lease() != l || m.Done() != l.Done() {
		t.Fatalf("Lock = %v; lease %v, want %v", err, m.Lease(), l)
	}
	m.Unlock(release)
	if l.releases != 1 || m.Lease() != nil {
		t.Fatalf("Unlock: %d releases, lease %v", l.releases, m.Lease())
	}
	func() {
		defer func() {
			if r := recover(); r != "testlock: Unlock of unlocked Mutex" {
				t.Fatalf("Unlock of an unlocked Mutex panicked with %v", r)
			}
		}()
		m.Unlock(release)
	}()

	l = newTestLease()
	l.err = errors.New("release failed")
	_ = m.Lock(ctx, obtainer(l, nil))
	if err := m.Release(ctx); err != l.err || m.Lease() != nil {
		t.Fatalf("Release = %v, lease %v", err, m.Lease())
	}
	if err := m.Release(ctx); !errors.Is(err, lock.ErrNotHeld) || err.Error() != `testlock: release of unlocked Mutex "x": `+lock.ErrNotHeld.Error() {
		t.Fatalf("Release of an unlocked Mutex = %v", err)
	}
}

// A Mutex made with InitTurn keeps one lease at a time: Lock waits while
// it is locked, TryLock fails, and its panics and errors name its type.
func TestMutexTurn(t *testing.T) {
	ctx := context.Background()
	var m lease.Mutex[*testLease]
	m.InitTurn(testBackend, "Locker", "x", nil)
	first := newTestLease()
	if err := m.Lock(ctx, obtainer(first, nil)); err != nil {
		t.Fatal(err)
	}
	if err := m.TryLock(ctx, func(context.Context) (*testLease, error) { t.Fatal("obtained while locked"); return nil, nil }); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryLock of a locked Mutex = %v", err)
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := m.Lock(short, func(context.Context) (*testLease, error) { t.Fatal("obtained while locked"); return nil, nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock of a locked Mutex = %v, want the context's error", err)
	}
	second := newTestLease()
	locked := make(chan error, 1)
	go func() { locked <- m.Lock(ctx, obtainer(second, nil)) }()
	select {
	case err := <-locked:
		t.Fatalf("Lock returned %v while locked", err)
	case <-time.After(20 * time.Millisecond):
	}
	m.Unlock(release)
	if err := <-locked; err != nil || m.Lease() != second || first.releases != 1 {
		t.Fatalf("Lock after Unlock = %v, lease %v", err, m.Lease())
	}
	if err := m.Release(ctx); err != nil || second.releases != 1 {
		t.Fatalf("Release = %v", err)
	}
	// A failed obtain gives the turn back.
	if err := m.Lock(ctx, obtainer(nil, errors.New("failed"))); err == nil {
		t.Fatal("Lock whose obtain failed succeeded")
	}
	if err := m.TryLock(ctx, obtainer(newTestLease(), nil)); err != nil {
		t.Fatalf("TryLock after a failed Lock = %v", err)
	}
	_ = m.Release(ctx)
	func() {
		defer func() {
			if r := recover(); r != "testlock: Unlock of unlocked Locker" {
				t.Fatalf("Unlock of an unlocked Mutex panicked with %v", r)
			}
		}()
		m.Unlock(release)
	}()
	if err := m.Release(ctx); err == nil || err.Error() != `testlock: release of unlocked Locker "x": `+lock.ErrNotHeld.Error() {
		t.Fatalf("Release of an unlocked Mutex = %v", err)
	}
}

// A Mutex made with an error reports it from every Lock, without obtain.
func TestMutexError(t *testing.T) {
	bad := errors.New("bad name")
	var m lease.Mutex[*testLease]
	m.Init(testBackend, "", bad)
	obtain := func(context.Context) (*testLease, error) { t.Fatal("obtain called"); return nil, nil }
	if err := m.Lock(context.Background(), obtain); err != bad {
		t.Fatalf("Lock = %v, want %v", err, bad)
	}
}
