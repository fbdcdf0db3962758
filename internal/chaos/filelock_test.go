//go:build linux

package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/filelock"
	"github.com/codomyrmex/concurrency/internal/chaos"
	"github.com/codomyrmex/concurrency/internal/check"
	"github.com/codomyrmex/concurrency/internal/proctest"
	"github.com/codomyrmex/concurrency/lock"
)

// File-lock scenario: per round, fileWorkers processes of fileGoroutines
// goroutines each make fileIterations attempts, while the test kills
// (SIGKILL) and stops (SIGSTOP, then SIGCONT) victim processes that hold
// the lock.
const (
	fileWorkers    = 4
	fileGoroutines = 4
	fileIterations = 100
	fileKills      = 2 // per round
	fileStops      = 2 // per round
	fileStopFor    = 200 * time.Millisecond
	fileSpan       = 5 * time.Millisecond // churn deadlines and cancellations
	// exclusiveWeight is the weight of an exclusive hold; shared holds
	// weigh 1.
	exclusiveWeight = 1 << 20
)

// Files of a file-lock scenario directory.
func lockPath(dir string) string          { return filepath.Join(dir, "lock") }
func counterPath(dir string) string       { return filepath.Join(dir, "counter") }
func logPath(dir, who string) string      { return filepath.Join(dir, "holds-"+who) }
func workerLog(dir string, id int) string { return logPath(dir, fmt.Sprintf("worker-%d", id)) }
func victimLog(dir string, id int) string { return logPath(dir, fmt.Sprintf("victim-%d", id)) }
func workerHistory(dir string, id int) string {
	return filepath.Join(dir, fmt.Sprintf("history-worker-%d", id))
}

// testClient is the client number of the test process in histories and
// hold logs; workers use id*1000+goroutine, victims victimClient+id.
const (
	testClient   = 2_000_000
	victimClient = 1_000_000
)

// fileOp is a successful exclusive operation of a victim, rebuilt from its
// hold log: the acquire returned by its hold's start; the release, by the
// victim or by the kernel at its death, happened between the hold's end and
// the moment the test saw the victim gone.
func fileOp(owner uint64, kind check.OpKind, call, ret int64) check.Operation {
	in := check.Input{Client: int(owner), Kind: kind, Weight: exclusiveWeight}
	return check.Operation{ClientId: in.Client, Input: in, Call: call, Output: check.OK, Return: ret}
}

func TestFileLocksAcrossProcesses(t *testing.T) {
	var sum chaos.Summary
	var cancelled, ops, histories int64
	for round := range plan.Rounds(1) {
		for _, kind := range []lockKind{flockLocks, ofdLocks} {
			r, problems := fileRound(t, round, fileIterations, kind)
			for _, p := range problems {
				t.Errorf("%v: %s", kind, p)
			}
			sum.Acquisitions += r.acquisitions
			sum.Processes = max(sum.Processes, r.processes)
			sum.Faults += r.kills + r.stops
			sum.Overlaps += r.overlaps
			sum.LostUpdates += r.lost
			cancelled += r.cancelled
			ops += r.ops
			histories++
		}
		if t.Failed() {
			break
		}
	}
	sum.Note("flock(2) and OFD rounds")
	sum.Note(chaos.Count(cancelled, "cancelled wait"))
	sum.Note(chaos.Count(histories, "merged history") + " of " + chaos.Count(ops, "operation") + " linearizable")
	t.Log(sum)
}

// A lockKind is the kind of file lock the processes of a round take.
type lockKind int

const (
	flockLocks lockKind = iota // every process flock(2)
	ofdLocks                   // every process OFD locks
	mixedLocks                 // odd-numbered workers OFD, the others flock(2): broken
)

func (k lockKind) String() string { return [...]string{"flock", "OFD", "mixed"}[k] }

// ofd reports whether process id (a worker's or victim's number, -1 for
// the test itself) takes OFD locks.
func (k lockKind) ofd(id int) bool { return k == ofdLocks || k == mixedLocks && id%2 == 1 }

