package redislock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
)

// A panic in Do's function releases the lock and stops the lease's
// goroutine before it goes on up the stack: another Client gets the lock
// at once, and so does the same Client.
func TestDoReleasesOnPanic(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := testCtx(t, 10*time.Second)
		c, other := newClient(t, rdb), newClient(t, rdb)
		// A lease held throughout keeps c's renewer goroutine running
		// (it stops when no lease is left, at its next timer, or at once
		// if it first runs after the last one went), so that the
		// snapshot holds it; and it warms go-redis's connections.
		keep, err := c.Obtain(ctx, "keep")
		if err != nil {
			t.Fatal(err)
		}
		before := goleak.IgnoreCurrent()

		var lease *redislock.Lease
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Fatalf("recovered %v, want Do to re-raise fn's panic", r)
				}
			}()
			_ = c.Do(ctx, "p", func(_ context.Context, l *redislock.Lease) error {
				lease = l
				panic("boom")
			})
			t.Fatal("Do returned after fn panicked")
		}()
		if n := rdb.Exists(ctx, "lock:{p}").Val(); n != 0 {
			t.Fatal("the key is still there after fn panicked")
		}
		select {
		case <-lease.Done():
		default:
			t.Fatal("the lease is still held after fn panicked")
		}
		goleak.VerifyNone(t, before)
		if err := keep.Release(ctx); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*redislock.Client{other, c} {
			l, err := c.TryObtain(ctx, "p")
			if err != nil {
				t.Fatalf("TryObtain after the panic: %v", err)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// Releasing with the lease's own context, or one derived from it, succeeds:
// the release itself cancels that context, which must not fail it. A
// context done before Release is called still ends the lease; the key is
// released in the background and Release reports the context's error.
func TestReleaseWithLeaseContext(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := testCtx(t, 10*time.Second)
		c := newClient(t, rdb)
		for _, tc := range []struct {
			name string
			ctx  func(l *redislock.Lease) context.Context
		}{
			{"own", (*redislock.Lease).Context},
			{"derived", func(l *redislock.Lease) context.Context {
				ctx, cancel := context.WithTimeout(l.Context(), 5*time.Second)
				t.Cleanup(cancel)
				return ctx
			}},
		} {
			l, err := c.Obtain(ctx, "own")
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Release(tc.ctx(l)); err != nil {
				t.Fatalf("Release with the lease's %s context = %v, want nil", tc.name, err)
			}
			if n := rdb.Exists(ctx, "lock:{own}").Val(); n != 0 {
				t.Fatalf("Release with the lease's %s context left the key", tc.name)
			}
			if err := l.Err(); !errors.Is(err, lock.ErrNotHeld) {
				t.Fatalf("Err() after Release = %v, want ErrNotHeld", err)
			}
		}

		l, err := c.Obtain(ctx, "own")
		if err != nil {
			t.Fatal(err)
		}
		done, cancel := context.WithCancel(ctx)
		cancel()
		if err := l.Release(done); !errors.Is(err, context.Canceled) {
			t.Fatalf("Release with a cancelled context = %v, want context.Canceled", err)
		}
		select {
		case <-l.Done():
		default:
			t.Fatal("the lease is still held after Release with a cancelled context")
		}
		if !eventually(2*time.Second, func() bool { return rdb.Exists(ctx, "lock:{own}").Val() == 0 }) {
			t.Fatal("the key was not released in the background")
		}
		if err := l.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("second Release = %v, want ErrNotHeld", err)
		}
	})
}

