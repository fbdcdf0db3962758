package etcdlock_test

import (
	"context"
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/codomyrmex/concurrency/etcdlock"
	"github.com/codomyrmex/concurrency/lock"
)

// TestInvalidArgument: bad input is an error wrapping ErrInvalidArgument,
// from New for the Client's options and from the call for a call's, and
// nothing is written.
func TestInvalidArgument(t *testing.T) {
	if _, err := etcdlock.New(nil); !errors.Is(err, lock.ErrInvalidArgument) {
		t.Errorf("New(nil): %v", err)
	}
	_, cli := single(t)
	bad := map[string]etcdlock.Option{
		"TTL 0":                        etcdlock.WithTTL(0),
		"TTL 500ms":                    etcdlock.WithTTL(500 * time.Millisecond),
		"TTL 1.5s":                     etcdlock.WithTTL(1500 * time.Millisecond),
		"TTL -1s":                      etcdlock.WithWatchdog(-time.Second, time.Millisecond),
		"watchdog interval 0":          etcdlock.WithWatchdog(2*time.Second, 0),
		"watchdog interval over TTL/2": etcdlock.WithWatchdog(2*time.Second, 1500*time.Millisecond),
		"watchdog interval 1ms":        etcdlock.WithWatchdog(2*time.Second, time.Millisecond),
		"negative max hold":            etcdlock.WithMaxHold(-time.Second),
	}
	c := newClient(t, cli)
	ctx := testCtx(t, 10*time.Second)
	for name, opt := range bad {
		if _, err := etcdlock.New(cli, opt); !errors.Is(err, lock.ErrInvalidArgument) {
			t.Errorf("New with %s: %v", name, err)
		}
		if _, err := c.Obtain(ctx, "x", opt); !errors.Is(err, lock.ErrInvalidArgument) {
			t.Errorf("Obtain with %s: %v", name, err)
		}
		if _, err := c.TryObtain(ctx, "x", opt); !errors.Is(err, lock.ErrInvalidArgument) {
			t.Errorf("TryObtain with %s: %v", name, err)
		}
		if err := c.NewMutex("x", opt).Lock(ctx); !errors.Is(err, lock.ErrInvalidArgument) {
			t.Errorf("Mutex.Lock with %s: %v", name, err)
		}
	}
	if _, err := c.Obtain(ctx, ""); !errors.Is(err, lock.ErrInvalidArgument) {
		t.Errorf("Obtain of an empty name: %v", err)
	}
	if err := c.NewMutex("").TryLock(ctx); !errors.Is(err, lock.ErrInvalidArgument) {
		t.Errorf("TryLock of an empty name: %v", err)
	}
	if err := c.Do(ctx, "x", nil); !errors.Is(err, lock.ErrInvalidArgument) {
		t.Errorf("Do with a nil function: %v", err)
	}
	if ks := keys(t, cli, ""); len(ks) != 0 {
		t.Errorf("keys written by bad calls: %v", ks)
	}
}

// TestMisuse: the one panic, and the mistakes that are errors.
func TestMisuse(t *testing.T) {
	_, cli := single(t)
	c := newClient(t, cli)
	ctx := testCtx(t, 10*time.Second)
	m := c.NewMutex("m")
	func() {
		defer func() {
			if r := recover(); r != "etcdlock: Unlock of unlocked Mutex" {
				t.Errorf("Unlock of an unlocked Mutex: recovered %v", r)
			}
		}()
		m.Unlock()
	}()
	if err := m.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Errorf("Release of an unlocked Mutex: %v", err)
	}
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case <-m.Done():
		t.Error("Done closed while locked")
	default:
	}
	// Not reentrant: a second Lock waits for its context.
	wctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	if err := c.NewMutex("m").Lock(wctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock of a lock the Client holds: %v", err)
	}
	cancel()
	l := m.Lease()
	m.Unlock()
	if err := l.Extend(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Errorf("Extend after Unlock: %v", err)
	}
	done, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := c.Obtain(done, "m"); !errors.Is(err, context.Canceled) {
		t.Errorf("Obtain with a done ctx: %v", err)
	}
	l, err := c.Obtain(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(done); !errors.Is(err, context.Canceled) || l.Err() == nil {
		t.Errorf("Release with a done ctx: %v (lease Err %v)", err, l.Err())
	}
	if !eventually(5*time.Second, func() bool { return len(keys(t, cli, etcdlock.DefaultPrefix)) == 0 }) {
		t.Error("the key of a lease released with a done ctx is still there")
	}
	l, err = c.Obtain(ctx, "m")
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(l.Context()); err != nil {
		t.Errorf("Release with the lease's own Context: %v", err)
	}
}

