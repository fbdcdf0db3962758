package redislock

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/internal/redistest"
)

// TestSemRWScriptsCluster: on a Redis Cluster every key of a semaphore
// and of a reader/writer lock is in its name's slot (a script would fail
// with CROSSSLOT otherwise), the names spread over the nodes, and grants
// reach a Client's channel through the cluster bus. The probe is off, as
// on every Cluster.
func TestSemRWScriptsCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a 3-node cluster")
	}
	nodes := redistest.StartCluster(t, 3)
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		addrs[i] = n.Addr()
	}
	rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 addrs,
		ContextTimeoutEnabled: true,
		ReadTimeout:           5 * time.Second,
		WriteTimeout:          5 * time.Second,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()
	ps := luaSubscribe(t, rdb, "client:x")

	masters := map[string]bool{}
	for _, name := range []string{"a", "b", "c", "d", "e", "f", "g", "h"} {
		s := newLuaSem(t, rdb, name, 2)
		s.probe = "0"
		luaWant(t, "A", s.acquire("A", 2, 60000, 3000, "client:x"), []int64{1, 1})
		s.acquire("B", 1, 60000, 3000, "client:x")
		luaWant(t, "resize", s.resize(3), []int64{3, 3, 0, 2})
		s.acquire("C", 1, 60000, 3000, "client:x")
		s.release("A")
		if got := luaMessages(t, ps, 2); !slices.Equal(got, []string{"B 2 7", "C 3 7"}) {
			t.Fatalf("%s: messages %q", name, got)
		}
		s.snapshot().check(t, false)

		l := newLuaRW(t, rdb, name)
		l.probe = "0"
		luaWant(t, "w", l.write("w", 60000, 3000, "client:x"), []int64{1, 1})
		l.read("r", 60000, 3000, "client:x")
		l.downgrade("w", 60000)
		if got := luaMessages(t, ps, 1); !slices.Equal(got, []string{"r 2 7"}) {
			t.Fatalf("%s: messages %q", name, got)
		}
		luaWant(t, "stat", l.stat(), []int64{2, 0, 0, 0})
		l.snapshot().check(t, true)

		keys := append(luaSemKeys(name), luaRWKeys(name)...)
		want := rdb.ClusterKeySlot(ctx, keys[0]).Val()
		for _, k := range keys {
			if slot := rdb.ClusterKeySlot(ctx, k).Val(); slot != want {
				t.Fatalf("%s in slot %d, %s in %d", k, slot, keys[0], want)
			}
		}
		m, err := rdb.MasterForKey(ctx, keys[0])
		if err != nil {
			t.Fatal(err)
		}
		masters[m.Options().Addr] = true
	}
	if len(masters) < 2 {
		t.Fatalf("8 names all on %v: the test does not cover several nodes", masters)
	}
}
