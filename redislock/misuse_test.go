package redislock_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

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
