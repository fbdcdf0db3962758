package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/chaos"
	"github.com/codomyrmex/concurrency/internal/check"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/rw"
	"github.com/codomyrmex/concurrency/sem"
)

// A target is an in-process primitive seen as a weighted semaphore: a hold
// of weight capacity is exclusive (a mutex, a writer); lighter ones share.
type target struct {
	capacity  int64
	weight    func(rng *rand.Rand) int64
	acquire   func(ctx context.Context, w int64) error
	try       func(w int64) bool
	release   func(w int64)
	downgrade func() // turns an exclusive hold into one of weight 1; nil if unsupported
	check     func(ops []check.Operation) error
}

// In-process churn: goroutines per round and operations per goroutine, so
// that one round's history stays within a few thousand operations.
const (
	churnGoroutines = 8
	churnIterations = 150
	churnRounds     = 8 // per primitive, in the short plan
	historyTimeout  = 20 * time.Second
)

func TestChurnMutex(t *testing.T) {
	var mu lock.Mutex
	runChurn(t, target{
		capacity: 1,
		weight:   func(*rand.Rand) int64 { return 1 },
		acquire:  func(ctx context.Context, _ int64) error { return mu.Lock(ctx) },
		try:      func(int64) bool { return mu.TryLock() },
		release:  func(int64) { mu.Unlock() },
		check:    func(ops []check.Operation) error { return check.CheckMutex(ops, historyTimeout) },
	})
}

func TestChurnWeighted(t *testing.T) {
	const size = 4
	s := sem.NewWeighted(size)
	runChurn(t, target{
		capacity: size,
		weight:   func(rng *rand.Rand) int64 { return 1 + rng.Int64N(size) },
		acquire:  s.Acquire,
		try:      s.TryAcquire,
		release:  s.Release,
		check:    func(ops []check.Operation) error { return check.CheckSemaphore(size, ops, historyTimeout) },
	})
}

func TestChurnRWMutex(t *testing.T) {
	// Readers weigh 1 and a writer weighs more than all readers together.
	const writer = churnGoroutines + 1
	var l rw.RWMutex
	runChurn(t, target{
		capacity: writer,
		weight: func(rng *rand.Rand) int64 {
			if rng.IntN(3) == 0 {
				return writer
			}
			return 1
		},
		acquire: func(ctx context.Context, w int64) error {
			if w == writer {
				return l.Lock(ctx)
			}
			return l.RLock(ctx)
		},
		try: func(w int64) bool {
			if w == writer {
				return l.TryLock()
			}
			return l.TryRLock()
		},
		release: func(w int64) {
			if w == writer {
				l.Unlock()
			} else {
				l.RUnlock()
			}
		},
		downgrade: l.Downgrade,
		check:     func(ops []check.Operation) error { return check.CheckSemaphore(writer, ops, historyTimeout) },
	})
}

// runChurn runs the rounds of the plan on tg and fails t with every
// problem found.
func runChurn(t *testing.T, tg target) {
	var store check.MemStore // unsynchronized: -race is a further oracle
	sum, problems := churn(tg, &store, plan.Rounds(churnRounds))
	for _, p := range problems {
		t.Error(p)
	}
	t.Log(sum)
}

