package redislock_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
)

// hammer runs workers × iterations critical sections on one lock, each
// taking its own Client from clients in turn. Inside, it counts holders (an
// overlap is a failure) and increments a counter on oracle with a
// non-atomic GET then SET, so a lost update shows as a short count.
func hammer(t *testing.T, clients []*redislock.Client, oracle *redis.Client, workers, iterations int) {
	t.Helper()
	ctx := testCtx(t, 60*time.Second)
	if err := oracle.Set(ctx, "counter", 0, 0).Err(); err != nil {
		t.Fatal(err)
	}
	var holders, overlaps atomic.Int32
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		m := clients[w%len(clients)].NewMutex("hot")
		wg.Go(func() {
			for range iterations {
				if err := m.Lock(ctx); err != nil {
					errs <- err
					return
				}
				if holders.Add(1) != 1 {
					overlaps.Add(1)
				}
				n, err := oracle.Get(ctx, "counter").Int()
				if err == nil {
					err = oracle.Set(ctx, "counter", n+1, 0).Err()
				}
				holders.Add(-1)
				m.Unlock()
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := overlaps.Load(); n != 0 {
		t.Fatalf("%d overlapping holds", n)
	}
	if got, want := oracle.Get(ctx, "counter").Val(), workers*iterations; got != itoa(want) {
		t.Fatalf("counter = %s, want %d", got, want)
	}
}

func itoa(n int) string { return string(appendInt(nil, n)) }

func appendInt(b []byte, n int) []byte {
	if n >= 10 {
		b = appendInt(b, n/10)
	}
	return append(b, byte('0'+n%10))
}

func TestContentionOneClient(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		_, oracle := mini(t)
		hammer(t, []*redislock.Client{newClient(t, rdb)}, oracle, 8, 50)
	})
}

// Several Clients on one lock contend through Redis, as processes would,
// and hand the lock over through the release notification.
func TestContentionManyClients(t *testing.T) {
	_, rdb := real(t)
	_, oracle := real(t)
	clients := make([]*redislock.Client, 4)
	for i := range clients {
		clients[i] = newClient(t, dial(t, rdb.Options().Addr))
	}
	start := time.Now()
	hammer(t, clients, oracle, 8, 50)
	// 400 handoffs by notification take milliseconds each; by the
	// PTTL (30s) or the 2s safety re-check they would take minutes.
	if d := time.Since(start); d > 20*time.Second {
		t.Fatalf("400 contended acquisitions took %v", d)
	}
}

// A waiter in another Client is woken by the release, well before the
// holder's TTL or the periodic re-check.
func TestHandoffIsNotified(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := testCtx(t, 10*time.Second)
		a, b := newClient(t, rdb), newClient(t, rdb)
		l, err := a.Obtain(ctx, "h")
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan time.Time, 1)
		go func() {
			l2, err := b.Obtain(ctx, "h")
			got <- time.Now()
			if err == nil {
				_ = l2.Release(ctx)
			}
		}()
		time.Sleep(100 * time.Millisecond) // let b subscribe and wait
		released := time.Now()
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if d := (<-got).Sub(released); d > 500*time.Millisecond {
			t.Fatalf("handoff took %v", d)
		}
	})
}

// A holder that dies without releasing: the waiter wakes at the key's PTTL.
func TestWaiterWakesAtExpiry(t *testing.T) {
	_, rdb := real(t)
	c := newClient(t, rdb)
	ctx := testCtx(t, 10*time.Second)
	if err := rdb.Set(ctx, "lock:{dead}", "someone-else", 300*time.Millisecond).Err(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	l, err := c.Obtain(ctx, "dead")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	if d := time.Since(start); !within(d, 250*time.Millisecond, time.Second) {
		t.Fatalf("acquired after %v, want about 300ms", d)
	}
}

func TestTryObtain(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := testCtx(t, 10*time.Second)
		a, b := newClient(t, rdb), newClient(t, rdb)
		l, err := a.TryObtain(ctx, "t")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.TryObtain(ctx, "t"); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryObtain of a held lock = %v, want ErrNotAcquired", err)
		}
		if _, err := a.TryObtain(ctx, "t"); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryObtain of a lock held in this Client = %v, want ErrNotAcquired", err)
		}
		if err := b.NewMutex("t").TryLock(ctx); !errors.Is(err, lock.ErrNotAcquired) {
			t.Fatalf("TryLock of a held lock = %v, want ErrNotAcquired", err)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		l2, err := b.TryObtain(ctx, "t")
		if err != nil {
			t.Fatalf("TryObtain after release: %v", err)
		}
		_ = l2.Release(ctx)
	})
}

