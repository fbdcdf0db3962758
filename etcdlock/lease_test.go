package etcdlock_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/codomyrmex/concurrency/etcdlock"
	"github.com/codomyrmex/concurrency/lock"
)

// TestObtainRelease: a lease's key lies under the lock's prefix, attached
// to its own etcd lease; the fence is its create revision; a guarded
// transaction commits while the lease holds; Release deletes the key, and
// a second Release is an error.
func TestObtainRelease(t *testing.T) {
	_, cli := single(t)
	c := newClient(t, cli)
	ctx := testCtx(t, 10*time.Second)
	l, err := c.Obtain(ctx, "a/b")
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	if !strings.HasPrefix(l.Key(), etcdlock.DefaultPrefix+"a%2Fb/") {
		t.Errorf("Key %q is not under %q", l.Key(), etcdlock.DefaultPrefix+"a%2Fb/")
	}
	r, err := cli.Get(ctx, l.Key())
	if err != nil || len(r.Kvs) != 1 {
		t.Fatalf("Get %q: %v %v", l.Key(), r, err)
	}
	if kv := r.Kvs[0]; kv.CreateRevision != l.Fence() || kv.Lease == 0 {
		t.Errorf("key created at %d with lease %x, fence %d", kv.CreateRevision, kv.Lease, l.Fence())
	}
	if v := l.Validity(); v <= 0 || v > etcdlock.DefaultTTL {
		t.Errorf("Validity %v", v)
	}
	tr, err := cli.Txn(ctx).If(l.IsOwner()).Then(clientv3.OpPut("resource", "x")).Commit()
	if err != nil || !tr.Succeeded {
		t.Fatalf("guarded put while held: %v %v", tr, err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if ks := keys(t, cli, etcdlock.DefaultPrefix); len(ks) != 0 {
		t.Errorf("keys after Release: %v", ks)
	}
	if err := l.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Errorf("second Release: %v, want ErrNotHeld", err)
	}
	if !errors.Is(l.Err(), lock.ErrNotHeld) || l.Validity() != 0 {
		t.Errorf("after Release: Err %v, Validity %v", l.Err(), l.Validity())
	}
	tr, err = cli.Txn(ctx).If(l.IsOwner()).Then(clientv3.OpPut("resource", "y")).Commit()
	if err != nil || tr.Succeeded {
		t.Fatalf("guarded put after Release: %v %v", tr, err)
	}
}

// TestTryObtain: a try of a held lock fails with ErrNotAcquired and leaves
// no key; a try of a free lock succeeds.
func TestTryObtain(t *testing.T) {
	_, cli := single(t)
	a, b := newClient(t, cli), newClient(t, cli)
	ctx := testCtx(t, 10*time.Second)
	l, err := a.TryObtain(ctx, "t")
	if err != nil {
		t.Fatalf("TryObtain of a free lock: %v", err)
	}
	if _, err := b.TryObtain(ctx, "t"); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryObtain of a held lock: %v, want ErrNotAcquired", err)
	}
	if !eventually(5*time.Second, func() bool { return len(keys(t, cli, etcdlock.DefaultPrefix)) == 1 }) {
		t.Errorf("keys after a failed try: %v", keys(t, cli, etcdlock.DefaultPrefix))
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	l, err = b.TryObtain(ctx, "t")
	if err != nil {
		t.Fatalf("TryObtain after Release: %v", err)
	}
	_ = l.Release(ctx)
}

// TestFIFO: waiters are served in the order they queued, across Clients,
// with increasing fences.
func TestFIFO(t *testing.T) {
	_, cli := single(t)
	ctx := testCtx(t, 20*time.Second)
	holder := newClient(t, cli)
	first, err := holder.Obtain(ctx, "q")
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	order := make(chan int, n)
	leases := make(chan *etcdlock.Lease, n)
	for i := range n {
		c := newClient(t, cli)
		go func() {
			l, err := c.Obtain(ctx, "q")
			if err != nil {
				t.Errorf("waiter %d: %v", i, err)
				order <- -1
				return
			}
			order <- i
			leases <- l
		}()
		// Wait until its key is queued before starting the next.
		if !eventually(5*time.Second, func() bool { return len(keys(t, cli, etcdlock.DefaultPrefix)) == i+2 }) {
			t.Fatalf("waiter %d did not queue", i)
		}
	}
	fence := first.Fence()
	if err := first.Release(ctx); err != nil {
		t.Fatal(err)
	}
	for want := range n {
		if got := <-order; got != want {
			t.Fatalf("grant %d went to waiter %d", want, got)
		}
		l := <-leases
		if l.Fence() <= fence {
			t.Errorf("fence %d after %d", l.Fence(), fence)
		}
		fence = l.Fence()
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestLostLeaseSignalled: a holder learns within about a round trip that
// its key was deleted or its etcd lease revoked by someone else.
func TestLostLeaseSignalled(t *testing.T) {
	_, cli := single(t)
	c := newClient(t, cli)
	ctx := testCtx(t, 10*time.Second)
	for _, how := range []string{"delete key", "revoke lease"} {
		l, err := c.Obtain(ctx, "lost")
		if err != nil {
			t.Fatal(err)
		}
		r, err := cli.Get(ctx, l.Key())
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if how == "delete key" {
			_, err = cli.Delete(ctx, l.Key())
		} else {
			_, err = cli.Revoke(ctx, clientv3.LeaseID(r.Kvs[0].Lease))
		}
		if err != nil {
			t.Fatal(err)
		}
		select {
		case <-l.Done():
		case <-time.After(2 * time.Second):
			t.Fatalf("%s: Done not closed", how)
		}
		t.Logf("%s: Done after %v", how, time.Since(start))
		if !errors.Is(l.Err(), lock.ErrLockLost) || !errors.Is(context.Cause(l.Context()), lock.ErrLockLost) {
			t.Errorf("%s: Err %v, want ErrLockLost", how, l.Err())
		}
		if err := l.Release(ctx); !errors.Is(err, lock.ErrNotHeld) || !errors.Is(err, lock.ErrLockLost) {
			t.Errorf("%s: Release %v, want ErrNotHeld and ErrLockLost", how, err)
		}
	}
}
