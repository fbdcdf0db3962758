package redislock_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/internal/redistest"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
)

// redlockServers starts n redis-servers and returns them with one client
// per server.
func redlockServers(t *testing.T, n int) ([]*redistest.Server, []redis.UniversalClient) {
	t.Helper()
	t.Cleanup(func() { waitDialers(t) }) // last: after the clients are closed
	servers := make([]*redistest.Server, n)
	rdbs := make([]redis.UniversalClient, n)
	for i := range servers {
		servers[i] = redistest.Start(t)
		rdbs[i] = dial(t, servers[i].Addr())
	}
	return servers, rdbs
}

// waitDialers waits up to 3s for go-redis's background dialers to end. A
// pool that failed to dial (its server was killed) retries in a goroutine
// that sleeps a second between tries, and notices that its client was
// closed only when it wakes: without the wait, goleak finds it when a test
// that kills servers runs last.
func waitDialers(t *testing.T) {
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if !bytes.Contains(buf[:runtime.Stack(buf, true)], []byte("pool.(*ConnPool).tryDial")) {
			return
		}
	}
	t.Log("go-redis dialers still running after 3s")
}

func newRedlock(t *testing.T, rdbs []redis.UniversalClient, opts ...redislock.Option) *redislock.Client {
	t.Helper()
	c, err := redislock.NewRedlock(rdbs, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// keysOn counts the servers that have key.
func keysOn(t *testing.T, rdbs []redis.UniversalClient, key string) int {
	t.Helper()
	ctx := testCtx(t, 5*time.Second)
	n := 0
	for _, rdb := range rdbs {
		if rdb.Exists(ctx, key).Val() == 1 {
			n++
		}
	}
	return n
}

func TestRedlockBadInput(t *testing.T) {
	if _, err := redislock.NewRedlock(nil); !errors.Is(err, lock.ErrInvalidArgument) {
		t.Fatalf("NewRedlock(nil) = %v", err)
	}
	_, rdb := mini(t)
	if _, err := redislock.NewRedlock([]redis.UniversalClient{rdb, nil, rdb}); !errors.Is(err, lock.ErrInvalidArgument) {
		t.Fatalf("NewRedlock with a nil server = %v", err)
	}
}

func TestRedlockMinorityLoss(t *testing.T) {
	servers, rdbs := redlockServers(t, 5)
	c := newRedlock(t, rdbs, redislock.WithWatchdog(time.Second, 200*time.Millisecond))
	ctx := testCtx(t, 20*time.Second)

	l, err := c.Obtain(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	// Obtain returns once a quorum granted it; the others follow.
	for end := time.Now().Add(time.Second); keysOn(t, rdbs, "lock:{r}") != 5; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("lock on %d of 5 servers a second after Obtain", keysOn(t, rdbs, "lock:{r}"))
		}
	}
	if l.Fence() != 0 {
		t.Fatalf("Redlock Fence() = %d, want 0", l.Fence())
	}
	// Two servers die: the lease is renewed on the other three.
	servers[0].Kill()
	servers[1].Kill()
	time.Sleep(600 * time.Millisecond)
	if l.Err() != nil {
		t.Fatalf("lease lost with a majority alive: %v", l.Err())
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if n := keysOn(t, rdbs[2:], "lock:{r}"); n != 0 {
		t.Fatalf("lock left on %d servers", n)
	}
	// Acquisition works with three of five.
	l, err = c.Obtain(ctx, "r")
	if err != nil {
		t.Fatalf("Obtain with 3 of 5 servers: %v", err)
	}
	// A third server dies: the lease is lost within its validity.
	servers[2].Kill()
	select {
	case <-l.Done():
	case <-time.After(3 * time.Second):
		t.Fatal("lease kept with a minority of servers")
	}
	if !errors.Is(l.Err(), lock.ErrLockLost) {
		t.Fatalf("Err() = %v", l.Err())
	}
	_ = l.Release(ctx)
	// Nor can it be acquired, and the attempt leaves no token behind.
	if _, err := c.TryObtain(ctx, "r2"); err == nil {
		t.Fatal("TryObtain succeeded with 2 of 5 servers")
	}
	// It is given back in the background.
	for end := time.Now().Add(time.Second); keysOn(t, rdbs[3:], "lock:{r2}") != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("failed acquire left its token on %d servers", keysOn(t, rdbs[3:], "lock:{r2}"))
		}
	}
}

// Contenders on the same five servers exclude each other.
func TestRedlockContention(t *testing.T) {
	_, rdbs := redlockServers(t, 5)
	_, oracle := real(t)
	clients := make([]*redislock.Client, 3)
	for i := range clients {
		own := make([]redis.UniversalClient, len(rdbs))
		for j, rdb := range rdbs {
			own[j] = dial(t, rdb.(*redis.Client).Options().Addr)
		}
		clients[i] = newRedlock(t, own)
	}
	hammer(t, clients, oracle, 6, 30)
}