func TestCancel(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		a, b := newClient(t, rdb), newClient(t, rdb)
		bg := testCtx(t, 10*time.Second)

		// A done context fails even on a free lock.
		cause := errors.New("shutting down")
		done, cancel := context.WithCancelCause(bg)
		cancel(cause)
		if _, err := a.Obtain(done, "c"); !errors.Is(err, context.Canceled) || !errors.Is(err, cause) {
			t.Fatalf("Obtain(done ctx) = %v, want Canceled and the cause", err)
		}
		if n := rdb.Exists(bg, "lock:{c}").Val(); n != 0 {
			t.Fatal("a done context took the lock")
		}

		l, err := a.Obtain(bg, "c")
		if err != nil {
			t.Fatal(err)
		}
		// Waiting in Redis (another Client) and in the local FIFO
		// (the same Client).
		for _, c := range []*redislock.Client{b, a} {
			ctx, cancel := context.WithCancelCause(bg)
			errc := make(chan error, 1)
			go func() {
				_, err := c.Obtain(ctx, "c")
				errc <- err
			}()
			time.Sleep(50 * time.Millisecond)
			cancel(cause)
			start := time.Now()
			select {
			case err := <-errc:
				if !errors.Is(err, context.Canceled) || !errors.Is(err, cause) {
					t.Fatalf("cancelled Obtain = %v", err)
				}
			case <-time.After(time.Second):
				t.Fatal("cancelled Obtain did not return")
			}
			if d := time.Since(start); d > 200*time.Millisecond {
				t.Fatalf("cancelled Obtain returned after %v", d)
			}
		}
		// A deadline.
		ctx, cancelT := context.WithTimeout(bg, 100*time.Millisecond)
		defer cancelT()
		start := time.Now()
		if _, err := b.Obtain(ctx, "c"); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Obtain past deadline = %v", err)
		}
		if d := time.Since(start); d > 400*time.Millisecond {
			t.Fatalf("Obtain returned %v after its 100ms deadline", d)
		}
		if v := rdb.Get(bg, "lock:{c}").Val(); v == "" {
			t.Fatal("holder lost its key")
		}
		if err := l.Release(bg); err != nil {
			t.Fatalf("holder's Release: %v", err)
		}
	})
}

func TestMutex(t *testing.T) {
	_, rdb := mini(t)
	c := newClient(t, rdb)
	ctx := testCtx(t, 10*time.Second)
	m := c.NewMutex("m")
	if m.Lease() != nil {
		t.Fatal("Lease() of an unlocked Mutex is not nil")
	}
	wait, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if err := m.Lock(wait); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	// Lock's context bounded only the wait.
	if l := m.Lease(); l == nil || l.Err() != nil {
		t.Fatalf("lease ended with Lock's context: %v", l.Err())
	}
	m.Unlock()
	defer func() {
		if recover() == nil {
			t.Fatal("Unlock of an unlocked Mutex did not panic")
		}
	}()
	m.Unlock()
}

