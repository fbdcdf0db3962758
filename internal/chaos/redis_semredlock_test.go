//go:build linux

package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/chaos"
	"github.com/codomyrmex/concurrency/internal/check"
	"github.com/codomyrmex/concurrency/internal/faultproxy"
	"github.com/codomyrmex/concurrency/internal/redistest"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
	"github.com/redis/go-redis/v9"
)

// The Redlock semaphore scenario: semRedlockNodes servers, so that the
// safe quorum ⌊n·N/(n+1)⌋+1 is 2 (a majority) for size 1 and 3 (every
// server) for size 2: a semaphore of size 1 survives the loss of one
// server, one of size 2 none.
const (
	semRedlockNodes      = 3
	semRedlockClients    = 3
	semRedlockGoroutines = 2
	semRedlockRound      = 2600 * time.Millisecond // workers start no attempt after this
	// redlockRecovery bounds how long after the faults every Client
	// takes all of the lock again: a connection whose request the
	// blackhole swallowed, or whose reply was dropped, waits for its
	// read timeout (1s) first.
	redlockRecovery     = 5 * time.Second
	semRedlockKillAfter = 300 * time.Millisecond // into the round
)

// TestRedlockSemaphoreMinorityLoss is scenario 5 of issue 16: semaphores
// of sizes 1 and 2 over three servers (NewRedlock), weights 1 to the
// size, and an RW lock over the same three (readers, writers,
// downgrades), under cancellation churn, while one server is killed
// (SIGKILL) and restarted empty after the TTL (the safe restart rule),
// then another is blackholed and another loses its replies for a moment.
// The weight held at once by valid leases never exceeds the size, and no
// writer holds with anyone else (check.OverAdmitted; Redlock leases have
// no fence); the merged history is linearizable. Availability follows
// the quorum: with one server down, a semaphore of size 1 and the RW lock
// (quorum 2, a majority) grant acquisitions called and returned while it
// is down; a semaphore of size 2 (quorum 3) grants none. After the
// faults, every Client takes all of each lock again within
// redlockRecovery.
func TestRedlockSemaphoreMinorityLoss(t *testing.T) {
	nodes := startRedlockNodes(t, semRedlockNodes)
	var sum chaos.Summary
	sum.Processes = 1
	type lockKind struct {
		name     string
		capacity int64 // for the oracles
		quorum   int   // of semRedlockNodes
		work     func(r *leaseRound, c *redislock.Client, name string, owner int, rng *rand.Rand, until time.Time)
		all      func(ctx context.Context, c *redislock.Client, name string) (*redislock.Lease, error) // takes all of it
	}
	sem := func(size int64) func(*leaseRound, *redislock.Client, string, int, *rand.Rand, time.Time) {
		return func(r *leaseRound, c *redislock.Client, name string, owner int, rng *rand.Rand, until time.Time) {
			semWorker(t, r, c.NewSemaphore(name, size), size, owner, rng, until)
		}
	}
	semAll := func(size int64) func(context.Context, *redislock.Client, string) (*redislock.Lease, error) {
		return func(ctx context.Context, c *redislock.Client, name string) (*redislock.Lease, error) {
			return c.NewSemaphore(name, size).Acquire(ctx, size)
		}
	}
	kinds := []lockKind{
		{"semaphore of size 1", 1, 2, sem(1), semAll(1)},
		{"semaphore of size 2", 2, 3, sem(2), semAll(2)},
		{"RW lock", rwWriter, 2, func(r *leaseRound, c *redislock.Client, name string, owner int, rng *rand.Rand, until time.Time) {
			rwWorker(t, r, c.NewRWMutex(name), owner, rng, until)
		}, func(ctx context.Context, c *redislock.Client, name string) (*redislock.Lease, error) {
			return c.NewRWMutex(name).ObtainWrite(ctx)
		}},
	}
	during, afterFaults := map[string]int64{}, map[string]int64{}
	recovered := map[string][]time.Duration{}  // from the end of the faults to the next grant
	recoveredAll := map[string]time.Duration{} // from the end of the faults to the last Client's taking all
	var ops int64
	for round := range plan.Rounds(1) {
		for k, kind := range kinds {
			name := fmt.Sprintf("chaos-redlock-%d-%d", k, round)
			// The workers go on until their time is up (at most 1,000
			// attempts each), so that some ask after the faults.
			r := &leaseRound{faults: map[string]int{}, attempts: 1000}
			until := time.Now().Add(semRedlockRound)
			var progressFrom int64 // when the last fault ended
			var wg sync.WaitGroup
			var clients []*redislock.Client
			for i := range semRedlockClients {
				c := newRedlockClient(t, nodes, redislock.WithWatchdog(redlockTTL, redlockRenew))
				clients = append(clients, c)
				for g := range semRedlockGoroutines {
					owner := i*semRedlockGoroutines + g
					wg.Go(func() {
						kind.work(r, c, name, owner, rand.New(rand.NewPCG(uint64(round)<<8|uint64(k), uint64(owner))), until)
					})
				}
			}
			time.Sleep(semRedlockKillAfter)
			victim := nodes[(round+k)%semRedlockNodes]
			killed := check.Now()
			victim.srv.Kill()
			r.st.fire(rand.New(rand.NewPCG(uint64(round), uint64(k))))
			time.Sleep(redlockRestartAfter)
			restarted := check.Now()
			victim.srv.Restart()
			sum.Faults += 2
			// Then a minority of the servers answers nothing, then takes
			// requests without answering: acquisitions that may have
			// taken effect on one server only.
			for j, m := range []faultproxy.Mode{faultproxy.Blackhole, faultproxy.DropReplies} {
				time.Sleep(100 * time.Millisecond)
				proxyFor(t, nodes[(round+k+1+j)%semRedlockNodes].proxy, m, 200*time.Millisecond)
				sum.Faults++
			}
			progressFrom = check.Now()
			faultsEnded := time.Now()
			wg.Wait()
			// Every Client, its connections to the faulty servers
			// included, takes all of the lock again within
			// redlockRecovery of the faults' end.
			for i, c := range clients {
				// The context bounds the lease too: it ends after the
				// release.
				ctx, cancel := context.WithDeadline(context.Background(), faultsEnded.Add(redlockRecovery))
				l, err := kind.all(ctx, c, name)
				if err != nil {
					cancel()
					t.Errorf("%s: Client %d could not take all of it within %v of the faults' end: %v", kind.name, i, redlockRecovery, err)
					continue
				}
				took := time.Since(faultsEnded)
				if err := l.Release(context.Background()); err != nil {
					t.Errorf("%s: release after the faults: %v", kind.name, err)
				}
				cancel()
				recoveredAll[kind.name] = max(recoveredAll[kind.name], took)
			}

			gs := r.grants.All()
			o := r.hist.Operations()
			if ex := check.OverAdmitted(gs, kind.capacity); ex != nil {
				sum.Overlaps += len(ex)
				t.Errorf("%s: %d over-admissions among %d grants, first: %v", kind.name, len(ex), len(gs), ex[0])
			}
			if err := check.CheckSemaphore(kind.capacity, o, historyTimeout); err != nil {
				t.Errorf("%s: %v", kind.name, err)
			}
			var down int64
			for _, g := range gs {
				if g.Called >= killed && g.Granted < restarted {
					down++
				}
			}
			during[kind.name] += down
			switch {
			case kind.quorum < semRedlockNodes && down == 0:
				t.Errorf("%s (quorum %d of %d): no acquisition granted while one server was down, of %d grants", kind.name, kind.quorum, semRedlockNodes, len(gs))
			case kind.quorum == semRedlockNodes && down > 0:
				t.Errorf("%s (quorum %d of %d): %d acquisitions granted while one server was down", kind.name, kind.quorum, semRedlockNodes, down)
			}
			var after int64
			first := int64(math.MaxInt64)
			for _, g := range gs {
				if g.Called >= progressFrom {
					after++
				}
				if g.Granted >= progressFrom {
					first = min(first, g.Granted-progressFrom)
				}
			}
			if first != math.MaxInt64 {
				recovered[kind.name] = append(recovered[kind.name], time.Duration(first))
			}
			afterFaults[kind.name] += after
			sum.Acquisitions += int64(len(gs))
			ops += int64(len(o))
			if t.Failed() {
				return
			}
		}
	}
	for _, kind := range kinds {
		sum.Note(fmt.Sprintf("%s (quorum %d of %d): %s called and granted while a server was down, %d called after the blackhole and lost replies, the first granted %s after them, every Client took all of it within %v", kind.name, kind.quorum, semRedlockNodes, chaos.Count(during[kind.name], "acquisition"), afterFaults[kind.name], durations(recovered[kind.name]), recoveredAll[kind.name].Round(time.Millisecond)))
	}
	sum.Note(chaos.Count(ops, "operation") + " linearizable; never more held at once than the size, never a writer with anyone else")
	t.Log(sum)
}

