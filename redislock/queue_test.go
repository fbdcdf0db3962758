package redislock_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
)

// waitQueued polls until n tokens are queued for the lock key.
func waitQueued(t *testing.T, rdb *redis.Client, key string, n int64) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); rdb.ZCard(context.Background(), key+":queue").Val() != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s: %d queued, want %d", key, rdb.ZCard(context.Background(), key+":queue").Val(), n)
		}
	}
}

// Waiters of different Clients get the lock in the order they came: a
// release hands it to the first, and a later caller does not overtake.
func TestQueueOrder(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := testCtx(t, 10*time.Second)
		holder := newClient(t, rdb)
		l, err := holder.Obtain(ctx, "fifo")
		if err != nil {
			t.Fatal(err)
		}
		const waiters = 3
		order := make(chan int, waiters)
		leases := make(chan *redislock.Lease, waiters)
		for i := range waiters {
			c := newClient(t, rdb)
			go func() {
				l, err := c.Obtain(ctx, "fifo")
				if err != nil {
					t.Error(err)
					leases <- nil
					return
				}
				order <- i
				leases <- l
			}()
			waitQueued(t, rdb, "lock:{fifo}", int64(i+1))
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		for want := range waiters {
			if got := <-order; got != want {
				t.Fatalf("waiter %d got the lock in place %d", got, want)
			}
			l := <-leases
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
			// Released with waiters queued, the lock is handed on: a
			// caller that did not queue cannot take it meanwhile.
			if want < waiters-1 {
				if _, err := holder.TryObtain(ctx, "fifo"); err == nil {
					t.Fatal("TryObtain took a lock handed to a waiter")
				}
			}
		}
		waitQueued(t, rdb, "lock:{fifo}", 0)
		if n := rdb.Exists(ctx, "lock:{fifo}", "lock:{fifo}:queue", "lock:{fifo}:queue:deadlines").Val(); n != 0 {
			t.Fatalf("%d lock or queue keys left", n)
		}
	})
}

// A waiter that died while queued blocks nobody for long: the lock handed
// to it is reserved only briefly, and its queue entry expires.
func TestQueueDeadWaiter(t *testing.T) {
	_, rdb := real(t)
	ctx := testCtx(t, 10*time.Second)
	holder, waiter := newClient(t, rdb), newClient(t, rdb)
	l, err := holder.Obtain(ctx, "ghost")
	if err != nil {
		t.Fatal(err)
	}
	// A token queued first by a process that then died.
	obtain, err := os.ReadFile("lua/obtain.lua")
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"lock:{ghost}", "lock:{ghost}:fence", "lock:{ghost}:queue", "lock:{ghost}:queue:deadlines"}
	if n, err := rdb.Eval(ctx, string(obtain), keys, "GHOST", 10000, 3000).Int64(); err != nil || n >= 0 {
		t.Fatalf("ghost's acquire = %d, %v; want it queued", n, err)
	}
	got := make(chan time.Time, 1)
	go func() {
		l, err := waiter.Obtain(ctx, "ghost")
		if err != nil {
			t.Error(err)
			got <- time.Time{}
			return
		}
		got <- time.Now()
		_ = l.Release(ctx)
	}()
	waitQueued(t, rdb, "lock:{ghost}", 2)
	released := time.Now()
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if v := rdb.Get(ctx, "lock:{ghost}").Val(); v != "~GHOST" && v != "~GHOST*" {
		t.Fatalf("released lock holds %q, want it handed to the first waiter", v)
	}
	at := <-got
	if d := at.Sub(released); at.IsZero() || d > 1500*time.Millisecond {
		t.Fatalf("the live waiter got the lock %v after the release", d)
	}
	// The ghost's entry expires within its 3s.
	for end := time.Now().Add(5 * time.Second); rdb.Exists(ctx, "lock:{ghost}:queue").Val() != 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the dead waiter's queue entry did not expire")
		}
	}
}

