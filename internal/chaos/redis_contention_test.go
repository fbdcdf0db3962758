//go:build linux

package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/chaos"
	"github.com/codomyrmex/concurrency/internal/check"
	"github.com/codomyrmex/concurrency/internal/faultproxy"
	"github.com/codomyrmex/concurrency/internal/proctest"
	"github.com/codomyrmex/concurrency/internal/redistest"
	"github.com/redis/go-redis/v9"
)

// Redis contention scenario: per round, redisWorkers processes of
// redisGoroutines goroutines, each with its own go-redis and redislock
// client, contend for one lock through a fault proxy, while the test
// injects the faults a lease must ride out: connection resets, refused
// connections, short delays, lost replies, a short blackhole, and SCRIPT
// FLUSH.
const (
	redisWorkers    = 3
	redisGoroutines = 3
	redisIterations = 150
	redisSpan       = 50 * time.Millisecond // churn deadlines and cancellations
	redisTTL        = 2 * time.Second
	redisRenew      = 400 * time.Millisecond
	faultEvery      = 150 * time.Millisecond
	maxReported     = 5 // violations a helper prints in detail
)

// A fault is one injection: it starts the fault and returns when it is
// over.
type fault struct {
	name   string
	inject func(t *testing.T, proxy *faultproxy.Proxy, admin *redis.Client)
}

// tolerated are faults that a lease with redisTTL survives: none lasts
// long enough to end a lease's validity.
var tolerated = []fault{
	{"reset", func(t *testing.T, p *faultproxy.Proxy, _ *redis.Client) {
		proxyFor(t, p, faultproxy.Reset, 30*time.Millisecond)
	}},
	{"script flush", func(t *testing.T, _ *faultproxy.Proxy, admin *redis.Client) {
		ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
		defer cancel()
		if err := admin.ScriptFlush(ctx).Err(); err != nil {
			t.Errorf("SCRIPT FLUSH: %v", err)
		}
	}},
	{"refuse", func(t *testing.T, p *faultproxy.Proxy, _ *redis.Client) {
		proxyFor(t, p, faultproxy.Refuse, 100*time.Millisecond)
	}},
	{"delay", func(t *testing.T, p *faultproxy.Proxy, _ *redis.Client) {
		p.SetDelay(20*time.Millisecond, 20*time.Millisecond)
		proxyFor(t, p, faultproxy.Delay, 200*time.Millisecond)
	}},
	{"drop replies", func(t *testing.T, p *faultproxy.Proxy, _ *redis.Client) {
		proxyFor(t, p, faultproxy.DropReplies, 50*time.Millisecond)
	}},
	{"blackhole", func(t *testing.T, p *faultproxy.Proxy, _ *redis.Client) {
		proxyFor(t, p, faultproxy.Blackhole, 100*time.Millisecond)
	}},
}

// proxyFor puts p in mode m for d, then back to Pass.
func proxyFor(t *testing.T, p *faultproxy.Proxy, m faultproxy.Mode, d time.Duration) {
	if err := p.Set(m); err != nil {
		t.Errorf("proxy %v: %v", m, err)
	}
	time.Sleep(d)
	if err := p.Set(faultproxy.Pass); err != nil {
		t.Errorf("proxy back to pass: %v", err)
	}
}

func TestRedisContentionWithFaults(t *testing.T) { runRedisContention(t, tolerated) }

// runRedisContention runs the rounds of the Redis contention scenario,
// injecting the faults of injected in turn, and logs the summary.
func runRedisContention(t *testing.T, injected []fault) {
	lockSrv := redistest.Start(t)
	oracleSrv := redistest.Start(t)
	var sum chaos.Summary
	var tot redisTotals
	faults := map[string]int{}
	var ops, histories int64
	for round := range plan.Rounds(1) {
		r := redisRound(t, round, lockSrv, oracleSrv, injected, faults)
		sum.Acquisitions += r.holds
		sum.Processes = redisWorkers
		sum.Faults += r.faults
		sum.Overlaps += r.overlaps
		sum.LostUpdates += r.lostUpdates
		tot.addTotals(r.totals)
		ops += r.ops
		histories++
		if t.Failed() {
			break
		}
	}
	sum.Note(chaos.Count(tot.cancelled, "cancelled wait"))
	sum.Note(chaos.Count(histories, "merged history") + " of " + chaos.Count(ops, "operation") + " linearizable")
	sum.Note(chaos.Count(tot.lost, "lease") + " lost, each signalled")
	sum.Note(chaos.Count(tot.stale, "stale write") + " rejected")
	sum.Note(chaos.Count(tot.contract, "Lock error") + " not wrapping the context's error")
	sum.Note(fmt.Sprintf("faults by kind %v", faults))
	t.Log(sum)
}

type redisRoundResult struct {
	holds, faults, lostUpdates, ops int64
	overlaps                        int
	totals                          redisTotals
}

