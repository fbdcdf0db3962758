package manager_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/manager"
	"github.com/codomyrmex/concurrency/rw"
)

// nilRLocker is a lock whose RLocker returns nil.
type nilRLocker struct{ lock.Mutex }

func (*nilRLocker) RLocker() lock.Locker { return nil }

// typedNilRLocker is a lock whose RLocker returns a nil *lock.Mutex.
type typedNilRLocker struct{ lock.Mutex }

func (*typedNilRLocker) RLocker() lock.Locker { return (*lock.Mutex)(nil) }

// A nil pointer in a non-nil lock.Locker, and a read side that is nil, are
// refused at Register; the name stays free.
func TestRegisterNilLocks(t *testing.T) {
	m := manager.New()
	for name, l := range map[string]lock.Locker{
		"*lock.Mutex":           (*lock.Mutex)(nil),
		"*rw.RWMutex":           (*rw.RWMutex)(nil),
		"*logLock":              (*logLock)(nil),
		"RLocker returns nil":   new(nilRLocker),
		"RLocker typed nil":     new(typedNilRLocker),
		"(*rw.RWMutex).RLocker": (*rw.RWMutex)(nil).RLocker(),
	} {
		if err := m.Register(name, l); !errors.Is(err, lock.ErrInvalidArgument) || !strings.Contains(err.Error(), "nil") {
			t.Errorf("Register(%s) = %v, want lock.ErrInvalidArgument for a nil lock", name, err)
		}
		if err := m.Register(name, new(lock.Mutex)); err != nil {
			t.Errorf("the name was taken by a refused lock: %v", err)
		}
	}
}

// A Mode other than ModeWrite and ModeRead is refused before anything is
// taken.
func TestInvalidMode(t *testing.T) {
	ctx := context.Background()
	m := manager.New()
	var a, b lock.Mutex
	m.Register("a", &a)
	m.Register("b", &b)
	_, err := m.Acquire(ctx, manager.Write("a"), manager.Request{Name: "b", Mode: 7})
	if !errors.Is(err, lock.ErrInvalidArgument) {
		t.Fatalf("Acquire with Mode 7 = %v, want lock.ErrInvalidArgument", err)
	}
	if want := `manager: acquire "b": invalid mode Mode(7): lock: invalid argument`; err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if a.Locked() || b.Locked() {
		t.Fatal("a refused call took a lock")
	}
	if st := m.TotalStats(); st != (manager.Stats{}) {
		t.Fatalf("stats after a refused call: %+v", st)
	}
	for mode, want := range map[manager.Mode]string{manager.ModeWrite: "write", manager.ModeRead: "read", 7: "Mode(7)"} {
		if got := mode.String(); got != want {
			t.Errorf("Mode(%d).String() = %q, want %q", mode, got, want)
		}
	}
}

// A nil or zero Held holds nothing: Names returns nil and Release an error
// wrapping lock.ErrNotHeld.
func TestNilAndZeroHeld(t *testing.T) {
	for name, h := range map[string]*manager.Held{"nil": nil, "zero": new(manager.Held)} {
		if got := h.Names(); got != nil {
			t.Errorf("%s Held: Names() = %v, want nil", name, got)
		}
		for range 2 {
			if err := h.Release(context.Background()); !errors.Is(err, lock.ErrNotHeld) {
				t.Errorf("%s Held: Release = %v, want lock.ErrNotHeld", name, err)
			}
		}
	}
}

// Register on a Manager not made by New panics, saying so.
func TestZeroManager(t *testing.T) {
	var m manager.Manager
	r := recovered(func() { m.Register("a", new(lock.Mutex)) })
	if s, _ := r.(string); !strings.HasPrefix(s, "manager: ") {
		t.Fatalf("Register on a zero Manager: panic %v, want one with prefix \"manager: \"", r)
	}
}

// panicky is a lock whose optional methods can panic.
type panicky struct {
	lock.Mutex
	kind, try, done bool
}

func (p *panicky) LockKind() string {
	if p.kind {
		panic("LockKind")
	}
	return "panicky"
}

func (p *panicky) TryLock() bool {
	if p.try {
		panic("TryLock")
	}
	return p.Mutex.TryLock()
}

func (p *panicky) Done() <-chan struct{} {
	if p.done {
		panic("Done")
	}
	return nil
}

// panickyRLocker adds an RLocker that panics.
type panickyRLocker struct{ panicky }

func (*panickyRLocker) RLocker() lock.Locker { panic("RLocker") }

