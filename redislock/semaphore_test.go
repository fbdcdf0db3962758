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

// acquireLater starts Acquire(ctx, n) of s in a goroutine and returns the
// channel of its outcome.
func acquireLater(ctx context.Context, s *redislock.Semaphore, n int64) <-chan leaseResult {
	ch := make(chan leaseResult, 1)
	go func() {
		l, err := s.Acquire(ctx, n)
		ch <- leaseResult{l, err}
	}()
	return ch
}

type leaseResult struct {
	l   *redislock.Lease
	err error
}

// pending fails the test if ch has an outcome within d.
func pending(t *testing.T, ch <-chan leaseResult, d time.Duration) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("returned %v, %v while it should wait", r.l, r.err)
	case <-time.After(d):
	}
}

// outcome waits for the outcome of ch, for at most 5s.
func outcome(t *testing.T, ch <-chan leaseResult) (*redislock.Lease, error) {
	t.Helper()
	select {
	case r := <-ch:
		return r.l, r.err
	case <-time.After(5 * time.Second):
		t.Fatal("no outcome within 5s")
		return nil, nil
	}
}

// semQueued waits until the semaphore has n waiters in Redis.
func semQueued(t *testing.T, ctx context.Context, s *redislock.Semaphore, n int64) {
	t.Helper()
	if !eventually(5*time.Second, func() bool { st, err := s.Stat(ctx); return err == nil && st.Waiting == n }) {
		st, err := s.Stat(ctx)
		t.Fatalf("waiters: %+v, %v; want %d", st, err, n)
	}
}

// Leases share the size; each grant has a larger fence; a release hands
// the weight to the waiter that now fits, on another Client.
func TestSemaphore(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := testCtx(t, 20*time.Second)
		a := newClient(t, rdb).NewSemaphore("s", 3)
		b := newClient(t, rdb).NewSemaphore("s", 3)
		l1, err := a.Acquire(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		l2, err := b.Acquire(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		if l1.Fence() != 1 || l2.Fence() != 2 || l1.Name() != "s" {
			t.Fatalf("fences %d, %d", l1.Fence(), l2.Fence())
		}
		if st, err := a.Stat(ctx); err != nil || st != (redislock.SemaphoreStat{Size: 3, Held: 3, Holders: 2}) {
			t.Fatalf("Stat = %+v, %v", st, err)
		}
		if _, err := b.TryAcquire(ctx, 1); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryAcquire of a full semaphore = %v", err)
		}
		big := acquireLater(ctx, b, 2)
		semQueued(t, ctx, a, 1)
		if _, err := a.TryAcquire(ctx, 1); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryAcquire with a waiter queued = %v, want it refused (no overtaking)", err)
		}
		if err := l1.Release(ctx); err != nil {
			t.Fatal(err)
		}
		l3, err := outcome(t, big)
		if err != nil {
			t.Fatal(err)
		}
		if l3.Fence() != 3 || l3.Validity() <= 0 {
			t.Fatalf("handed-over lease: fence %d, validity %v", l3.Fence(), l3.Validity())
		}
		for _, l := range []*redislock.Lease{l2, l3} {
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if st, err := a.Stat(ctx); err != nil || st != (redislock.SemaphoreStat{Size: 3}) {
			t.Fatalf("Stat after the releases = %+v, %v", st, err)
		}
	})
}

// Head-of-line blocking: a big request at the head of the queue is not
// overtaken by small ones that came after it, even when they would fit.
func TestSemaphoreHeadOfLine(t *testing.T) {
	_, rdb := real(t)
	ctx := testCtx(t, 20*time.Second)
	s := newClient(t, rdb).NewSemaphore("hol", 4)
	other := newClient(t, rdb).NewSemaphore("hol", 4)
	held := make([]*redislock.Lease, 4)
	for i := range held {
		l, err := s.Acquire(ctx, 1)
		if err != nil {
			t.Fatal(err)
		}
		held[i] = l
	}
	big := acquireLater(ctx, other, 3)
	semQueued(t, ctx, s, 1)
	small := acquireLater(ctx, s, 1)
	semQueued(t, ctx, s, 2)
	for i := range 2 { // two free: the small one would fit, but the big one is first
		if err := held[i].Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	pending(t, small, 200*time.Millisecond)
	pending(t, big, 0)
	if err := held[2].Release(ctx); err != nil {
		t.Fatal(err)
	}
	lb, err := outcome(t, big)
	if err != nil {
		t.Fatal(err)
	}
	pending(t, small, 100*time.Millisecond) // 3 + 1 held: full
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}
	ls, err := outcome(t, small)
	if err != nil {
		t.Fatal(err)
	}
	_ = ls.Release(ctx)
	_ = held[3].Release(ctx)
}