// Mutex.Release reports what Lease.Release does, and Done follows the
// current lease: the shape manager's Releaser and Leaser expect.
func TestMutexReleaseDone(t *testing.T) {
	_, rdb := mini(t)
	c := newClient(t, rdb)
	ctx := testCtx(t, 10*time.Second)
	m := c.NewMutex("rd")
	select {
	case <-m.Done():
	default:
		t.Fatal("Done of an unlocked Mutex is not closed")
	}
	if err := m.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("Release of an unlocked Mutex = %v, want ErrNotHeld", err)
	}
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	done := m.Done()
	select {
	case <-done:
		t.Fatal("Done closed while held")
	default:
	}
	if err := m.Release(ctx); err != nil {
		t.Fatalf("Release = %v", err)
	}
	<-done
	if m.Lease() != nil {
		t.Fatal("Release left the Mutex locked")
	}

	// A lost lease: Done closes and Release says so.
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	rdb.Del(ctx, "lock:{rd}")
	if err := m.Lease().Extend(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Extend of a deleted key = %v, want ErrLockLost", err)
	}
	<-m.Done()
	if err := m.Release(ctx); !errors.Is(err, lock.ErrNotHeld) || !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Release of a lost lease = %v, want ErrNotHeld and ErrLockLost", err)
	}
}

func TestClose(t *testing.T) {
	_, rdb := mini(t)
	ctx := testCtx(t, 10*time.Second)
	a, b := newClient(t, rdb), newClient(t, rdb)
	held, err := a.Obtain(ctx, "x")
	if err != nil {
		t.Fatal(err)
	}
	other, err := b.Obtain(ctx, "y")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := b.Obtain(ctx, "x") // waits in Redis
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, lock.ErrClosed) {
		t.Fatalf("Obtain during Close = %v, want ErrClosed", err)
	}
	select {
	case <-other.Done():
	default:
		t.Fatal("Close left a lease open")
	}
	if !errors.Is(other.Err(), lock.ErrClosed) || !errors.Is(context.Cause(other.Context()), lock.ErrClosed) {
		t.Fatalf("lease after Close: Err() = %v", other.Err())
	}
	if n := rdb.Exists(ctx, "lock:{y}").Val(); n != 0 {
		t.Fatal("Close did not release the key")
	}
	if _, err := b.Obtain(ctx, "z"); !errors.Is(err, lock.ErrClosed) {
		t.Fatalf("Obtain after Close = %v, want ErrClosed", err)
	}
	if err := other.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("Release after Close = %v, want ErrNotHeld", err)
	}
	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// Obtain's context bounds the hold: when it ends, the lease ends and the
// lock goes to the next waiter.
func TestHolderContextEndsLease(t *testing.T) {
	_, rdb := mini(t)
	c := newClient(t, rdb)
	bg := testCtx(t, 10*time.Second)
	ctx, cancel := context.WithCancel(bg)
	l, err := c.Obtain(ctx, "h")
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	<-l.Done()
	if !errors.Is(l.Err(), context.Canceled) {
		t.Fatalf("Err() = %v, want Canceled", l.Err())
	}
	l2, err := c.Obtain(bg, "h") // same Client: the local FIFO place was given back
	if err != nil {
		t.Fatal(err)
	}
	if err := l2.Release(bg); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(bg); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("Release after the holder's ctx ended = %v, want ErrNotHeld", err)
	}
}

func TestMaxHold(t *testing.T) {
	_, rdb := mini(t)
	c := newClient(t, rdb)
	ctx := testCtx(t, 10*time.Second)
	start := time.Now()
	l, err := c.Obtain(ctx, "mh", redislock.WithWatchdog(200*time.Millisecond, 50*time.Millisecond), redislock.WithMaxHold(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	<-l.Done()
	if d := time.Since(start); !within(d, 280*time.Millisecond, 600*time.Millisecond) {
		t.Fatalf("lease ended after %v, want 300ms", d)
	}
	if !errors.Is(l.Err(), lock.ErrLockLost) {
		t.Fatalf("Err() = %v, want ErrLockLost", l.Err())
	}
	// Done closes first, so that the holder stops at once; the key is
	// released right after.
	if !eventually(time.Second, func() bool { return rdb.Exists(ctx, "lock:{mh}").Val() == 0 }) {
		t.Fatal("key left after max hold")
	}
	if err := l.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Release = %v, want ErrLockLost", err)
	}
}