// fileOptions returns the filelock options of process id.
func (k lockKind) fileOptions(id int) []filelock.Option {
	if k.ofd(id) {
		return []filelock.Option{filelock.WithOFD()}
	}
	return nil
}

// TestFileScenarioCatchesMixedLocks shows that the scenario's oracles catch
// a broken set-up: half the workers use OFD locks and half flock(2), which
// do not see each other, so processes overlap.
func TestFileScenarioCatchesMixedLocks(t *testing.T) {
	r, problems := fileRound(t, 0, fileIterations/2, mixedLocks)
	if r.overlaps == 0 || len(problems) == 0 {
		t.Fatalf("mixed OFD and flock workers passed: %+v", r)
	}
	t.Logf("caught: %d overlaps, %d lost updates; first problem: %s", r.overlaps, r.lost, problems[0])
}

type fileResult struct {
	acquisitions, cancelled, kills, stops, lost, ops int64
	processes, overlaps                              int
}

// fileRound runs one round in a fresh directory, each worker making
// iterations attempts per goroutine, every process taking locks of the
// given kind, and returns what it did and the violations it found. It
// fails t only when the scenario itself cannot run.
func fileRound(t *testing.T, round, iterations int, kind lockKind) (r fileResult, problems []string) {
	dir := t.TempDir()
	workers := make([]*proctest.Proc, fileWorkers)
	for i := range workers {
		workers[i] = proctest.StartHelper(t, "file-worker",
			setenv(envDir, dir), setenv(envID, i), setenv(envOFD, kind.ofd(i)),
			setenv(envGoroutines, fileGoroutines), setenv(envIterations, iterations))
	}
	fail := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("round %d: ", round)+fmt.Sprintf(format, args...))
	}

	// Faults, while the workers contend. The test's own holds and
	// operations are checked with everybody else's, as are the victims'
	// (rebuilt from their hold logs, ending with their release by the
	// kernel or by themselves).
	var own check.Holds
	var hist check.History
	mine, err := filelock.New(lockPath(dir), kind.fileOptions(-1)...)
	if err != nil {
		t.Fatal(err)
	}
	defer mine.Close()
	killedAt := map[int]int64{} // victim → a Now() just before its SIGKILL
	goneAt := map[int]int64{}   // victim → a Now() once it has exited
	victims := fileKills + fileStops
	for v := range victims {
		victim := proctest.StartHelper(t, "file-victim", setenv(envDir, dir), setenv(envID, v), setenv(envOFD, kind.ofd(v)))
		if _, err := victim.Expect("held", 30*time.Second); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		if v%2 == 0 {
			killedAt[v] = check.Now()
			victim.Kill()
			goneAt[v] = check.Now()
			r.kills++
			// The kernel released the dead holder's lock: it can be taken.
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			call := hist.Call(testClient, check.Acquire, exclusiveWeight)
			err := mine.Lock(ctx)
			cancel()
			if err != nil {
				t.Fatalf("round %d: lock after killing its holder: %v", round, err)
			}
			call.Return(check.OK)
			start := check.Now()
			own.Add(check.Interval{Owner: testClient, Weight: exclusiveWeight, Start: start, End: check.Now()})
			call = hist.Call(testClient, check.Release, exclusiveWeight)
			mine.Unlock()
			call.Return(check.OK)
			continue
		}
		if err := victim.Stop(); err != nil {
			t.Fatal(err)
		}
		r.stops++
		time.Sleep(fileStopFor)
		// A stopped holder keeps the lock: nobody may take it.
		call := hist.Call(testClient, check.Acquire, exclusiveWeight)
		switch err := mine.TryLock(); {
		case err == nil:
			call.Return(check.OK)
			fail("TryLock while the holder is stopped took the lock")
			call = hist.Call(testClient, check.Release, exclusiveWeight)
			mine.Unlock()
			call.Return(check.OK)
		case errors.Is(err, lock.ErrNotAcquired):
			call.Return(check.Failed)
		default:
			t.Fatalf("round %d: TryLock: %v", round, err)
		}
		victim.Cont()
		victim.CloseStdin()
		if err := victim.Wait(30 * time.Second); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		goneAt[v] = check.Now()
	}

	var totals workerTotals
	for i, w := range workers {
		if err := w.Wait(2 * time.Minute); err != nil {
			t.Fatalf("round %d: worker %d: %v", round, i, err)
		}
	}
	for i, w := range workers {
		line, err := w.Expect("done ", time.Second)
		if err != nil {
			t.Fatal(err)
		}
		if err := totals.add(line); err != nil {
			t.Fatalf("worker %d: %v", i, err)
		}
	}
	if totals.torn+totals.contract+totals.stalls > 0 {
		fail("%+v: shared holds saw writes, broken cancellation contract, or stalls", totals)
	}

	// Merge every process's holds. A worker's hold left open would be a
	// bug: it is taken to last forever, so it overlaps anything later.
	holds := own.Intervals()
	var sections int64
	for i := range fileWorkers {
		ivs, err := check.ReadIntervalLog(workerLog(dir, i), math.MaxInt64)
		if err != nil {
			t.Fatal(err)
		}
		for _, iv := range ivs {
			if iv.Weight == exclusiveWeight {
				sections++
			}
		}
		holds = append(holds, ivs...)
	}
	ops := hist.Operations()
	for i := range fileWorkers {
		o, err := check.LoadHistory(workerHistory(dir, i))
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, o...)
	}
	for v := range victims {
		ivs, err := check.ReadIntervalLog(victimLog(dir, v), killedAt[v])
		if err != nil {
			t.Fatal(err)
		}
		holds = append(holds, ivs...)
		for _, iv := range ivs {
			ops = append(ops,
				fileOp(iv.Owner, check.Acquire, iv.Start, iv.Start),
				fileOp(iv.Owner, check.Release, iv.End, goneAt[v]))
		}
	}
	if err := check.CheckSemaphore(exclusiveWeight, ops, historyTimeout); err != nil {
		fail("%v", err)
	}
	r.ops = int64(len(ops))
	if ex := check.OverCapacity(holds, exclusiveWeight); ex != nil {
		r.overlaps = len(ex)
		fail("%d holds overlapped, first: %v", len(ex), ex[0])
	}
	store, err := check.OpenFileStore(counterPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	if err := check.CheckCount(store, sections); err != nil {
		r.lost = check.LostUpdates(err)
		fail("%v", err)
	}
	r.acquisitions = int64(len(holds))
	r.cancelled = totals.cancelled
	r.processes = fileWorkers + victims
	return r, problems
}