// A waiter that gives up leaves the queue, and TryObtain never joins it.
func TestQueueLeave(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := testCtx(t, 10*time.Second)
		holder, waiter := newClient(t, rdb), newClient(t, rdb)
		l, err := holder.Obtain(ctx, "leave")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := waiter.TryObtain(ctx, "leave"); err == nil {
			t.Fatal("TryObtain of a held lock succeeded")
		}
		if n := rdb.Exists(ctx, "lock:{leave}:queue").Val(); n != 0 {
			t.Fatal("TryObtain queued")
		}
		wctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() {
			_, err := waiter.Obtain(wctx, "leave")
			done <- err
		}()
		waitQueued(t, rdb, "lock:{leave}", 1)
		cancel()
		if err := <-done; err == nil {
			t.Fatal("cancelled Obtain succeeded")
		}
		waitQueued(t, rdb, "lock:{leave}", 0)
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if n := rdb.Exists(ctx, "lock:{leave}").Val(); n != 0 {
			t.Fatal("release with an empty queue left the key")
		}
	})
}

// A caller that did not queue does not take a free lock while a live
// waiter of another Client is queued for it: not when the holder's key was
// deleted or expired without a release (nobody tells the waiter, which
// looks again within 2s), and not when the reservation of a dead waiter
// that a release handed the lock to has lapsed. Meanwhile newcomers'
// TryObtain is refused, and a newcomer's Obtain queues behind the waiter.
func TestQueueNoOvertakeOfFreeLock(t *testing.T) {
	_, rdb := real(t)
	ctx := testCtx(t, 30*time.Second)
	for _, tc := range []struct {
		name string
		free func(t *testing.T, key string, holder *redislock.Lease)
	}{
		{"deleted", func(t *testing.T, key string, _ *redislock.Lease) {
			rdb.Del(ctx, key)
		}},
		{"expired", func(t *testing.T, key string, _ *redislock.Lease) {
			rdb.PExpire(ctx, key, time.Millisecond)
			if !eventually(time.Second, func() bool { return rdb.Exists(ctx, key).Val() == 0 }) {
				t.Fatal("the key did not expire")
			}
		}},
		{"reservation lapsed", func(t *testing.T, key string, holder *redislock.Lease) {
			// A token queued ahead of the waiter by a process that
			// then died, whose entry has not expired yet.
			rdb.ZAdd(ctx, key+":queue", redis.Z{Score: 0, Member: "GHOST"})
			rdb.ZAdd(ctx, key+":queue:deadlines", redis.Z{Score: 1e15, Member: "GHOST"})
			if err := holder.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if v := rdb.Get(ctx, key).Val(); v != "~GHOST" && v != "~GHOST*" {
				t.Fatalf("released lock holds %q, want it handed to GHOST", v)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "overtake-" + strings.ReplaceAll(tc.name, " ", "-")
			key := "lock:{" + name + "}"
			var wg sync.WaitGroup
			t.Cleanup(wg.Wait) // after the Clients' Close on failure
			holder, waiter := newClient(t, rdb), newClient(t, rdb)
			newcomer, prober := newClient(t, rdb), newClient(t, rdb)
			held, err := holder.Obtain(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			order := make(chan string, 2)
			waiterHolds := make(chan struct{})
			wg.Go(func() {
				l, err := waiter.Obtain(ctx, name)
				if err != nil {
					t.Error(err)
					order <- "waiter failed"
					close(waiterHolds)
					return
				}
				order <- "waiter"
				close(waiterHolds)
				time.Sleep(50 * time.Millisecond)
				if err := l.Release(ctx); err != nil {
					t.Error(err)
				}
			})
			waitQueued(t, rdb, key, 1)
			tc.free(t, key, held)
			wg.Go(func() {
				l, err := newcomer.Obtain(ctx, name)
				if err != nil {
					t.Error(err)
					order <- "newcomer failed"
					return
				}
				order <- "newcomer"
				if err := l.Release(ctx); err != nil {
					t.Error(err)
				}
			})
			for tries := 0; ; tries++ {
				select {
				case <-waiterHolds:
				case <-time.After(2 * time.Millisecond):
					l, err := prober.TryObtain(ctx, name)
					if err == nil {
						_ = l.Release(ctx)
						t.Fatalf("TryObtain %d took the free lock with a waiter queued", tries)
					}
					if !errors.Is(err, lock.ErrNotAcquired) {
						t.Fatal(err)
					}
					continue
				}
				break
			}
			if first, second := <-order, <-order; first != "waiter" || second != "newcomer" {
				t.Fatalf("got the lock in the order %s, %s; want the queued waiter first", first, second)
			}
			wg.Wait() // both released
			_ = held.Release(ctx)
		})
	}
}