// churn runs rounds on tg, each with churnGoroutines goroutines acquiring
// under cancellation churn, and checks every round with porcupine, the hold
// intervals, the counter oracle in store (exclusive holds increment it,
// shared holds must read it unchanged) and the cancellation contract. It
// stops after the first round with a problem.
func churn(tg target, store check.Store, rounds iter.Seq[int]) (sum chaos.Summary, problems []string) {
	sum.Processes = 1
	var sections, histories, ops, torn, contract, stalls int64
	for round := range rounds {
		r := churnRound(tg, store, uint64(round))
		sum.Acquisitions += r.acquisitions
		sum.Faults += r.cancelled
		sections += r.sections
		torn += r.torn
		contract += r.contract
		stalls += r.stalls
		if o := check.OverCapacity(r.holds, tg.capacity); o != nil {
			sum.Overlaps += len(o)
			problems = append(problems, fmt.Sprintf("round %d: %d holds over capacity, first: %v", round, len(o), o[0]))
		}
		if err := tg.check(r.history.Operations()); err != nil {
			problems = append(problems, fmt.Sprintf("round %d: %v", round, err))
		}
		histories++
		ops += int64(r.history.Len())
		if len(problems) > 0 || torn+contract+stalls > 0 {
			break
		}
	}
	if err := check.CheckCount(store, sections); err != nil {
		sum.LostUpdates = check.LostUpdates(err)
		problems = append(problems, err.Error())
	}
	if torn > 0 {
		problems = append(problems, fmt.Sprintf("%d shared holds saw the counter change", torn))
	}
	if stalls > 0 {
		problems = append(problems, fmt.Sprintf("%d acquires waited %v: the primitive stalled", stalls, stallTimeout))
	}
	if contract > 0 {
		problems = append(problems, fmt.Sprintf("%d failed acquires broke the cancellation contract", contract))
	}
	sum.Note(chaos.Count(histories, "history") + " of " + chaos.Count(ops, "operation") + " checked")
	sum.Note(chaos.Count(sections, "exclusive section"))
	return sum, problems
}

// A churnResult is what one round did and saw.
type churnResult struct {
	history      check.History
	holds        []check.Interval
	acquisitions int64 // successful acquires
	cancelled    int64 // acquires ended by their context: the injected faults
	sections     int64 // exclusive holds, each of which incremented the store
	torn         int64 // shared holds that saw the store change
	contract     int64 // failed acquires whose error did not match ctx.Err()
	stalls       int64 // acquires that waited stallTimeout
}

func churnRound(tg target, store check.Store, seed uint64) *churnResult {
	r := new(churnResult)
	var holds check.Holds
	var acquisitions, cancelled, sections, torn, contract, stalls atomic.Int64
	var wg sync.WaitGroup
	for g := range churnGoroutines {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(seed, uint64(g)))
			for range churnIterations {
				w := tg.weight(rng)
				call := r.history.Call(g, check.Acquire, w)
				if rng.IntN(10) == 0 {
					if !tg.try(w) {
						call.Return(check.Failed)
						continue
					}
				} else {
					ctx, stop := churnContext(rng, 300*time.Microsecond)
					err := tg.acquire(ctx, w)
					if err != nil {
						call.Return(check.Failed)
						if ctx.Err() == nil || !errors.Is(err, ctx.Err()) || !errors.Is(err, context.Cause(ctx)) {
							contract.Add(1)
						}
						if errors.Is(context.Cause(ctx), errStall) {
							stalls.Add(1)
						}
						stop()
						cancelled.Add(1)
						continue
					}
					stop()
				}
				call.Return(check.OK)
				acquisitions.Add(1)

				start := check.Now()
				if w == tg.capacity && tg.downgrade != nil && rng.IntN(4) == 0 {
					sections.Add(1)
					check.Increment(store)
					holds.Add(check.Interval{Owner: uint64(g), Weight: w, Start: start, End: check.Now()})
					call = r.history.Call(g, check.Release, w-1)
					tg.downgrade()
					call.Return(check.OK)
					start, w = check.Now(), 1
				}
				if w == tg.capacity {
					sections.Add(1)
					check.Increment(store)
					pause(rng)
				} else {
					before, _ := store.Load()
					pause(rng)
					if after, _ := store.Load(); after != before {
						torn.Add(1)
					}
				}
				holds.Add(check.Interval{Owner: uint64(g), Weight: w, Start: start, End: check.Now()})
				call = r.history.Call(g, check.Release, w)
				tg.release(w)
				call.Return(check.OK)
				runtime.Gosched()
			}
		})
	}
	wg.Wait()
	r.holds = holds.Intervals()
	r.acquisitions, r.cancelled, r.sections = acquisitions.Load(), cancelled.Load(), sections.Load()
	r.torn, r.contract, r.stalls = torn.Load(), contract.Load(), stalls.Load()
	return r
}
