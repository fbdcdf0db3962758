package redislock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
)

// On a Redis Cluster a semaphore's and an RW lock's keys stay in one slot
// (a script would fail with CROSSSLOT otherwise), names spread over the
// nodes, and a release grants a waiter of another Client by message
// through the cluster bus: well before the waiter's queue refresh (a
// second) could have found the grant.
func TestSemaphoreRWMutexCluster(t *testing.T) {
	cluster := startCluster(t)
	rdb := cluster()
	holder, waiter := newClient(t, cluster()), newClient(t, cluster())
	ctx := testCtx(t, 30*time.Second)
	masters := map[string]bool{}
	for _, name := range []string{"a", "b", "c", "d"} {
		m, err := rdb.MasterForKey(ctx, "lock:{"+name+"}:sem")
		if err != nil {
			t.Fatal(err)
		}
		masters[m.Options().Addr] = true

		s, sw := holder.NewSemaphore(name, 3), waiter.NewSemaphore(name, 3)
		l, err := s.Acquire(ctx, 2)
		if err != nil {
			t.Fatalf("%s: Acquire: %v", name, err)
		}
		ch := acquireLater(ctx, sw, 2)
		semQueued(t, ctx, s, 1)
		released := time.Now()
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		lw, err := outcome(t, ch)
		if err != nil {
			t.Fatalf("%s: the waiter: %v", name, err)
		}
		if d := time.Since(released); d > 500*time.Millisecond {
			t.Fatalf("%s: semaphore handoff took %v on a Cluster", name, d)
		}
		if lw.Fence() <= l.Fence() {
			t.Fatalf("%s: fence %d after %d", name, lw.Fence(), l.Fence())
		}
		if err := lw.Release(ctx); err != nil {
			t.Fatal(err)
		}

		m1, m2 := holder.NewRWMutex(name), waiter.NewRWMutex(name)
		w, err := m1.ObtainWrite(ctx)
		if err != nil {
			t.Fatalf("%s: ObtainWrite: %v", name, err)
		}
		readers := make(chan leaseResult, 2)
		for range 2 {
			go func() {
				l, err := m2.ObtainRead(ctx)
				readers <- leaseResult{l, err}
			}()
		}
		pending(t, readers, 100*time.Millisecond)
		released = time.Now()
		if err := w.Release(ctx); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			r, err := outcome(t, readers)
			if err != nil {
				t.Fatalf("%s: a reader: %v", name, err)
			}
			defer r.Release(context.Background())
		}
		if d := time.Since(released); d > 500*time.Millisecond {
			t.Fatalf("%s: the readers entered %v after the writer's release on a Cluster", name, d)
		}
	}
	if len(masters) < 2 {
		t.Fatalf("4 names all on %v: the test does not cover several nodes", masters)
	}
}

// On a Redlock of N servers a semaphore of size n holds on
// ⌊n·N/(n+1)⌋+1 servers, not a majority: with N = 5 and n = 2, on 4. So
// it stays available when one server is lost, and its bound holds then
// too: a third lease is refused while two hold, before and after the
// loss, and granted once one is released. Redlock waiters poll; the
// waiter here gets its weight within the polling delay.
func TestSemaphoreRedlock(t *testing.T) {
	if testing.Short() {
		t.Skip("starts five redis-servers")
	}
	servers, rdbs := redlockServers(t, 5)
	ctx := testCtx(t, 30*time.Second)
	clients := []*redislock.Client{newRedlock(t, rdbs), newRedlock(t, rdbs), newRedlock(t, rdbs)}
	sems := make([]*redislock.Semaphore, len(clients))
	for i, c := range clients {
		sems[i] = c.NewSemaphore("s", 2)
	}
	l0, err := sems[0].Acquire(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	l1, err := sems[1].Acquire(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	// A server keeps one holder as the solo key and two in the holders'.
	if n := keysOn(t, rdbs, "lock:{s}:sem:holders") + keysOn(t, rdbs, "lock:{s}:sem:solo"); n < 4 {
		t.Fatalf("two leases hold on %d servers, want at least 4", n)
	}
	if _, err := sems[2].TryAcquire(ctx, 1); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("a third weight of a full semaphore: %v, want ErrNotAcquired", err)
	}

	servers[4].Kill()
	if _, err := sems[2].TryAcquire(ctx, 1); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("a third weight with one server lost: %v, want ErrNotAcquired", err)
	}
	if st, err := sems[2].Stat(ctx); err != nil || st.Held != 2 || st.Size != 2 {
		t.Fatalf("Stat with one server lost: %+v, %v", st, err)
	}
	ch := acquireLater(ctx, sems[2], 1)
	pending(t, ch, 100*time.Millisecond)
	if err := l0.Release(ctx); err != nil {
		t.Fatalf("Release with one server lost: %v", err)
	}
	l2, err := outcome(t, ch)
	if err != nil {
		t.Fatalf("the waiter with one server lost: %v", err)
	}
	if l2.Fence() != 0 {
		t.Fatalf("a Redlock lease's fence: %d, want 0 (independent servers have no one sequence)", l2.Fence())
	}
	for _, l := range []*redislock.Lease{l1, l2} {
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}

	// With a second server lost, 3 of 5 answer: fewer than the 4 a lease
	// of a semaphore of size 2 needs. The semaphore is unavailable rather
	// than unsafe.
	servers[3].Kill()
	if _, err := sems[0].TryAcquire(ctx, 1); err == nil || errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryAcquire with 3 of 5 servers: %v, want an error that is not ErrNotAcquired", err)
	}
}

// On a Redlock an RW lock's leases hold on a majority: a writer excludes
// readers and writers, readers share, and a write lease can be
// downgraded, also with a server lost.
func TestRWMutexRedlock(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three redis-servers")
	}
	servers, rdbs := redlockServers(t, 3)
	ctx := testCtx(t, 30*time.Second)
	a, b := newRedlock(t, rdbs).NewRWMutex("rw"), newRedlock(t, rdbs).NewRWMutex("rw")
	servers[2].Kill()
	w, err := a.ObtainWrite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.TryObtainRead(ctx); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryObtainRead while written: %v", err)
	}
	if _, err := b.TryObtainWrite(ctx); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryObtainWrite while written: %v", err)
	}
	if err := w.Downgrade(ctx); err != nil {
		t.Fatalf("Downgrade: %v", err)
	}
	r, err := b.TryObtainRead(ctx)
	if err != nil {
		t.Fatalf("TryObtainRead beside a downgraded lease: %v", err)
	}
	if _, err := b.TryObtainWrite(ctx); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryObtainWrite while read: %v", err)
	}
	for _, l := range []*redislock.Lease{w, r} {
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	w2, err := b.TryObtainWrite(ctx)
	if err != nil {
		t.Fatalf("TryObtainWrite of a free lock: %v", err)
	}
	if err := w2.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
