package etcdlock_test

import (
	"errors"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/etcdlock"
	"github.com/codomyrmex/concurrency/lock"
)

// TestWatchdogRenews: a 1s lease renewed every 250ms is held for three
// TTLs, its validity never above the TTL, and another Client cannot take
// it meanwhile.
func TestWatchdogRenews(t *testing.T) {
	_, cli := single(t)
	c := newClient(t, cli, etcdlock.WithWatchdog(time.Second, 250*time.Millisecond))
	other := newClient(t, cli)
	ctx := testCtx(t, 10*time.Second)
	l, err := c.Obtain(ctx, "dog")
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if v := l.Validity(); v <= 0 || v > time.Second {
			t.Fatalf("Validity %v of a 1s lease (Err %v)", v, l.Err())
		}
	}
	if _, err := other.TryObtain(ctx, "dog"); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryObtain of a renewed lease: %v", err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestFixedTTL: a lease WithTTL is not renewed: it is lost when its TTL
// runs out, and etcd hands the lock on; Extend renews it.
func TestFixedTTL(t *testing.T) {
	_, cli := single(t)
	c := newClient(t, cli, etcdlock.WithTTL(time.Second))
	ctx := testCtx(t, 10*time.Second)
	l, err := c.Obtain(ctx, "fixed")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(600 * time.Millisecond)
	if err := l.Extend(ctx); err != nil {
		t.Fatalf("Extend: %v", err)
	}
	time.Sleep(600 * time.Millisecond) // 1.2s after the grant, 0.6s after Extend
	if l.Err() != nil {
		t.Fatalf("lease ended within its extended TTL: %v", l.Err())
	}
	select {
	case <-l.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("a fixed 1s lease is still held 2.6s after its grant")
	}
	if !errors.Is(l.Err(), lock.ErrLockLost) {
		t.Errorf("Err %v, want ErrLockLost", l.Err())
	}
	l2, err := newClient(t, cli).Obtain(ctx, "fixed")
	if err != nil {
		t.Fatalf("Obtain after the TTL ran out: %v", err)
	}
	_ = l2.Release(ctx)
	if err := l.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Errorf("Release of a lost lease: %v", err)
	}
}

// TestMaxHold: a lease is released and lost WithMaxHold after its grant.
func TestMaxHold(t *testing.T) {
	_, cli := single(t)
	c := newClient(t, cli)
	ctx := testCtx(t, 10*time.Second)
	l, err := c.Obtain(ctx, "max", etcdlock.WithMaxHold(300*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("lease held past its maximum hold")
	}
	if !errors.Is(l.Err(), lock.ErrLockLost) {
		t.Errorf("Err %v, want ErrLockLost", l.Err())
	}
	if !eventually(2*time.Second, func() bool { return len(keys(t, cli, etcdlock.DefaultPrefix)) == 0 }) {
		t.Error("key left after the maximum hold")
	}
}

// TestObtainCtxBoundsHold: Obtain's context bounds the hold; the key goes
// when it ends.
func TestObtainCtxBoundsHold(t *testing.T) {
	_, cli := single(t)
	c := newClient(t, cli)
	ctx := testCtx(t, 10*time.Second)
	hctx, cancel := testCtxCancel(ctx, 200*time.Millisecond)
	defer cancel()
	l, err := c.Obtain(hctx, "bounded")
	if err != nil {
		t.Fatal(err)
	}
	<-l.Done()
	if !errors.Is(l.Err(), hctx.Err()) {
		t.Errorf("Err %v, want the context's", l.Err())
	}
	if !eventually(2*time.Second, func() bool { return len(keys(t, cli, etcdlock.DefaultPrefix)) == 0 }) {
		t.Error("key left after the holder's context ended")
	}
}