// redisRound runs one round of the Redis contention scenario, injecting
// the faults of injected in turn and counting them by name in faults.
func redisRound(t *testing.T, round int, lockSrv, oracleSrv *redistest.Server, injected []fault, faults map[string]int) (r redisRoundResult) {
	dir := t.TempDir()
	proxy, err := faultproxy.New(lockSrv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	admin := dialRedis(t, lockSrv.Addr())
	oracle := dialRedis(t, oracleSrv.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	defer cancel()
	if err := oracle.Del(ctx, counterKey, resourceKey).Err(); err != nil {
		t.Fatal(err)
	}

	workers := make([]*proctest.Proc, redisWorkers)
	for i := range workers {
		workers[i] = proctest.StartHelper(t, "redis-worker",
			setenv(envDir, dir), setenv(envID, i), setenv(envRedis, proxy.Addr()), setenv(envOracle, oracleSrv.Addr()),
			setenv(envGoroutines, redisGoroutines), setenv(envIterations, redisIterations))
	}
	// Inject faults in turn until every worker is done (bounded by count).
	for i := 0; i < 10_000 && !allDone(workers); i++ {
		f := injected[i%len(injected)]
		f.inject(t, proxy, admin)
		faults[f.name]++
		r.faults++
		time.Sleep(faultEvery)
	}
	holds := finishRedisRound(t, round, dir, workers, oracle, &r)
	// Scripts are constant: however many calls, SCRIPT FLUSHes and NOSCRIPT
	// reloads, the cache holds at most one entry per script of redislock.
	if n := cachedScripts(t, admin); n > maxLockScripts {
		t.Errorf("round %d: %d scripts cached on the lock server, want at most %d", round, n, maxLockScripts)
	}
	r.holds = int64(len(holds))
	return r
}

// finishRedisRound waits for the redis-worker processes of a round and
// checks what they report (stalls, the cancellation contract, stale writes
// of valid leases), their hold logs (no overlap among leases valid at the
// end of their hold, tokens increasing), their merged histories
// (porcupine) and the counter on the oracle server, adding the results to
// r. It returns every hold logged.
func finishRedisRound(t *testing.T, round int, dir string, workers []*proctest.Proc, oracle *redis.Client, r *redisRoundResult) []check.Interval {
	for i, w := range workers {
		if err := w.Wait(2 * time.Minute); err != nil {
			t.Fatalf("round %d: worker %d: %v", round, i, err)
		}
		line, err := w.Expect("done ", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.totals.add(line); err != nil {
			t.Fatal(err)
		}
	}
	if r.totals.stalls > 0 {
		t.Errorf("round %d: %d stalls", round, r.totals.stalls)
	}
	// Cancellation contract: a Lock that failed because its ctx ended must
	// say so with an error wrapping ctx.Err() and the cause.
	for _, w := range workers {
		for _, v := range w.Lines("contract: ") {
			t.Errorf("round %d: worker pid %d: %s", round, w.PID(), v)
		}
	}
	if r.totals.staleValid > 0 {
		t.Errorf("round %d: %d writes rejected as stale while their lease was valid", round, r.totals.staleValid)
	}

	var holds, kept []check.Interval
	for i := range workers {
		ivs, err := check.ReadIntervalLog(workerLog(dir, i), math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		holds = append(holds, ivs...)
	}
	for _, iv := range holds {
		if iv.Weight > 0 { // leases that were still valid at the end of the hold
			kept = append(kept, iv)
		}
	}
	if ex := check.OverCapacity(kept, 1); ex != nil {
		r.overlaps = len(ex)
		t.Errorf("round %d: %d holds of valid leases overlapped, first: %v", round, len(ex), ex[0])
	}
	var ops []check.Operation
	for i := range workers {
		o, err := check.LoadHistory(workerHistory(dir, i))
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, o...)
	}
	if err := check.CheckMutex(ops, historyTimeout); err != nil {
		t.Errorf("round %d: %v", round, err)
	}
	r.ops = int64(len(ops))
	if reg := check.TokenRegressions(kept); reg != nil {
		t.Errorf("round %d: %d fencing tokens did not increase, first: %v", round, len(reg), reg[0])
	}
	err := check.CheckCount(redisStore{oracle, counterKey}, int64(len(holds)))
	switch {
	case err != nil && r.totals.lost == 0:
		r.lostUpdates = check.LostUpdates(err)
		t.Errorf("round %d: %v", round, err)
	case err != nil:
		t.Logf("round %d: %v, after %d leases were lost (and signalled)", round, err, r.totals.lost)
	}
	return holds
}

// maxLockScripts is how many Lua scripts redislock runs on the lock's
// server: lock (acquire and release) and extend (and fenced_set, on the
// resource's).
const maxLockScripts = 2

// cachedScripts returns number_of_cached_scripts from the server's INFO.
func cachedScripts(t *testing.T, rdb *redis.Client) int {
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	defer cancel()
	info, err := rdb.Info(ctx, "memory").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "number_of_cached_scripts:"); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("INFO memory has no number_of_cached_scripts")
	return 0
}

func allDone(procs []*proctest.Proc) bool {
	for _, p := range procs {
		select {
		case <-p.Done():
		default:
			return false
		}
	}
	return true
}

// redisTotals adds up the "done" lines of Redis workers.
type redisTotals struct{ acquisitions, cancelled, lost, stale, staleValid, contract, stalls int64 }

const redisDoneFormat = "done acquisitions=%d cancelled=%d lost=%d stale=%d stale-valid=%d contract=%d stalls=%d"

func (w *redisTotals) add(line string) error {
	var d redisTotals
	if _, err := fmt.Sscanf(line, redisDoneFormat, &d.acquisitions, &d.cancelled, &d.lost, &d.stale, &d.staleValid, &d.contract, &d.stalls); err != nil {
		return fmt.Errorf("bad line %q: %w", line, err)
	}
	w.addTotals(d)
	return nil
}

func (w *redisTotals) addTotals(d redisTotals) {
	w.acquisitions += d.acquisitions
	w.cancelled += d.cancelled
	w.lost += d.lost
	w.stale += d.stale
	w.staleValid += d.staleValid
	w.contract += d.contract
	w.stalls += d.stalls
}

// redisWorker is the "redis-worker" helper: goroutines, each with its own
// clients, that take the lock under cancellation churn; in each hold they
// increment the counter on the oracle server and write the resource with
// their fencing token, and log the hold, with weight 0 if the lease turned
// out to be lost by its end.
func redisWorker() error {
	dir := os.Getenv(envDir)
	id, err := envInt(envID)
	if err != nil {
		return err
	}
	goroutines, err := envInt(envGoroutines)
	if err != nil {
		return err
	}
	iterations, err := envInt(envIterations)
	if err != nil {
		return err
	}
	log, err := check.CreateIntervalLog(workerLog(dir, id))
	if err != nil {
		return err
	}
	defer log.Close()
	oracle := redis.NewClient(redisOptions(os.Getenv(envOracle)))
	defer oracle.Close()
	store := redisStore{oracle, counterKey}

	var hist check.History
	var tot struct{ acquisitions, cancelled, lost, stale, staleValid, contract, stalls atomic.Int64 }
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			c, closeLocks, err := workerLocks(os.Getenv(envRedis))
			if err != nil {
				errs <- err
				return
			}
			defer closeLocks()
			m := c.NewMutex(lockName)
			rng := rand.New(rand.NewPCG(uint64(id), uint64(g)))
			owner := uint64(id*1000 + g)
			for i := range iterations {
				ctx, stop := churnContext(rng, redisSpan)
				call := hist.Call(int(owner), check.Acquire, 1)
				if err := m.Lock(ctx); err != nil {
					call.Return(check.Failed)
					if ctx.Err() == nil {
						stop()
						errs <- err
						return
					}
					if !errors.Is(err, ctx.Err()) || !errors.Is(err, context.Cause(ctx)) {
						if tot.contract.Add(1) <= maxReported {
							fmt.Printf("contract: Lock error %q for a context ended by %q\n", err, context.Cause(ctx))
						}
					}
					if errors.Is(context.Cause(ctx), errStall) {
						tot.stalls.Add(1)
					}
					tot.cancelled.Add(1)
					stop()
					continue
				}
				stop()
				call.Return(check.OK)
				granted := check.Now()
				tot.acquisitions.Add(1)
				lease := m.Lease()
				h, err := log.Begin(owner, 1, lease.Fence())
				if err != nil {
					errs <- err
					return
				}
				if err := check.Increment(store); err != nil {
					errs <- err
					return
				}
				// A Redlock lease has no fencing token (its Fence is
				// 0, which FencedSet refuses): nothing to write.
				var stale bool
				if lease.Fence() > 0 {
					stale, err = fencedWrite(oracle, lease.Fence(), strconv.Itoa(int(owner))+"/"+strconv.Itoa(i))
					if err != nil {
						errs <- err
						return
					}
				}
				pause(rng)
				end := check.Now()
				weight := int64(1)
				if lease.Err() != nil || lease.Validity() == 0 {
					weight = 0
					tot.lost.Add(1)
				}
				if stale {
					tot.stale.Add(1)
					if weight > 0 {
						tot.staleValid.Add(1)
					}
				}
				if _, err := h.EndAt(end, weight); err != nil {
					errs <- err
					return
				}
				if weight == 0 {
					// The key expired, or was taken, at some time since the
					// grant: a release that nobody called.
					in := check.Input{Client: int(owner), Kind: check.Release, Weight: 1}
					hist.Add(check.Operation{ClientId: in.Client, Input: in, Call: granted, Output: check.Ambiguous, Return: math.MaxInt64})
					m.Unlock()
					continue
				}
				call = hist.Call(int(owner), check.Release, 1)
				m.Unlock()
				call.Return(check.OK)
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	if err := hist.Save(workerHistory(dir, id)); err != nil {
		return err
	}
	fmt.Printf(redisDoneFormat+"\n", tot.acquisitions.Load(), tot.cancelled.Load(), tot.lost.Load(),
		tot.stale.Load(), tot.staleValid.Load(), tot.contract.Load(), tot.stalls.Load())
	return nil
}