// The size stored in Redis governs: a Semaphore made with another size
// acquires and reports under the stored one, until a Resize.
func TestSemaphoreStoredSize(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := testCtx(t, 20*time.Second)
		c := newClient(t, rdb)
		first := c.NewSemaphore("sz", 2)
		if st, err := first.Stat(ctx); err != nil || st.Size != 2 {
			t.Fatalf("Stat = %+v, %v", st, err)
		}
		second := c.NewSemaphore("sz", 5)
		if st, err := second.Stat(ctx); err != nil || st.Size != 2 {
			t.Fatalf("Stat of a Semaphore made with another size = %+v, %v; want the stored size 2", st, err)
		}
		_, err := second.Acquire(ctx, 3)
		if !errors.Is(err, lock.ErrInvalidArgument) || err.Error() != `redislock: weight 3 exceeds the size 2 of semaphore "sz": lock: invalid argument` {
			t.Fatalf("Acquire above the stored size = %v", err)
		}
		if err := second.Resize(ctx, 5); err != nil {
			t.Fatal(err)
		}
		l, err := first.Acquire(ctx, 5)
		if err != nil {
			t.Fatalf("Acquire of the resized semaphore: %v", err)
		}
		_ = l.Release(ctx)
	})
}

// Resize: growing grants the waiters that now fit; shrinking revokes
// nothing and fails the waiters that no longer fit, naming both numbers.
func TestSemaphoreResize(t *testing.T) {
	_, rdb := real(t)
	ctx := testCtx(t, 20*time.Second)
	s := newClient(t, rdb).NewSemaphore("rs", 2)
	other := newClient(t, rdb).NewSemaphore("rs", 2)
	held, err := s.Acquire(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	one := acquireLater(ctx, other, 1)
	semQueued(t, ctx, s, 1)
	if err := s.Resize(ctx, 3); err != nil {
		t.Fatal(err)
	}
	l, err := outcome(t, one)
	if err != nil {
		t.Fatalf("waiter after a grow: %v", err)
	}
	two := acquireLater(ctx, other, 2)
	semQueued(t, ctx, s, 1)
	if err := s.Resize(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := outcome(t, two); !errors.Is(err, lock.ErrInvalidArgument) || err.Error() != `redislock: weight 2 exceeds the size 1 of semaphore "rs": lock: invalid argument` {
		t.Fatalf("waiter after a shrink below its weight = %v", err)
	}
	if st, err := s.Stat(ctx); err != nil || st != (redislock.SemaphoreStat{Size: 1, Held: 3, Holders: 2}) {
		t.Fatalf("Stat after the shrink = %+v, %v; want nothing revoked", st, err)
	}
	if l.Err() != nil || held.Err() != nil {
		t.Fatal("a shrink ended a lease")
	}
	_ = held.Release(ctx)
	if _, err := other.TryAcquire(ctx, 1); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryAcquire with 1 held of size 1 = %v", err)
	}
	_ = l.Release(ctx)
	l, err = other.TryAcquire(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	_ = l.Release(ctx)
}

// Misuse of a semaphore: each case is an error (or, for Unlock of an
// unlocked locker, a panic) and changes nothing.
func TestSemaphoreMisuse(t *testing.T) {
	_, rdb := real(t)
	ctx := testCtx(t, 20*time.Second)
	c := newClient(t, rdb)
	s := c.NewSemaphore("m", 2)
	for _, n := range []int64{0, -1, redislock.MaxSemaphoreSize + 1} {
		if _, err := s.Acquire(ctx, n); !errors.Is(err, lock.ErrInvalidArgument) {
			t.Errorf("Acquire(%d) = %v", n, err)
		}
		if _, err := s.TryAcquire(ctx, n); !errors.Is(err, lock.ErrInvalidArgument) {
			t.Errorf("TryAcquire(%d) = %v", n, err)
		}
		if err := s.Locker(n).Lock(ctx); !errors.Is(err, lock.ErrInvalidArgument) {
			t.Errorf("Locker(%d).Lock = %v", n, err)
		}
		if err := s.Resize(ctx, n); !errors.Is(err, lock.ErrInvalidArgument) {
			t.Errorf("Resize(%d) = %v", n, err)
		}
	}
	if _, err := s.TryAcquire(ctx, 3); !errors.Is(err, lock.ErrInvalidArgument) || err.Error() != `redislock: weight 3 exceeds the size 2 of semaphore "m": lock: invalid argument` {
		t.Errorf("TryAcquire above the size = %v", err)
	}
	for _, bad := range []*redislock.Semaphore{
		c.NewSemaphore("", 2), c.NewSemaphore("}x", 2), c.NewSemaphore("z", 0), c.NewSemaphore("z", -1),
		c.NewSemaphore("z", 2, redislock.WithTTL(0)), c.NewSemaphore("z", 2, redislock.WithPrefix("{")),
	} {
		if _, err := bad.Acquire(ctx, 1); !errors.Is(err, lock.ErrInvalidArgument) {
			t.Errorf("Acquire of a bad semaphore = %v", err)
		}
		if _, err := bad.Stat(ctx); !errors.Is(err, lock.ErrInvalidArgument) {
			t.Errorf("Stat of a bad semaphore = %v", err)
		}
		if err := bad.Resize(ctx, 1); !errors.Is(err, lock.ErrInvalidArgument) {
			t.Errorf("Resize of a bad semaphore = %v", err)
		}
	}
	if st, err := s.Stat(ctx); err != nil || st != (redislock.SemaphoreStat{Size: 2}) {
		t.Fatalf("Stat after the misuse = %+v, %v", st, err)
	}

	// Release twice; with a cancelled context; with the lease's own.
	l, err := s.Acquire(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("second Release = %v", err)
	}
	if err := l.Downgrade(ctx); !errors.Is(err, lock.ErrInvalidArgument) {
		t.Fatalf("Downgrade of a semaphore's lease = %v", err)
	}
	l, err = s.Acquire(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(l.Context()); err != nil {
		t.Fatalf("Release with the lease's own context = %v", err)
	}
	l, err = s.Acquire(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Release(done); !errors.Is(err, context.Canceled) {
		t.Fatalf("Release with a cancelled context = %v", err)
	}
	if !eventually(2*time.Second, func() bool { st, _ := s.Stat(ctx); return st.Holders == 0 }) {
		t.Fatal("the weight was not released in the background")
	}

	// The locker: one lease at a time, panics on Unlock of unlocked.
	lk := s.Locker(1)
	if err := lk.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("Release of an unlocked locker = %v", err)
	}
	func() {
		defer func() {
			if r := recover(); r != "redislock: Unlock of unlocked SemaphoreLocker" {
				t.Fatalf("Unlock of an unlocked locker panicked with %v", r)
			}
		}()
		lk.Unlock()
	}()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Acquire(ctx, 1); !errors.Is(err, lock.ErrClosed) {
		t.Fatalf("Acquire after Close = %v", err)
	}
	if _, err := s.Stat(ctx); !errors.Is(err, lock.ErrClosed) {
		t.Fatalf("Stat after Close = %v", err)
	}
	if err := s.Resize(ctx, 3); !errors.Is(err, lock.ErrClosed) {
		t.Fatalf("Resize after Close = %v", err)
	}
}

// A SemaphoreLocker holds its weight from Lock to Unlock, one lease at a
// time: a second Lock waits for the Unlock.
func TestSemaphoreLocker(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := testCtx(t, 20*time.Second)
		s := newClient(t, rdb).NewSemaphore("lk", 5)
		lk := s.Locker(2)
		var _ lock.Locker = lk
		if err := lk.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		if lk.Lease() == nil || lk.LockKind() != "redissemaphore" {
			t.Fatal("no lease while locked")
		}
		if err := lk.TryLock(ctx); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryLock of a locked locker = %v", err)
		}
		second := make(chan error, 1)
		go func() { second <- lk.Lock(ctx) }()
		select {
		case err := <-second:
			t.Fatalf("second Lock = %v while locked", err)
		case <-time.After(100 * time.Millisecond):
		}
		if st, _ := s.Stat(ctx); st.Held != 2 {
			t.Fatalf("held %d, want 2: the second Lock went to Redis", st.Held)
		}
		lk.Unlock()
		if err := <-second; err != nil {
			t.Fatal(err)
		}
		if err := lk.Release(ctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-lk.Done():
		default:
			t.Fatal("Done of an unlocked locker is open")
		}
	})
}

