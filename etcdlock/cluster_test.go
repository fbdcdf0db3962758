package etcdlock_test

import (
	"errors"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/codomyrmex/concurrency/etcdlock"
	"github.com/codomyrmex/concurrency/etcdlock/internal/etcdtest"
	"github.com/codomyrmex/concurrency/lock"
)

// follower returns a member of c that is not the leader.
func follower(c *etcdtest.Cluster) *etcdtest.Member {
	leader := c.Leader()
	for _, m := range c.Members {
		if m != leader && m.PID() != 0 {
			return m
		}
	}
	return nil
}

// TestClusterMemberLoss: on a 3-member cluster, exclusion and the
// linearizable history hold while a follower is killed in the middle of
// the run and restarted, and then while the leader is killed: quorum is
// kept throughout.
func TestClusterMemberLoss(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cli := c.Client(t)
	hammer(t, clients(t, c, 3), cli, 6, 20, func() {
		time.Sleep(300 * time.Millisecond)
		f := follower(c)
		f.Kill()
		time.Sleep(500 * time.Millisecond)
		f.Restart()
		time.Sleep(300 * time.Millisecond)
		c.Leader().Kill()
	})
}

// TestLeaderChangeMidHold: a lease of 2s survives a leader change and the
// loss of the old leader while held, its guarded writes still commit, and
// a waiter of another Client gets the lock only after the release.
func TestLeaderChangeMidHold(t *testing.T) {
	c := etcdtest.Start(t, 3)
	ctx := testCtx(t, 30*time.Second)
	a := newClient(t, c.Client(t), etcdlock.WithWatchdog(2*time.Second, 500*time.Millisecond))
	b := newClient(t, c.Client(t))
	cli := c.Client(t)
	l, err := a.Obtain(ctx, "leader")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *etcdlock.Lease, 1)
	go func() {
		l2, err := b.Obtain(ctx, "leader")
		if err != nil {
			t.Errorf("waiter: %v", err)
		}
		got <- l2
	}()
	old := c.Leader()
	c.MoveLeader(follower(c))
	old.Kill()
	time.Sleep(3 * time.Second) // longer than the TTL
	select {
	case <-l.Done():
		t.Fatalf("lease ended across the leader change: %v", l.Err())
	case l2 := <-got:
		t.Fatalf("waiter got the lock (fence %d) while the lease was held", l2.Fence())
	default:
	}
	r, err := cli.Txn(ctx).If(l.IsOwner()).Then(clientv3.OpPut("resource", "a")).Commit()
	if err != nil || !r.Succeeded {
		t.Fatalf("guarded write after the leader change: %v %v", r, err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	l2 := <-got
	if l2 == nil {
		return
	}
	if l2.Fence() <= l.Fence() {
		t.Errorf("fence %d after %d", l2.Fence(), l.Fence())
	}
	if err := l2.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestQuorumLost: with two of three members down, a holder whose renewals
// fail loses its lease once its validity runs out (never later), and
// Obtain waits for its context.
func TestQuorumLost(t *testing.T) {
	c := etcdtest.Start(t, 3)
	ctx := testCtx(t, 30*time.Second)
	a := newClient(t, c.Client(t), etcdlock.WithWatchdog(2*time.Second, 500*time.Millisecond))
	l, err := a.Obtain(ctx, "q")
	if err != nil {
		t.Fatal(err)
	}
	leader := c.Leader()
	for _, m := range c.Members {
		if m != leader {
			m.Kill()
		}
	}
	lost := time.Now()
	select {
	case <-l.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("lease still held 3s after quorum was lost, with a TTL of 2s")
	}
	if d := time.Since(lost); d > 2*time.Second+200*time.Millisecond {
		t.Errorf("lease ended %v after quorum was lost, TTL 2s", d)
	}
	if !errors.Is(l.Err(), lock.ErrLockLost) {
		t.Errorf("Err %v, want ErrLockLost", l.Err())
	}
	wctx, cancel := testCtxCancel(ctx, 500*time.Millisecond)
	defer cancel()
	if _, err := a.Obtain(wctx, "q"); !errors.Is(err, wctx.Err()) {
		t.Errorf("Obtain without quorum: %v, want the context's error", err)
	}
	_ = l.Release(ctx)
}
