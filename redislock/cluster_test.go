package redislock_test

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/internal/redistest"
	"github.com/codomyrmex/concurrency/redislock"
)

// startCluster starts a 3-node Redis Cluster (or skips in short mode) and
// returns a function that makes a go-redis client of it, configured as
// the package asks and closed at the end of the test.
func startCluster(t *testing.T) func() *redis.ClusterClient {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	nodes := redistest.StartCluster(t, 3)
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.Addr()
	}
	return func() *redis.ClusterClient {
		rdb := redis.NewClusterClient(&redis.ClusterOptions{
			Addrs:                 addrs,
			ContextTimeoutEnabled: true,
			ReadTimeout:           time.Second,
			WriteTimeout:          time.Second,
		})
		t.Cleanup(func() { _ = rdb.Close() })
		return rdb
	}
}

// On a Redis Cluster the hash tag keeps each lock's keys in one slot (a
// multi-key script would fail with CROSSSLOT otherwise), locks spread over
// the nodes, and releases reach waiters through the cluster's pub/sub.
func TestCluster(t *testing.T) {
	cluster := startCluster(t)
	ctx := testCtx(t, 30*time.Second)
	rdb := cluster()
	c := newClient(t, rdb)

	names := []string{"a", "b", "c", "d", "e", "f", "g", "h"}
	masters := map[string]bool{}
	for _, name := range names {
		l, err := c.Obtain(ctx, name)
		if err != nil {
			t.Fatalf("Obtain(%q): %v", name, err)
		}
		if l.Fence() != 1 {
			t.Fatalf("Fence() = %d", l.Fence())
		}
		m, err := rdb.MasterForKey(ctx, "lock:{"+name+"}")
		if err != nil {
			t.Fatal(err)
		}
		masters[m.Options().Addr] = true
		if err := l.Release(ctx); err != nil {
			t.Fatalf("Release(%q): %v", name, err)
		}
	}
	if len(masters) < 2 {
		t.Fatalf("8 locks all on %v: the test does not cover several nodes", masters)
	}

	_, oracle := mini(t)
	hammer(t, []*redislock.Client{c, newClient(t, cluster())}, oracle, 4, 25)
}
