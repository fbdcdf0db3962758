package manager_test

import (
	"context"
	"errors"
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