// workerTotals adds up the "done" lines of helper workers.
type workerTotals struct{ acquisitions, cancelled, torn, contract, stalls int64 }

func (w *workerTotals) add(line string) error {
	var a, c, t, k, s int64
	if _, err := fmt.Sscanf(line, "done acquisitions=%d cancelled=%d torn=%d contract=%d stalls=%d", &a, &c, &t, &k, &s); err != nil {
		return fmt.Errorf("bad line %q: %w", line, err)
	}
	w.acquisitions += a
	w.cancelled += c
	w.torn += t
	w.contract += k
	w.stalls += s
	return nil
}

// fileWorker is the "file-worker" helper: goroutines that contend for the
// lock under cancellation churn, exclusive holds incrementing the counter
// file, shared ones checking it does not change, every hold logged.
func fileWorker() error {
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
	opts := helperOptions()
	log, err := check.CreateIntervalLog(workerLog(dir, id))
	if err != nil {
		return err
	}
	defer log.Close()
	store, err := check.OpenFileStore(counterPath(dir))
	if err != nil {
		return err
	}
	defer store.Close()

	var hist check.History
	var acquisitions, cancelled, torn, contract, stalls atomic.Int64
	errs := make(chan error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			l, err := filelock.New(lockPath(dir), opts...)
			if err != nil {
				errs <- err
				return
			}
			defer l.Close()
			rng := rand.New(rand.NewPCG(uint64(id), uint64(g)))
			owner := uint64(id*1000 + g)
			for range iterations {
				shared := rng.IntN(5) == 0
				weight := int64(exclusiveWeight)
				if shared {
					weight = 1
				}
				call := hist.Call(int(owner), check.Acquire, weight)
				if rng.IntN(10) == 0 {
					try := l.TryLock
					if shared {
						try = l.TryRLock
					}
					err := try()
					if errors.Is(err, lock.ErrNotAcquired) {
						call.Return(check.Failed)
						continue
					}
					if err != nil {
						errs <- err
						return
					}
				} else {
					ctx, stop := churnContext(rng, fileSpan)
					acquire := l.Lock
					if shared {
						acquire = l.RLock
					}
					if err := acquire(ctx); err != nil {
						call.Return(check.Failed)
						if ctx.Err() == nil || !errors.Is(err, ctx.Err()) || !errors.Is(err, context.Cause(ctx)) {
							contract.Add(1)
						}
						if errors.Is(context.Cause(ctx), errStall) {
							stalls.Add(1)
						}
						cancelled.Add(1)
						stop()
						continue
					}
					stop()
				}
				call.Return(check.OK)
				acquisitions.Add(1)
				if err := fileHold(log, store, owner, shared, rng, &torn); err != nil {
					errs <- err
					return
				}
				call = hist.Call(int(owner), check.Release, weight)
				if shared {
					l.RUnlock()
				} else {
					l.Unlock()
				}
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
	fmt.Printf("done acquisitions=%d cancelled=%d torn=%d contract=%d stalls=%d\n",
		acquisitions.Load(), cancelled.Load(), torn.Load(), contract.Load(), stalls.Load())
	return nil
}

// fileHold is one critical section of a file worker: logged, and an
// increment of the counter (exclusive) or two reads that must agree
// (shared).
func fileHold(log *check.IntervalLog, store check.Store, owner uint64, shared bool, rng *rand.Rand, torn *atomic.Int64) error {
	weight := int64(exclusiveWeight)
	if shared {
		weight = 1
	}
	h, err := log.Begin(owner, weight, 0)
	if err != nil {
		return err
	}
	if shared {
		before, err := store.Load()
		if err != nil {
			return err
		}
		pause(rng)
		if after, err := store.Load(); err != nil || after != before {
			torn.Add(1)
		}
	} else {
		if err := check.Increment(store); err != nil {
			return err
		}
		pause(rng)
	}
	_, err = h.End()
	return err
}

// fileVictim is the "file-victim" helper: it takes the lock, logs the hold
// and prints "held", then holds it until its standard input closes (unless
// it is killed first).
func fileVictim() error {
	dir := os.Getenv(envDir)
	id, err := envInt(envID)
	if err != nil {
		return err
	}
	log, err := check.CreateIntervalLog(victimLog(dir, id))
	if err != nil {
		return err
	}
	defer log.Close()
	l, err := filelock.New(lockPath(dir), helperOptions()...)
	if err != nil {
		return err
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := l.Lock(ctx); err != nil {
		return err
	}
	h, err := log.Begin(uint64(victimClient+id), exclusiveWeight, 0)
	if err != nil {
		return err
	}
	fmt.Println("held")
	os.Stdin.Read(make([]byte, 1)) // until the test closes stdin
	if _, err := h.End(); err != nil {
		return err
	}
	l.Unlock()
	return nil
}

// helperOptions returns the filelock options of a helper process, as the
// test chose them through the environment.
func helperOptions() []filelock.Option {
	if os.Getenv(envOFD) == "true" {
		return []filelock.Option{filelock.WithOFD()}
	}
	return nil
}