// A cancelled wait fails with the context's error and leaves nothing in
// Redis: no weight held and no entry queued, so that the waiter behind it
// is granted as soon as its weight fits, and a write waiter that gives up
// while it waits for readers lets the readers it stopped in.
func TestSemaphoreRWMutexCancelledWait(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := testCtx(t, 20*time.Second)
		c := newClient(t, rdb)
		s := c.NewSemaphore("cw", 2)
		done, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := s.Acquire(done, 1); !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire with a cancelled context = %v", err)
		}
		held, err := s.Acquire(ctx, 2)
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancelWait := context.WithCancelCause(ctx)
		cause := errors.New("caller gave up")
		big := acquireLater(wctx, newClient(t, rdb).NewSemaphore("cw", 2), 2)
		semQueued(t, ctx, s, 1)
		small := acquireLater(ctx, newClient(t, rdb).NewSemaphore("cw", 2), 1)
		semQueued(t, ctx, s, 2)
		cancelWait(cause)
		if _, err := outcome(t, big); !errors.Is(err, context.Canceled) || !errors.Is(err, cause) {
			t.Fatalf("a cancelled Acquire = %v, want context.Canceled and its cause", err)
		}
		semQueued(t, ctx, s, 1)
		if err := held.Release(ctx); err != nil {
			t.Fatal(err)
		}
		l, err := outcome(t, small)
		if err != nil {
			t.Fatalf("the waiter behind a cancelled one: %v", err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if st, err := s.Stat(ctx); err != nil || st != (redislock.SemaphoreStat{Size: 2}) {
			t.Fatalf("Stat at the end = %+v, %v", st, err)
		}

		m := c.NewRWMutex("cw")
		r, err := m.ObtainRead(ctx)
		if err != nil {
			t.Fatal(err)
		}
		wctx, cancelWait = context.WithCancelCause(ctx)
		writer := make(chan leaseResult, 1)
		go func() {
			l, err := newClient(t, rdb).NewRWMutex("cw").ObtainWrite(wctx)
			writer <- leaseResult{l, err}
		}()
		// The writer's turn has come once a new reader is stopped.
		if !eventually(5*time.Second, func() bool {
			l, err := m.TryObtainRead(ctx)
			if err == nil {
				_ = l.Release(ctx)
			}
			return errors.Is(err, lock.ErrNotAcquired)
		}) {
			t.Fatal("the writer's turn did not come")
		}
		reader := make(chan leaseResult, 1)
		go func() {
			l, err := m.ObtainRead(ctx)
			reader <- leaseResult{l, err}
		}()
		pending(t, reader, 100*time.Millisecond)
		cancelWait(cause)
		if _, err := outcome(t, writer); !errors.Is(err, context.Canceled) || !errors.Is(err, cause) {
			t.Fatalf("a cancelled ObtainWrite = %v", err)
		}
		r2, err := outcome(t, reader)
		if err != nil {
			t.Fatalf("the reader the cancelled writer stopped: %v", err)
		}
		for _, l := range []*redislock.Lease{r, r2} {
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
		w, err := m.TryObtainWrite(ctx)
		if err != nil {
			t.Fatalf("TryObtainWrite after the readers left: %v", err)
		}
		_ = w.Release(ctx)
	})
}

// The lease of a semaphore's solo holder (an uncontended Acquire) is its
// key: when the key goes (an eviction, a FLUSHALL), the next renewal
// finds nothing, the lease is lost, and Release says so.
func TestSemaphoreSoloLeaseLost(t *testing.T) {
	_, rdb := real(t)
	ctx := testCtx(t, 10*time.Second)
	s := newClient(t, rdb).NewSemaphore("lost", 2, redislock.WithTTL(300*time.Millisecond))
	l, err := s.Acquire(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := rdb.Del(ctx, "lock:{lost}:sem:solo").Result(); err != nil || n != 1 {
		t.Fatalf("DEL of the solo key = %d, %v", n, err)
	}
	select {
	case <-l.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("the lease lives on without its key")
	}
	if err := l.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("Release of a lost lease = %v", err)
	}
	if st, err := s.Stat(ctx); err != nil || st.Held != 0 || st.Holders != 0 {
		t.Fatalf("Stat after the loss = %+v, %v", st, err)
	}
}
