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
		warm, err := c.Obtain(ctx, "warm") // go-redis's connections, before the snapshot
		if err != nil {
			t.Fatal(err)
		}
		if err := warm.Release(ctx); err != nil {
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
