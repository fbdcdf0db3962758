package manager_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/manager"
	"github.com/codomyrmex/concurrency/rw"
)

// fileLike has RLock and RUnlock but no RLocker and no TryLock.
type fileLike struct{ mu rw.RWMutex }

func (f *fileLike) Lock(ctx context.Context) error  { return f.mu.Lock(ctx) }
func (f *fileLike) Unlock()                         { f.mu.Unlock() }
func (f *fileLike) RLock(ctx context.Context) error { return f.mu.RLock(ctx) }
func (f *fileLike) RUnlock()                        { f.mu.RUnlock() }

func TestReadSideFromRLockMethods(t *testing.T) {
	ctx := context.Background()
	m := manager.New()
	f := new(fileLike)
	m.Register("f", f)
	h1, err := m.Acquire(ctx, manager.Read("f"))
	if err != nil {
		t.Fatal(err)
	}
	h2, err := m.Acquire(ctx, manager.Read("f"))
	if err != nil {
		t.Fatal(err)
	}
	if f.mu.TryLock() {
		t.Fatal("writer got in under two readers")
	}
	h1.Release(ctx)
	h2.Release(ctx)
	h, err := m.AcquireAll(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	if f.mu.TryRLock() {
		t.Fatal("reader got in under the writer")
	}
	h.Release(ctx)
	// Without TryLock every acquisition is timed, none counted as contended.
	st, _ := m.Stats("f")
	if st.Acquisitions != 3 || st.Contended != 0 || st.Holders != 0 {
		t.Errorf("stats %+v", st)
	}
}

func TestStatsOff(t *testing.T) {
	ctx := context.Background()
	m := manager.New(manager.WithStats(false))
	var mu lock.Mutex
	m.Register("a", &mu)
	h, err := m.AcquireAll(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	h.Release(ctx)
	if st, ok := m.Stats("a"); !ok || st != (manager.Stats{}) {
		t.Fatalf("Stats with bookkeeping off = %+v, %v", st, ok)
	}
}

func TestErrorText(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	m := manager.New()
	var mu lock.Mutex
	m.Register("a", &mu)
	mu.Lock(context.Background())
	_, err := m.Acquire(ctx, manager.Read("a"))
	if want := `manager: acquire "a" (read): context deadline exceeded`; err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	mu.Unlock()
	_, err = m.AcquireAll(context.Background(), "b")
	if want := `manager: acquire "b" (write): unknown lock name: lock: invalid argument`; err == nil || err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	if !errors.Is(err, manager.ErrUnknownName) {
		t.Error("not ErrUnknownName")
	}
}
