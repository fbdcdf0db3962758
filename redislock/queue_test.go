package redislock_test

import (
	"context"
	"errors"
	"strconv"
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
	for end := time.Now().Add(5 * time.Second); queued(rdb, key) != n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("%s: %d queued, want %d", key, queued(rdb, key), n)
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
		if n := rdb.Exists(ctx, "lock:{fifo}", "lock:{fifo}:waiters", "lock:{fifo}:waiters:entries").Val(); n != 0 {
			t.Fatalf("%d lock or queue keys left", n)
		}
	})
}

// A waiter that died while queued blocks nobody for long. On one server,
// a release skips at once a waiter whose Client has no subscription any
// more (its PUBLISH reaches nobody); a waiter without a channel (queued
// while its Client's subscription was down) is handed the lock, which
// passes on when its entry's deadline passes. The dead waiters' entries
// leave the queue.
func TestQueueDeadWaiter(t *testing.T) {
	_, rdb := real(t)
	ctx := testCtx(t, 10*time.Second)
	script, keys := lockScript(t), lockKeys("lock:{ghost}")
	for _, tc := range []struct {
		name, channel string
		within        time.Duration // from the release to the live waiter's grant
	}{
		{"gone Client", "lock:client:GONE", 500 * time.Millisecond},
		{"no channel", "", 1500 * time.Millisecond}, // the 700ms entry, and a refresh
	} {
		t.Run(tc.name, func(t *testing.T) {
			holder, waiter := newClient(t, rdb), newClient(t, rdb)
			l, err := holder.Obtain(ctx, "ghost")
			if err != nil {
				t.Fatal(err)
			}
			// A token queued first by a process that then died.
			if n, err := rdb.Eval(ctx, script, keys, "acquire", "GHOST", "1", 10000, 700, tc.channel, 0).Int64(); err != nil || n >= 0 {
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
			at := <-got
			if d := at.Sub(released); at.IsZero() || d > tc.within {
				t.Fatalf("the live waiter got the lock %v after the release, want within %v", d, tc.within)
			}
			waitQueued(t, rdb, "lock:{ghost}", 0)
			if n := rdb.HLen(ctx, "lock:{ghost}:waiters:entries").Val(); n != 0 {
				t.Fatalf("%d queue entries left", n)
			}
		})
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
// looks again at its next queue refresh, within a second), and not when
// the lock that a release handed to a dead waiter passes on at its entry's
// deadline. Meanwhile newcomers' TryObtain is refused, and a newcomer's
// Obtain queues behind the waiter.
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
		{"grant lapsed", func(t *testing.T, key string, holder *redislock.Lease) {
			// A token queued ahead of the waiter, without a channel,
			// by a process that then died; its entry lives 300ms more.
			deadline := time.Now().Add(300 * time.Millisecond).UnixMilli()
			rdb.LPush(ctx, key+":waiters", "GHOST")
			rdb.HSet(ctx, key+":waiters:entries", "GHOST", strconv.FormatInt(deadline, 10)+" 0 ")
			if err := holder.Release(ctx); err != nil {
				t.Fatal(err)
			}
			if v := rdb.Get(ctx, key).Val(); v != "GHOST" {
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
