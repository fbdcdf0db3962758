package etcdtest_test

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"

	"github.com/codomyrmex/concurrency/etcdlock/internal/etcdtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestSingle checks the calls etcdlock makes against one member of the
// installed etcd: leases of one second, a transaction, a watch and a
// revoke.
func TestSingle(t *testing.T) {
	c := etcdtest.Start(t, 1)
	cli := c.Client(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	g, err := cli.Grant(ctx, 1)
	if err != nil {
		t.Fatalf("Grant: %v", err)
	}
	if g.TTL != 1 {
		t.Fatalf("Grant(1) gave TTL %d", g.TTL)
	}
	r, err := cli.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision("k"), "=", 0)).
		Then(clientv3.OpPut("k", "", clientv3.WithLease(g.ID))).Commit()
	if err != nil || !r.Succeeded {
		t.Fatalf("Txn: %v %v", r, err)
	}
	wch := cli.Watch(ctx, "k", clientv3.WithRev(r.Header.Revision+1))
	if ka, err := cli.KeepAliveOnce(ctx, g.ID); err != nil || ka.TTL != 1 {
		t.Fatalf("KeepAliveOnce: %v %v", ka, err)
	}
	if _, err := cli.Revoke(ctx, g.ID); err != nil {
		t.Fatalf("Revoke: %v", err)
	}
	ev := <-wch
	if len(ev.Events) != 1 || ev.Events[0].Type != clientv3.EventTypeDelete {
		t.Fatalf("watch: %+v", ev)
	}
}

// TestCluster starts three members, moves the leadership and kills a
// follower, keeping quorum.
func TestCluster(t *testing.T) {
	c := etcdtest.Start(t, 3)
	cli := c.Client(t)
	old := c.Leader()
	to := c.Members[0]
	if to == old {
		to = c.Members[1]
	}
	c.MoveLeader(to)
	old.Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatalf("Put with one member down: %v", err)
	}
	old.Restart()
	if c.Leader() == nil {
		t.Fatal("no leader")
	}
}