// panickyReleaser adds a Release that unlocks, then panics.
type panickyReleaser struct{ panicky }

func (p *panickyReleaser) Release(context.Context) error {
	p.Mutex.Unlock()
	panic("Release")
}

// A panic in a method of a lock, or in the order checker's report, goes on
// to the caller, and leaves every lock released (or never taken) and the
// Manager's bookkeeping as if the call had failed.
func TestPanicsInCallbacks(t *testing.T) {
	ctx := context.Background()
	t.Run("Register", func(t *testing.T) {
		m := manager.New()
		for want, l := range map[string]lock.Locker{
			"LockKind": &panicky{kind: true},
			"RLocker":  new(panickyRLocker),
		} {
			if r := recovered(func() { m.Register("p", l) }); r != want {
				t.Errorf("Register: panic %v, want %q", r, want)
			}
		}
		if err := m.Register("p", new(lock.Mutex)); err != nil {
			t.Fatalf("a panicking Register took the name: %v", err)
		}
	})
	t.Run("TryLock", func(t *testing.T) {
		m := manager.New()
		var a lock.Mutex
		m.Register("a", &a)
		m.Register("p", &panicky{try: true})
		if r := recovered(func() { m.AcquireAll(ctx, "p", "a") }); r != "TryLock" {
			t.Fatalf("AcquireAll: panic %v, want \"TryLock\"", r)
		}
		if a.Locked() {
			t.Fatal("a left locked")
		}
		if st := m.TotalStats(); st.Holders != 0 || st.Waiters != 0 {
			t.Fatalf("stats %+v", st)
		}
	})
	t.Run("report", func(t *testing.T) {
		m := manager.New(manager.WithOnDemand(), manager.WithOrderCheck(func(manager.Violation) { panic("report") }))
		h, err := m.AcquireAll(ctx, "b")
		if err != nil {
			t.Fatal(err)
		}
		if r := recovered(func() { m.AcquireAll(ctx, "a") }); r != "report" {
			t.Fatalf("AcquireAll: panic %v, want \"report\"", r)
		}
		if _, ok := m.Stats("a"); ok {
			t.Error("the on-demand lock of the panicked call is still referenced")
		}
		if err := h.Release(ctx); err != nil {
			t.Fatal(err)
		}
		h, err = m.AcquireAll(ctx, "a") // nothing held now: nothing to report
		if err != nil {
			t.Fatal(err)
		}
		h.Release(ctx)
	})
	for _, tc := range []struct {
		name string
		l    interface {
			lock.Locker
			Locked() bool
		}
	}{
		{"Done", &panicky{done: true}},
		{"Release", &panickyReleaser{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := manager.New()
			var a, c lock.Mutex
			m.Register("a", &a)
			m.Register("b", tc.l)
			m.Register("c", &c)
			h, err := m.AcquireAll(ctx, "a", "b", "c")
			if err != nil {
				t.Fatal(err)
			}
			if r := recovered(func() { h.Release(ctx) }); r != tc.name {
				t.Fatalf("Release: panic %v, want %q", r, tc.name)
			}
			if a.Locked() || tc.l.Locked() || c.Locked() {
				t.Fatalf("locks left held: a %v, b %v, c %v", a.Locked(), tc.l.Locked(), c.Locked())
			}
			if st := m.TotalStats(); st.Holders != 0 {
				t.Fatalf("stats %+v", st)
			}
		})
	}
}

// cancelReleaser is a lease whose Release unlocks and reports a done ctx,
// as a remote lock's may.
type cancelReleaser struct{ lock.Mutex }

func (r *cancelReleaser) Release(ctx context.Context) error {
	r.Mutex.Unlock()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("remote release: %w", err)
	}
	return nil
}

// Release with a done ctx still releases every lock, and returns the
// errors the locks' Release methods report.
func TestReleaseCancelledContext(t *testing.T) {
	m := manager.New()
	var a lock.Mutex
	r := new(cancelReleaser)
	m.Register("a", &a)
	m.Register("r", r)
	h, err := m.AcquireAll(context.Background(), "a", "r")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = h.Release(ctx)
	if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), `"r"`) {
		t.Errorf("Release = %v, want the remote lock's context.Canceled", err)
	}
	if a.Locked() || r.Locked() {
		t.Fatal("a lock was left held")
	}
	if err := h.Release(context.Background()); !errors.Is(err, lock.ErrNotHeld) {
		t.Errorf("second Release = %v, want lock.ErrNotHeld", err)
	}
}

// recovered calls f and returns what it panicked with, or nil.
func recovered(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}