// TestRedlockSemaphoreMajorityOverAdmits shows, on three real servers,
// why a Redlock semaphore of size 2 needs all three servers and not a
// majority: holders A on servers {0,1}, B on {1,2} and C on {0,2}, each
// server's script admitting 1 to each holder it sees, never more than 2
// in all, fit together: three holders of a semaphore of size 2, each
// granted on a majority, which check.OverAdmitted flags. The Redlock
// semaphore (quorum 3) admits two holders and refuses the third.
func TestRedlockSemaphoreMajorityOverAdmits(t *testing.T) {
	const size = 2
	var per []*redislock.Semaphore // one single-server Client per server
	srvs := make([]*redistest.Server, semRedlockNodes)
	for i := range srvs {
		srvs[i] = redistest.Start(t)
		per = append(per, newLocks(t, dialRedis(t, srvs[i].Addr())).NewSemaphore("majority", size))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var gs []check.Grant
	var leases []*redislock.Lease
	for h, servers := range [][2]int{{0, 1}, {1, 2}, {0, 2}} {
		g := check.Grant{Owner: uint64(h), Weight: 1, Called: check.Now()}
		for _, s := range servers {
			l, err := per[s].TryAcquire(ctx, 1)
			if err != nil {
				t.Fatalf("holder %d on server %d: %v", h, s, err)
			}
			leases = append(leases, l)
		}
		g.Granted = check.Now()
		gs = append(gs, g)
	}
	for i := range gs {
		gs[i].End = check.Now()
	}
	for i, s := range per {
		if st, err := s.Stat(ctx); err != nil || st.Held != size {
			t.Errorf("server %d: %+v, %v; want %d held, the size", i, st, err, size)
		}
	}
	ex := check.OverAdmitted(gs, size)
	if len(ex) != 1 || ex[0].Weight != 3 {
		t.Fatalf("three majority holders of a semaphore of size 2: OverAdmitted = %v, want 3 held at once", ex)
	}
	t.Logf("majority quorum (2 of 3): %v", ex[0])
	for _, l := range leases {
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}

	s := newRedlockOver(t, srvs).NewSemaphore("majority", size)
	a, err := s.TryAcquire(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.TryAcquire(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := s.TryAcquire(ctx, 1); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("a third holder of a Redlock semaphore of size 2: %v, %v; want ErrNotAcquired", l, err)
	}
	for _, l := range []*redislock.Lease{a, b} {
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// newRedlockOver returns a Redlock Client over the servers, closed at the
// end of the test.
func newRedlockOver(t *testing.T, srvs []*redistest.Server) *redislock.Client {
	t.Helper()
	var rdbs []redis.UniversalClient
	for _, s := range srvs {
		rdbs = append(rdbs, dialRedis(t, s.Addr()))
	}
	c, err := redislock.NewRedlock(rdbs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
