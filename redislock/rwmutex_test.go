package redislock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
)

// obtainLater starts obtain in a goroutine and returns the channel of its
// outcome.
func obtainLater(ctx context.Context, obtain func(context.Context) (*redislock.Lease, error)) <-chan leaseResult {
	ch := make(chan leaseResult, 1)
	go func() {
		l, err := obtain(ctx)
		ch <- leaseResult{l, err}
	}()
	return ch
}

// Phases: readers share; a writer waits for the readers inside and stops
// readers that come after it; when its phase ends, the readers that
// waited in it enter before the next writer, who waits for them. Each
// party has its own Client, as processes would.
func TestRWMutexPhases(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := testCtx(t, 20*time.Second)
		rw := func() *redislock.RWMutex { return newClient(t, rdb).NewRWMutex("rw") }
		r1, err := rw().ObtainRead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := rw().ObtainRead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if r1.Fence() != 1 || r2.Fence() != 2 || r1.Name() != "rw" {
			t.Fatalf("fences %d, %d", r1.Fence(), r2.Fence())
		}
		w1 := obtainLater(ctx, rw().ObtainWrite)
		pending(t, w1, 100*time.Millisecond)
		if _, err := rw().TryObtainRead(ctx); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryObtainRead with a writer's turn come = %v", err)
		}
		r3 := obtainLater(ctx, rw().ObtainRead) // stopped by w1's turn
		w2 := obtainLater(ctx, rw().ObtainWrite)
		pending(t, r3, 100*time.Millisecond)
		_ = r1.Release(ctx)
		pending(t, w1, 50*time.Millisecond)
		_ = r2.Release(ctx)
		lw1, err := outcome(t, w1)
		if err != nil {
			t.Fatal(err)
		}
		pending(t, r3, 50*time.Millisecond)
		pending(t, w2, 0)
		if _, err := rw().TryObtainWrite(ctx); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryObtainWrite while written = %v", err)
		}
		_ = lw1.Release(ctx)
		lr3, err := outcome(t, r3) // before w2
		if err != nil {
			t.Fatal(err)
		}
		pending(t, w2, 100*time.Millisecond)
		_ = lr3.Release(ctx)
		lw2, err := outcome(t, w2)
		if err != nil {
			t.Fatal(err)
		}
		if lw2.Fence() <= lr3.Fence() || lr3.Fence() <= lw1.Fence() {
			t.Fatalf("fences not in grant order: w1 %d, r3 %d, w2 %d", lw1.Fence(), lr3.Fence(), lw2.Fence())
		}
		_ = lw2.Release(ctx)
		l, err := rw().TryObtainWrite(ctx)
		if err != nil {
			t.Fatalf("TryObtainWrite of a free lock: %v", err)
		}
		_ = l.Release(ctx)
	})
}

// Downgrade: the writer becomes a reader at once, with its fence; the
// readers that waited in its phase enter; the next writer waits for all.
func TestRWMutexDowngrade(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := testCtx(t, 20*time.Second)
		rw := func() *redislock.RWMutex { return newClient(t, rdb).NewRWMutex("dg") }
		w, err := rw().ObtainWrite(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r := obtainLater(ctx, rw().ObtainRead)
		pending(t, r, 100*time.Millisecond)
		if err := w.Downgrade(ctx); err != nil {
			t.Fatal(err)
		}
		lr, err := outcome(t, r)
		if err != nil {
			t.Fatal(err)
		}
		if w.Fence() != 1 || lr.Fence() != 2 || w.Err() != nil {
			t.Fatalf("after the downgrade: fences %d, %d; lease %v", w.Fence(), lr.Fence(), w.Err())
		}
		if err := w.Downgrade(ctx); !errors.Is(err, lock.ErrInvalidArgument) {
			t.Fatalf("second Downgrade = %v", err)
		}
		if err := lr.Downgrade(ctx); !errors.Is(err, lock.ErrInvalidArgument) {
			t.Fatalf("Downgrade of a read lease = %v", err)
		}
		w2 := obtainLater(ctx, rw().ObtainWrite)
		pending(t, w2, 100*time.Millisecond)
		if err := w.Extend(ctx); err != nil {
			t.Fatalf("Extend of the downgraded lease: %v", err)
		}
		_ = w.Release(ctx)
		pending(t, w2, 50*time.Millisecond)
		_ = lr.Release(ctx)
		lw2, err := outcome(t, w2)
		if err != nil {
			t.Fatal(err)
		}
		_ = lw2.Release(ctx)
		if err := lw2.Downgrade(ctx); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("Downgrade of a released lease = %v", err)
		}
	})
}

