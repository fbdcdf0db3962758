package redislock_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
)

// TestMaxWaiters: with n goroutines of a Client in Obtain for a name, the
// next fails at once with lock.ErrTooManyWaiters, holding nothing and
// leaving the queues and their order as they were; a cancelled waiter frees
// its slot; an Obtain's own bound overrides the Client's, and n ≤ 0 lifts
// it; other Clients are not counted.
func TestMaxWaiters(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := testCtx(t, 20*time.Second)
		const name, key = "mw", "lock:{mw}"
		holder := newClient(t, rdb, redislock.WithMaxWaiters(1))
		held, err := holder.Obtain(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		c := newClient(t, rdb, redislock.WithMaxWaiters(2))
		waiting := func(n int64) {
			t.Helper()
			if !eventually(5*time.Second, func() bool { return redislock.LocalWaiters(c, name) == n }) {
				t.Fatalf("%d calls wait, want %d", redislock.LocalWaiters(c, name), n)
			}
		}
		order := make(chan string, 4)
		results := make(chan error, 4)
		obtain := func(ctx context.Context, id string, opts ...redislock.Option) {
			go func() {
				l, err := c.Obtain(ctx, name, opts...)
				if err == nil {
					order <- id
					err = l.Release(context.Background())
				}
				results <- err
			}()
		}
		refused := func(what string, call func() error) {
			t.Helper()
			start := time.Now()
			err := call()
			var tm *lock.TooManyWaitersError
			if !errors.Is(err, lock.ErrTooManyWaiters) || !errors.As(err, &tm) || !strings.HasPrefix(tm.Lock, "redislock \"") {
				t.Fatalf("%s over the bound: %v, want a *lock.TooManyWaitersError", what, err)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("%s refused after %v, not at once", what, d)
			}
		}

		wctx, cancel := context.WithCancel(ctx)
		obtain(wctx, "w1") // the head: waits in Redis
		waitQueued(t, rdb, key, 1)
		waiting(1)
		obtain(ctx, "w2") // waits in the Client's FIFO
		waiting(2)
		refused("Obtain", func() error { _, err := c.Obtain(ctx, name); return err })
		refused("Mutex.Lock", func() error { return c.NewMutex(name).Lock(ctx) })
		if _, err := c.TryObtain(ctx, name); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryObtain = %v, want lock.ErrNotAcquired", err)
		}
		if redislock.LocalWaiters(c, name) != 2 || queued(rdb, key) != 1 {
			t.Fatal("a refusal changed the queues")
		}

		cancel()
		if err := <-results; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled waiter: %v", err)
		}
		waiting(1)
		obtain(ctx, "w3")
		waiting(2)
		refused("Obtain", func() error { _, err := c.Obtain(ctx, name); return err })
		refused("Obtain with its own bound", func() error {
			_, err := c.Obtain(ctx, name, redislock.WithMaxWaiters(1))
			return err
		})
		obtain(ctx, "w4", redislock.WithMaxWaiters(-1)) // no bound for this call
		waiting(3)

		// Another Client's bound does not count c's waiters.
		other := make(chan error, 1)
		go func() {
			l, err := holder.Obtain(ctx, name, redislock.WithTTL(time.Second))
			if err == nil {
				order <- "other"
				err = l.Release(context.Background())
			}
			other <- err
		}()
		if !eventually(5*time.Second, func() bool { return redislock.LocalWaiters(holder, name) == 1 }) {
			t.Fatal("the other Client's call does not wait")
		}

		if err := held.Release(ctx); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := <-results; err != nil {
				t.Fatal(err)
			}
		}
		if err := <-other; err != nil {
			t.Fatal(err)
		}
		close(order)
		var got []string
		for id := range order {
			if id != "other" {
				got = append(got, id)
			}
		}
		if want := "[w2 w3 w4]"; fmt.Sprint(got) != want {
			t.Fatalf("order %v, want %s", got, want)
		}
		if n := redislock.LocalWaiters(c, name); n != 0 {
			t.Fatalf("%d waiters left", n)
		}
	})
}