// TestClose: Close ends the leases (ErrClosed, keys revoked), fails the
// waiting calls and every later one.
func TestClose(t *testing.T) {
	_, cli := single(t)
	c, err := etcdlock.New(cli)
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 10*time.Second)
	l, err := c.Obtain(ctx, "c")
	if err != nil {
		t.Fatal(err)
	}
	waited := make(chan error, 1)
	go func() {
		_, err := c.Obtain(ctx, "c")
		waited <- err
	}()
	if !eventually(5*time.Second, func() bool { return len(keys(t, cli, etcdlock.DefaultPrefix)) == 2 }) {
		t.Fatal("the waiter did not queue")
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !errors.Is(l.Err(), lock.ErrClosed) {
		t.Errorf("lease Err after Close: %v", l.Err())
	}
	if err := <-waited; !errors.Is(err, lock.ErrClosed) {
		t.Errorf("waiting Obtain: %v", err)
	}
	if ks := keys(t, cli, etcdlock.DefaultPrefix); len(ks) != 0 {
		t.Errorf("keys after Close: %v", ks)
	}
	if _, err := c.Obtain(ctx, "c"); !errors.Is(err, lock.ErrClosed) {
		t.Errorf("Obtain after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestMaxWaiters: a call that would wait behind n of the Client's waiters
// is refused at once with a *lock.TooManyWaitersError.
func TestMaxWaiters(t *testing.T) {
	_, cli := single(t)
	c := newClient(t, cli, etcdlock.WithMaxWaiters(1))
	ctx := testCtx(t, 10*time.Second)
	l, err := c.Obtain(ctx, "w")
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	waited := make(chan error, 1)
	go func() {
		_, err := c.Obtain(wctx, "w")
		waited <- err
	}()
	if !eventually(5*time.Second, func() bool { return len(keys(t, cli, etcdlock.DefaultPrefix)) == 2 }) {
		t.Fatal("the waiter did not queue")
	}
	_, err = c.Obtain(ctx, "w")
	if e, ok := errors.AsType[*lock.TooManyWaitersError](err); !ok || e.Max != 1 {
		t.Errorf("Obtain past the bound: %v", err)
	}
	cancel()
	<-waited
	_ = l.Release(ctx)
}

// TestWaiterLeaseExpired is etcd-io/etcd#11456: a waiter whose etcd lease
// ends while it waits (here revoked by hand) is not told that it holds the
// lock when its predecessor goes; it queues again with a new key and gets
// the lock under that one.
func TestWaiterLeaseExpired(t *testing.T) {
	_, cli := single(t)
	ctx := testCtx(t, 20*time.Second)
	holder, waiter := newClient(t, cli), newClient(t, cli)
	l, err := holder.Obtain(ctx, "e")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *etcdlock.Lease, 1)
	go func() {
		l2, err := waiter.Obtain(ctx, "e")
		if err != nil {
			t.Errorf("waiter: %v", err)
		}
		got <- l2
	}()
	if !eventually(5*time.Second, func() bool { return len(keys(t, cli, etcdlock.DefaultPrefix)) == 2 }) {
		t.Fatal("the waiter did not queue")
	}
	r, err := cli.Get(ctx, etcdlock.DefaultPrefix, clientv3.WithLastCreate()...)
	if err != nil {
		t.Fatal(err)
	}
	old := r.Kvs[0]
	if _, err := cli.Revoke(ctx, clientv3.LeaseID(old.Lease)); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	l2 := <-got
	if l2 == nil {
		return
	}
	if l2.Key() == string(old.Key) || l2.Fence() <= old.CreateRevision {
		t.Fatalf("the waiter holds the lock with its expired key %q (fence %d)", l2.Key(), l2.Fence())
	}
	tr, err := cli.Txn(ctx).If(l2.IsOwner()).Then(clientv3.OpPut("resource", "w")).Commit()
	if err != nil || !tr.Succeeded {
		t.Fatalf("guarded write of the requeued waiter: %v %v", tr, err)
	}
	_ = l2.Release(ctx)
}