// A write lease that the server no longer has is lost by Downgrade.
func TestRWMutexDowngradeLost(t *testing.T) {
	_, rdb := real(t)
	ctx := testCtx(t, 10*time.Second)
	w, err := newClient(t, rdb).NewRWMutex("gone").ObtainWrite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Uncontended, the writer is the lock's solo key (its hash were
	// others about).
	if err := rdb.Del(ctx, "lock:{gone}:rw:solo", "lock:{gone}:rw:writer").Err(); err != nil {
		t.Fatal(err)
	}
	if err := w.Downgrade(ctx); !errors.Is(err, lock.ErrNotHeld) || !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Downgrade of a lease gone = %v", err)
	}
	select {
	case <-w.Done():
	default:
		t.Fatal("the lease lives on")
	}
}

// The sync.RWMutex shapes: Lock and Unlock, RLock and RUnlock, RLocker,
// TryLock and TryRLock; misuse panics or is an error.
func TestRWMutexAdapters(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := testCtx(t, 20*time.Second)
		c := newClient(t, rdb)
		m := c.NewRWMutex("ad")
		if m.LockKind() != "redisrwmutex" || m.Name() != "ad" {
			t.Fatal(m.LockKind(), m.Name())
		}
		var rl lock.Locker = m.RLocker()
		if err := m.RLock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := rl.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		if err := m.TryLock(ctx); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryLock while read-locked = %v", err)
		}
		locked := make(chan error, 1)
		go func() { locked <- m.Lock(ctx) }()
		select {
		case err := <-locked:
			t.Fatalf("Lock = %v while read-locked", err)
		case <-time.After(100 * time.Millisecond):
		}
		if err := m.TryRLock(ctx); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryRLock with a writer's turn come = %v", err)
		}
		rl.Unlock()
		m.RUnlock()
		if err := <-locked; err != nil {
			t.Fatal(err)
		}
		func() {
			defer func() {
				if r := recover(); r != "redislock: RUnlock of unlocked RWMutex" {
					t.Fatalf("RUnlock without RLock panicked with %v", r)
				}
			}()
			m.RUnlock()
		}()
		m.Unlock()
		func() {
			defer func() {
				if r := recover(); r != "redislock: Unlock of unlocked RWMutex" {
					t.Fatalf("Unlock of an unlocked RWMutex panicked with %v", r)
				}
			}()
			m.Unlock()
		}()
		if err := m.TryRLock(ctx); err != nil {
			t.Fatal(err)
		}
		m.RUnlock()
		if err := m.TryLock(ctx); err != nil {
			t.Fatal(err)
		}
		m.Unlock()
	})
}

// Bad names and options are reported by every call; Close fails them.
func TestRWMutexMisuse(t *testing.T) {
	_, rdb := mini(t)
	ctx := testCtx(t, 10*time.Second)
	c := newClient(t, rdb)
	for _, m := range []*redislock.RWMutex{
		c.NewRWMutex(""), c.NewRWMutex("}x"), c.NewRWMutex("x", redislock.WithWatchdog(time.Second, 0)),
	} {
		for _, obtain := range []func(context.Context) (*redislock.Lease, error){m.ObtainRead, m.ObtainWrite, m.TryObtainRead, m.TryObtainWrite} {
			if _, err := obtain(ctx); !errors.Is(err, lock.ErrInvalidArgument) {
				t.Errorf("obtain of a bad RWMutex = %v", err)
			}
		}
		for _, lk := range []func(context.Context) error{m.Lock, m.RLock, m.TryLock, m.TryRLock} {
			if err := lk(ctx); !errors.Is(err, lock.ErrInvalidArgument) {
				t.Errorf("lock of a bad RWMutex = %v", err)
			}
		}
	}
	m := c.NewRWMutex("x")
	l, err := m.ObtainRead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("second Release = %v", err)
	}
	_ = c.Close()
	if _, err := m.ObtainWrite(ctx); !errors.Is(err, lock.ErrClosed) {
		t.Fatalf("ObtainWrite after Close = %v", err)
	}
}