// A contender holding a minority of the servers gives them back, so that
// another can win.
func TestRedlockPartialGrantReleased(t *testing.T) {
	_, rdbs := redlockServers(t, 3)
	c := newRedlock(t, rdbs)
	ctx := testCtx(t, 10*time.Second)
	// Another token holds the lock on two of three servers.
	for _, rdb := range rdbs[:2] {
		rdb.Set(ctx, "lock:{p}", "other", 300*time.Millisecond)
	}
	if _, err := c.TryObtain(ctx, "p"); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryObtain = %v, want ErrNotAcquired", err)
	}
	// It is given back in the background.
	for end := time.Now().Add(time.Second); rdbs[2].Exists(ctx, "lock:{p}").Val() != 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the server granted to a losing contender was not released")
		}
	}
	l, err := c.Obtain(ctx, "p") // once the other token expires
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// With two of five servers stopped, the three left are a bare quorum that
// contenders can split between them. A split vote is decided after the
// per-node timeout instead of waiting for the stopped servers, and a
// random delay before the next attempt lets one contender take all three:
// acquisitions keep succeeding.
func TestRedlockContentionWithSilentMinority(t *testing.T) {
	servers, rdbs := redlockServers(t, 5)
	clients := make([]*redislock.Client, 3)
	for i := range clients {
		own := make([]redis.UniversalClient, len(rdbs))
		for j, rdb := range rdbs {
			own[j] = dial(t, rdb.(*redis.Client).Options().Addr)
		}
		clients[i] = newRedlock(t, own, redislock.WithWatchdog(time.Second, 200*time.Millisecond))
	}
	servers[1].Pause()
	servers[3].Pause()
	defer servers[1].Resume()
	defer servers[3].Resume()
	var acquired, failed atomic.Int64
	var wg sync.WaitGroup
	end := time.Now().Add(time.Second)
	for _, c := range clients {
		wg.Go(func() {
			for time.Now().Before(end) {
				ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
				l, err := c.Obtain(ctx, "silent")
				if err != nil {
					failed.Add(1)
				} else {
					acquired.Add(1)
					// An Obtain that took most of the 300ms leaves
					// the lease, and the release, little time: ctx
					// may end first, ending the lease.
					if err := l.Release(ctx); err != nil && ctx.Err() == nil {
						t.Error(err)
					}
				}
				cancel()
			}
		})
	}
	wg.Wait()
	t.Logf("%d acquisitions, %d failures in 1s", acquired.Load(), failed.Load())
	if acquired.Load() < 5 {
		t.Fatalf("%d acquisitions in 1s by 3 contenders with 3 of 5 servers up", acquired.Load())
	}
}

// The same server twice is one vote counted twice: NewRedlock refuses the
// same client given again and two clients with the same address.
func TestRedlockDuplicateServers(t *testing.T) {
	_, a := mini(t)
	_, b := mini(t)
	addr := a.Options().Addr // 127.0.0.1:port
	_, port, _ := strings.Cut(addr, ":")
	unix := func(path string) *redis.Client {
		c := redis.NewClient(&redis.Options{Network: "unix", Addr: path, ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	for _, tc := range []struct {
		name string
		rdbs []redis.UniversalClient
	}{
		{"same client three times", []redis.UniversalClient{a, a, a}},
		{"same client twice", []redis.UniversalClient{a, b, a}},
		{"same address", []redis.UniversalClient{a, b, dial(t, addr)}},
		{"localhost", []redis.UniversalClient{a, b, dial(t, "localhost:"+port)}},
		{"LOCALHOST", []redis.UniversalClient{dial(t, "LOCALHOST:"+port), b, a}},
		{"::1", []redis.UniversalClient{a, b, dial(t, "[::1]:"+port)}},
		{"port with a leading zero", []redis.UniversalClient{a, b, dial(t, "127.0.0.1:0"+port)}},
		{"same unix socket", []redis.UniversalClient{unix("/tmp/redislock-test.sock"), b, unix("/tmp//redislock-test.sock")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := redislock.NewRedlock(tc.rdbs)
			if !errors.Is(err, lock.ErrInvalidArgument) {
				if c != nil {
					_ = c.Close()
				}
				t.Fatalf("NewRedlock = %v, want ErrInvalidArgument", err)
			}
		})
	}
	_, c := mini(t)
	newRedlock(t, []redis.UniversalClient{a, b, c}) // distinct servers are fine
	// Failover clients have no fixed address to compare.
	failover := func(master string) *redis.Client {
		c := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: master, SentinelAddrs: []string{addr}, ContextTimeoutEnabled: true})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	newRedlock(t, []redis.UniversalClient{failover("m1"), failover("m2"), failover("m3")})
}