// What a new user may get wrong fails cleanly: no panic (except the
// in-process misuse that sync panics on too), no hang, no lock left held.
func TestMisuse(t *testing.T) {
	_, rdb := mini(t)
	ctx := testCtx(t, 10*time.Second)
	c := newClient(t, rdb)

	t.Run("Release twice", func(t *testing.T) {
		l, err := c.Obtain(ctx, "twice")
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if err := l.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("second Release = %v, want ErrNotHeld", err)
		}
		if err := l.Extend(ctx); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("Extend after Release = %v, want ErrNotHeld", err)
		}
	})

	t.Run("Extend with a cancelled context", func(t *testing.T) {
		l, err := c.Obtain(ctx, "extend")
		if err != nil {
			t.Fatal(err)
		}
		done, cancel := context.WithCancel(ctx)
		cancel()
		if err := l.Extend(done); !errors.Is(err, context.Canceled) {
			t.Fatalf("Extend = %v, want context.Canceled", err)
		}
		if l.Err() != nil {
			t.Fatalf("a cancelled Extend ended the lease: %v", l.Err())
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("bad names and options", func(t *testing.T) {
		for _, tc := range []struct {
			name, lock string
			opts       []redislock.Option
		}{
			{"empty name", "", nil},
			{"negative TTL", "a", []redislock.Option{redislock.WithTTL(-time.Second)}},
			{"negative watchdog TTL", "a", []redislock.Option{redislock.WithWatchdog(-time.Second, time.Millisecond)}},
			{"negative max hold", "a", []redislock.Option{redislock.WithMaxHold(-time.Second)}},
		} {
			if _, err := c.Obtain(ctx, tc.lock, tc.opts...); !errors.Is(err, lock.ErrInvalidArgument) {
				t.Errorf("%s: Obtain = %v, want ErrInvalidArgument", tc.name, err)
			}
			ran := false
			err := c.Do(ctx, tc.lock, func(context.Context, *redislock.Lease) error { ran = true; return nil }, tc.opts...)
			if !errors.Is(err, lock.ErrInvalidArgument) || ran {
				t.Errorf("%s: Do = %v (ran fn: %v), want ErrInvalidArgument", tc.name, err, ran)
			}
			m := c.NewMutex(tc.lock, tc.opts...)
			if err := m.Lock(ctx); !errors.Is(err, lock.ErrInvalidArgument) {
				t.Errorf("%s: Mutex.Lock = %v, want ErrInvalidArgument", tc.name, err)
			}
		}
		if n := len(rdb.Keys(ctx, "*:{a}*").Val()); n != 0 {
			t.Fatalf("bad input left %d keys", n)
		}
	})

	t.Run("Do with a nil function", func(t *testing.T) {
		if err := c.Do(ctx, "nilfn", nil); !errors.Is(err, lock.ErrInvalidArgument) {
			t.Fatalf("Do(nil) = %v, want ErrInvalidArgument", err)
		}
		if n := rdb.Exists(ctx, "lock:{nilfn}").Val(); n != 0 {
			t.Fatal("Do(nil) took the lock")
		}
	})

	t.Run("Mutex Unlock twice", func(t *testing.T) {
		m := c.NewMutex("unlock")
		if err := m.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		m.Unlock()
		if got := panicOf(m.Unlock); got != "redislock: Unlock of unlocked Mutex" {
			t.Fatalf("second Unlock panicked with %v", got)
		}
		if got := panicOf(c.NewMutex("never").Unlock); got != "redislock: Unlock of unlocked Mutex" {
			t.Fatalf("Unlock of a Mutex never locked panicked with %v", got)
		}
		if err := m.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("Release of an unlocked Mutex = %v, want ErrNotHeld", err)
		}
	})

	t.Run("Mutex Lock twice", func(t *testing.T) {
		m := c.NewMutex("relock")
		if err := m.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		// As with sync.Mutex, a second Lock waits for the first
		// Unlock; here its context ends the wait.
		wait, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if err := m.Lock(wait); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("second Lock = %v, want DeadlineExceeded", err)
		}
		if err := m.TryLock(ctx); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryLock of a locked Mutex = %v, want ErrNotAcquired", err)
		}
		// Not reentrant through the Client either.
		wait, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		if _, err := c.Obtain(wait, "relock"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Obtain of a lock the Client holds = %v, want DeadlineExceeded", err)
		}
		if l := m.Lease(); l == nil || l.Err() != nil {
			t.Fatal("the failed Lock disturbed the holding")
		}
		m.Unlock()
	})

	t.Run("after Close", func(t *testing.T) {
		c := newClient(t, rdb)
		l, err := c.Obtain(ctx, "closed")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Close(); err != nil {
			t.Fatalf("second Close = %v", err)
		}
		if err := l.Release(ctx); !errors.Is(err, lock.ErrNotHeld) || !errors.Is(err, lock.ErrClosed) {
			t.Fatalf("Release after Close = %v, want ErrNotHeld and ErrClosed", err)
		}
		if _, err := c.Obtain(ctx, "closed"); !errors.Is(err, lock.ErrClosed) {
			t.Fatalf("Obtain after Close = %v, want ErrClosed", err)
		}
		if n := rdb.Exists(ctx, "lock:{closed}").Val(); n != 0 {
			t.Fatal("Close left the lock held")
		}
	})
}

// panicOf returns what f panics with, or nil.
func panicOf(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}
