//go:build linux

package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/chaos"
	"github.com/codomyrmex/concurrency/internal/check"
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
	semRedlockRound      = 2500 * time.Millisecond // workers start no attempt after this
	semRedlockKillAfter  = 400 * time.Millisecond  // into the round
)

// TestRedlockSemaphoreMinorityLoss is scenario 5 of issue 16: semaphores
// of sizes 1 and 2 over three servers (NewRedlock), weights 1 to the
// size, under cancellation churn, while one server is killed (SIGKILL)
// and restarted empty after the TTL (the safe restart rule). The weight
// held at once by valid leases never exceeds the size
// (check.OverAdmitted; Redlock leases have no fence), and the merged
// history is linearizable for the semaphore. Availability follows the
// quorum: with one server down, a semaphore of size 1 (quorum 2) grants
// acquisitions called and returned while it is down; one of size 2
// (quorum 3) grants none.
func TestRedlockSemaphoreMinorityLoss(t *testing.T) {
	nodes := startRedlockNodes(t, semRedlockNodes)
	var sum chaos.Summary
	sum.Processes = 1
	during := map[int64]int64{}
	var ops int64
	for round := range plan.Rounds(1) {
		for _, size := range []int64{1, 2} {
			name := fmt.Sprintf("chaos-redlock-sem-%d-%d", size, round)
			r := &leaseRound{faults: map[string]int{}}
			until := time.Now().Add(semRedlockRound)
			var wg sync.WaitGroup
			for i := range semRedlockClients {
				c := newRedlockClient(t, nodes, redislock.WithWatchdog(redlockTTL, redlockRenew))
				for g := range semRedlockGoroutines {
					owner := i*semRedlockGoroutines + g
					wg.Go(func() {
						rng := rand.New(rand.NewPCG(uint64(round)<<8|uint64(size), uint64(owner)))
						semWorker(t, r, c.NewSemaphore(name, size), size, owner, rng, until)
					})
				}
			}
			time.Sleep(semRedlockKillAfter)
			victim := nodes[round%semRedlockNodes]
			killed := check.Now()
			victim.srv.Kill()
			r.st.fire(rand.New(rand.NewPCG(uint64(round), uint64(size))))
			time.Sleep(redlockRestartAfter)
			restarted := check.Now()
			victim.srv.Restart()
			sum.Faults += 2
			wg.Wait()

			gs := r.grants.All()
			o := r.hist.Operations()
			if ex := check.OverAdmitted(gs, size); ex != nil {
				sum.Overlaps += len(ex)
				t.Errorf("size %d: %d over-admissions among %d grants, first: %v", size, len(ex), len(gs), ex[0])
			}
			if err := check.CheckSemaphore(size, o, historyTimeout); err != nil {
				t.Errorf("size %d: %v", size, err)
			}
			var down int64
			for _, g := range gs {
				if g.Called >= killed && g.Granted < restarted {
					down++
				}
			}
			during[size] += down
			switch {
			case size == 1 && down == 0:
				t.Errorf("size 1 (quorum 2 of 3): no acquisition granted while one server was down, of %d grants", len(gs))
			case size > 1 && down > 0:
				t.Errorf("size %d (quorum 3 of 3): %d acquisitions granted while one server was down", size, down)
			}
			if len(gs) == 0 {
				t.Errorf("size %d: no grant in the round", size)
			}
			sum.Acquisitions += int64(len(gs))
			ops += int64(len(o))
			if t.Failed() {
				return
			}
		}
	}
	sum.Note(fmt.Sprintf("acquisitions called and granted while one of 3 servers was down: %d for size 1 (quorum 2), %d for size 2 (quorum 3)", during[1], during[2]))
	sum.Note(chaos.Count(ops, "operation") + " linearizable; weight held at once never above the size")
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
