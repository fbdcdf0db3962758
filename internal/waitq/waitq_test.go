package waitq

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// newQueue returns a queue of the given capacity (base 0).
func newQueue(capacity int64) *Queue {
	q := new(Queue)
	q.SetExtra(capacity, 0)
	return q
}

// TestExclusion checks that no more than the capacity is ever held, under
// heavy contention with weighted requests, and that all tokens come back.
func TestExclusion(t *testing.T) {
	for _, capacity := range []int64{1, 3} {
		q := newQueue(capacity)
		var held, counter atomic.Int64
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Go(func() {
				n := int64(g)%capacity + 1
				for range 500 {
					if err := q.Acquire(context.Background(), n, 0); err != nil {
						t.Error(err)
						return
					}
					if h := held.Add(n); h > capacity {
						t.Errorf("capacity %d: %d held", capacity, h)
					}
					counter.Add(1)
					held.Add(-n)
					q.Release(n, 0)
				}
			})
		}
		wg.Wait()
		if got := counter.Load(); got != 8*500 {
			t.Fatalf("capacity %d: %d acquisitions, want %d", capacity, got, 8*500)
		}
		if u, w := q.Used(), q.Waiters(); u != 0 || w != 0 {
			t.Fatalf("capacity %d: used %d, waiters %d after the run", capacity, u, w)
		}
	}
}

func TestDoneContextFailsEvenWhenFree(t *testing.T) {
	q := newQueue(1)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := q.Acquire(ctx, 1, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire with a done ctx = %v, want context.Canceled", err)
	}
	if q.Used() != 0 {
		t.Fatal("a failed Acquire holds tokens")
	}
}

func TestCancelWhileQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue(1)
		q.Acquire(context.Background(), 1, 0)
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err := q.Acquire(ctx, 1, 0)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want DeadlineExceeded", err)
		}
		if d := time.Since(start); d != time.Second {
			t.Fatalf("returned after %v, want exactly the 1s deadline", d)
		}
		if q.Waiters() != 0 || q.Used() != 1 {
			t.Fatalf("waiters %d used %d, want 0 and 1", q.Waiters(), q.Used())
		}
		q.Release(1, 0)
	})
}

// TestCancelledHeadWakesOthers is pitfall 2 of the notes: capacity 10, all
// held; A wants 10, B wants 1; release 1, cancel A: B must hold at once.
func TestCancelledHeadWakesOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue(10)
		q.Acquire(context.Background(), 10, 0)
		ctxA, cancelA := context.WithCancel(context.Background())
		errA := make(chan error, 1)
		go func() { errA <- q.Acquire(ctxA, 10, 0) }()
		synctest.Wait()
		bHeld := make(chan struct{})
		go func() {
			if err := q.Acquire(context.Background(), 1, 0); err == nil {
				close(bHeld)
			}
		}()
		synctest.Wait()
		q.Release(1, 0)
		synctest.Wait()
		select {
		case <-bHeld:
			t.Fatal("B overtook A at the head of the queue")
		default:
		}
		cancelA()
		synctest.Wait()
		select {
		case <-bHeld:
		default:
			t.Fatal("B not granted after the head waiter was cancelled")
		}
		if err := <-errA; !errors.Is(err, context.Canceled) {
			t.Fatalf("A: %v", err)
		}
		if u := q.Used(); u != 10 {
			t.Fatalf("used %d, want 10 (9 + B's 1)", u)
		}
		q.Release(10, 0)
	})
}

// TestGrantCancelRace races a release that grants a waiter against the
// cancellation of that waiter, many times. Whatever wins, nil must mean
// held and an error must mean nothing held, and no token may be lost.
func TestGrantCancelRace(t *testing.T) {
	q := newQueue(1)
	var granted, cancelled int
	for range 3000 {
		q.Acquire(context.Background(), 1, 0)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- q.Acquire(ctx, 1, 0) }()
		for q.Waiters() == 0 {
			time.Sleep(time.Microsecond)
		}
		go cancel()
		q.Release(1, 0)
		err := <-done
		switch {
		case err == nil:
			granted++
			if q.Used() != 1 {
				t.Fatalf("nil error but used = %d", q.Used())
			}
			q.Release(1, 0)
		case errors.Is(err, context.Canceled):
			cancelled++
		default:
			t.Fatalf("unexpected error %v", err)
		}
		cancel()
		if q.Used() != 0 || q.Waiters() != 0 {
			t.Fatalf("after round: used %d waiters %d", q.Used(), q.Waiters())
		}
	}
	t.Logf("granted %d, cancelled %d", granted, cancelled)
}

// TestCancelledGrantGoesToNext: a grant delivered to a waiter whose ctx is
// already done is passed to the next waiter.
func TestCancelledGrantGoesToNext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue(1)
		q.Acquire(context.Background(), 1, 0)
		ctxA, cancelA := context.WithCancel(context.Background())
		errA := make(chan error, 1)
		go func() { errA <- q.Acquire(ctxA, 1, 0) }()
		synctest.Wait()
		errB := make(chan error, 1)
		go func() { errB <- q.Acquire(context.Background(), 1, 0) }()
		synctest.Wait()
		// Cancel A and grant it in one step, before it runs.
		cancelA()
		q.Release(1, 0)
		synctest.Wait()
		if err := <-errA; !errors.Is(err, context.Canceled) {
			t.Fatalf("A: %v, want Canceled", err)
		}
		if err := <-errB; err != nil {
			t.Fatalf("B: %v", err)
		}
		if q.Used() != 1 {
			t.Fatalf("used %d, want 1 (B)", q.Used())
		}
		q.Release(1, 0)
	})
}

func TestFIFOOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue(1)
		q.Acquire(context.Background(), 1, 0)
		var order []int
		var mu sync.Mutex
		var wg sync.WaitGroup
		for i := range 20 {
			wg.Go(func() {
				q.Acquire(context.Background(), 1, 0)
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				q.Release(1, 0)
			})
			synctest.Wait() // i is queued before i+1 starts
		}
		// New arrivals must not barge ahead of the queue.
		if q.TryAcquire(1, 0) {
			t.Fatal("TryAcquire took tokens while waiters were queued")
		}
		q.Release(1, 0)
		wg.Wait()
		for i, v := range order {
			if i != v {
				t.Fatalf("grant order %v, want 0..19", order)
			}
		}
	})
}

// TestTombstones cancels every other waiter of a long queue (crossing ring
// growth) and checks that the rest are served in order.
func TestTombstones(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue(1)
		q.Acquire(context.Background(), 1, 0)
		var order []int
		var mu sync.Mutex
		cancels := make([]context.CancelFunc, 100)
		for i := range 100 {
			ctx, cancel := context.WithCancel(context.Background())
			cancels[i] = cancel
			go func() {
				if q.Acquire(ctx, 1, 0) == nil {
					mu.Lock()
					order = append(order, i)
					mu.Unlock()
					q.Release(1, 0)
				}
			}()
			synctest.Wait()
		}
		for i := 0; i < 100; i += 2 {
			cancels[i]()
		}
		synctest.Wait()
		if w := q.Waiters(); w != 50 {
			t.Fatalf("waiters %d, want 50", w)
		}
		q.Release(1, 0)
		synctest.Wait()
		for i, v := range order {
			if v != 2*i+1 {
				t.Fatalf("order %v, want the odd waiters in order", order)
			}
		}
		if len(order) != 50 || q.Used() != 0 || q.Waiters() != 0 {
			t.Fatalf("served %d, used %d, waiters %d", len(order), q.Used(), q.Waiters())
		}
		for _, c := range cancels {
			c()
		}
	})
}

func TestClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue(2)
		q.Acquire(context.Background(), 2, 0)
		errs := make(chan error, 3)
		for range 3 {
			go func() { errs <- q.Acquire(context.Background(), 1, 0) }()
		}
		synctest.Wait()
		q.Close()
		for range 3 {
			if err := <-errs; err != ErrClosed {
				t.Fatalf("queued waiter got %v, want ErrClosed", err)
			}
		}
		if err := q.Acquire(context.Background(), 1, 0); err != ErrClosed {
			t.Fatalf("Acquire after Close = %v", err)
		}
		if q.TryAcquire(0, 0) {
			t.Fatal("TryAcquire succeeded after Close")
		}
		if !q.Release(2, 0) || q.Used() != 0 {
			t.Fatal("holders cannot release after Close")
		}
		q.Close() // idempotent
	})
}

func TestResize(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue(2)
		if err := q.Acquire(context.Background(), 3, 0); err != ErrTooLarge {
			t.Fatalf("oversized Acquire = %v, want ErrTooLarge at once", err)
		}
		q.Acquire(context.Background(), 2, 0)
		errA, errB, errC := make(chan error, 1), make(chan error, 1), make(chan error, 1)
		go func() { errA <- q.Acquire(context.Background(), 2, 0) }()
		synctest.Wait()
		go func() { errB <- q.Acquire(context.Background(), 1, 0) }()
		synctest.Wait()
		go func() { errC <- q.Acquire(context.Background(), 2, 0) }()
		synctest.Wait()

		q.SetExtra(4, 0) // grow: A fits, B (head now) does not
		synctest.Wait()
		if err := <-errA; err != nil {
			t.Fatalf("A after grow: %v", err)
		}
		if u, w := q.Used(), q.Waiters(); u != 4 || w != 2 {
			t.Fatalf("after grow used %d waiters %d, want 4 and 2", u, w)
		}

		q.SetExtra(1, 0) // shrink below use: nothing revoked, C can never fit
		synctest.Wait()
		if err := <-errC; err != ErrTooLarge {
			t.Fatalf("C after shrink: %v, want ErrTooLarge", err)
		}
		if u, w := q.Used(), q.Waiters(); u != 4 || w != 1 {
			t.Fatalf("after shrink used %d waiters %d, want 4 and 1", u, w)
		}
		q.Release(2, 0)
		synctest.Wait()
		select {
		case err := <-errB:
			t.Fatalf("B granted with 2 of capacity 1 in use: %v", err)
		default:
		}
		q.Release(2, 0)
		synctest.Wait()
		if err := <-errB; err != nil {
			t.Fatalf("B: %v", err)
		}
		if u := q.Used(); u != 1 {
			t.Fatalf("used %d, want 1", u)
		}
		q.Release(1, 0)
	})
}

// TestResizeRacingCancel: a shrink fails a waiter queued behind another
// just after its context ended, before the waiter ran. The waiter sees either result,
// but it leaves the queue once: the waiter count must not go negative and
// the bound must not leak a slot (it once did, counting the waiter out
// twice).
func TestResizeRacingCancel(t *testing.T) {
	for range 100 {
		synctest.Test(t, func(t *testing.T) {
			q := newQueue(3)
			q.SetMaxWaiters(2)
			q.Acquire(context.Background(), 3, 0)
			errA, errB := make(chan error, 1), make(chan error, 1)
			go func() { errA <- q.Acquire(context.Background(), 1, 0) }()
			synctest.Wait()
			ctx, cancel := context.WithCancel(context.Background())
			go func() { errB <- q.Acquire(ctx, 3, 0) }()
			synctest.Wait()
			cancel()         // wakes B for its context...
			q.SetExtra(2, 0) // ...and fails it behind A before B runs
			synctest.Wait()
			if err := <-errB; err != ErrTooLarge && !errors.Is(err, context.Canceled) {
				t.Fatalf("B: %v, want ErrTooLarge or context.Canceled", err)
			}
			if w := q.Waiters(); w != 1 {
				t.Fatalf("Waiters() = %d with A queued, want 1", w)
			}
			// The bound of 2 admits exactly one more waiter.
			errC := make(chan error, 1)
			go func() { errC <- q.Acquire(context.Background(), 1, 0) }()
			synctest.Wait()
			if err := q.Acquire(context.Background(), 1, 0); err != ErrTooManyWaiters {
				t.Fatalf("third waiter with a bound of 2: %v, want ErrTooManyWaiters", err)
			}
			q.Release(3, 0)
			if err := <-errA; err != nil {
				t.Fatal(err)
			}
			if err := <-errC; err != nil {
				t.Fatal(err)
			}
			q.Release(2, 0)
		})
	}
}

func TestOverRelease(t *testing.T) {
	q := newQueue(2)
	q.Acquire(context.Background(), 1, 0)
	if q.Release(2, 0) {
		t.Fatal("released 2 of 1 held")
	}
	if q.Used() != 1 {
		t.Fatalf("failed Release changed state: used %d", q.Used())
	}
}

// TestBigWaiterNotStarved is pitfall 10: a capacity-sized request with a
// deadline succeeds while churners keep taking single tokens.
func TestBigWaiterNotStarved(t *testing.T) {
	q := newQueue(8)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if q.Acquire(ctx, 1, 0) == nil {
					q.Release(1, 0)
				}
			}
		})
	}
	for range 50 {
		wctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := q.Acquire(wctx, 8, 0)
		cancel()
		if err != nil {
			stop()
			wg.Wait()
			t.Fatalf("capacity-sized request starved: %v", err)
		}
		q.Release(8, 0)
	}
	stop()
	wg.Wait()
}

// TestNoLostWakeup races a release against a waiter that is between its
// failed fast path and its enqueue; the waiter must never be left asleep
// with the tokens free.
func TestNoLostWakeup(t *testing.T) {
	q := newQueue(1)
	for range 5000 {
		q.Acquire(context.Background(), 1, 0)
		got := make(chan error, 1)
		go func() { got <- q.Acquire(context.Background(), 1, 0) }()
		q.Release(1, 0) // races the waiter's enqueue
		select {
		case err := <-got:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("waiter asleep with the token free: used %d waiters %d", q.Used(), q.Waiters())
		}
		q.Release(1, 0)
	}
}

// TestNoGoroutinePerWaiter: cancelled waits leave no goroutine behind.
func TestNoGoroutinePerWaiter(t *testing.T) {
	q := newQueue(1)
	q.Acquire(context.Background(), 1, 0)
	before := runtime.NumGoroutine()
	for range 1000 {
		ctx, cancel := context.WithTimeout(context.Background(), time.Microsecond)
		if err := q.Acquire(ctx, 1, 0); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		cancel()
	}
	// A goroutine per waiter would leave up to 1000 more; the runtime may
	// start one or two of its own meanwhile (cleanup workers).
	if after := runtime.NumGoroutine(); after > before+2 {
		t.Fatalf("goroutines %d -> %d after 1000 cancelled waits", before, after)
	}
	if q.Waiters() != 0 {
		t.Fatalf("%d waiters left", q.Waiters())
	}
	q.Release(1, 0)
}

// TestMaxWaiters: with the queue at its bound a would-be waiter fails at
// once, holding nothing; a slot freed by a cancelled waiter is usable again.
func TestMaxWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := new(Queue)
		q.SetMaxWaiters(2)
		q.SetExtra(1, 0)
		q.Acquire(context.Background(), 1, 0)
		ctx, cancel := context.WithCancel(context.Background())
		errs := make(chan error, 2)
		go func() { errs <- q.Acquire(ctx, 1, 0) }()
		go func() { errs <- q.Acquire(context.Background(), 1, 0) }()
		synctest.Wait()
		if err := q.Acquire(context.Background(), 1, 0); err != ErrTooManyWaiters {
			t.Fatalf("third waiter: %v, want ErrTooManyWaiters", err)
		}
		if q.Waiters() != 2 || q.Used() != 1 {
			t.Fatalf("refusal changed state: waiters %d used %d", q.Waiters(), q.Used())
		}
		cancel()
		synctest.Wait()
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		third := make(chan error, 1)
		go func() { third <- q.Acquire(context.Background(), 1, 0) }()
		synctest.Wait()
		if q.Waiters() != 2 {
			t.Fatalf("a freed slot was not reused: waiters %d", q.Waiters())
		}
		q.Release(1, 0)
		synctest.Wait()
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
		q.Release(1, 0)
		synctest.Wait()
		if err := <-third; err != nil {
			t.Fatal(err)
		}
		q.Release(1, 0)
	})
}

// TestInBubble guards the bubble detection that keeps pooled channels out
// of testing/synctest bubbles: if a Go release gave fake time a monotonic
// reading (or took it from real time), waits in bubbles would hang or
// crash, and this test says why.
func TestInBubble(t *testing.T) {
	if inBubble() {
		t.Fatal("inBubble() outside a bubble: time.Now has no monotonic reading")
	}
	synctest.Test(t, func(t *testing.T) {
		if !inBubble() {
			t.Fatal("inBubble() false inside a synctest bubble: fake time has a monotonic reading now")
		}
	})
}

// TestWaitsAllocateNothing: a blocked Acquire reuses a pooled waiter.
func TestWaitsAllocateNothing(t *testing.T) {
	q := newQueue(1)
	q.Acquire(context.Background(), 1, 0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start, done := make(chan struct{}), make(chan struct{})
	go func() {
		for range start {
			q.Acquire(ctx, 1, 0) // blocks until released below
			q.Release(1, 0)
			done <- struct{}{}
		}
	}()
	allocs := testing.AllocsPerRun(200, func() {
		start <- struct{}{}
		for q.Waiters() == 0 {
			runtime.Gosched()
		}
		q.Release(1, 0) // hand over to the waiter
		<-done
		q.Acquire(ctx, 1, 0)
	})
	close(start)
	if allocs != 0 {
		t.Fatalf("%v allocations per blocked Acquire, want 0", allocs)
	}
}

// TestReusedWaitersUnderCancellation: waits that end by grant, by timeout
// and by a grant racing the timeout, from goroutines that reuse pooled
// waiters. A result left in a reused waiter would let its next user hold
// tokens it was never granted: more than the capacity held at once, or
// tokens missing at the end.
func TestReusedWaitersUnderCancellation(t *testing.T) {
	const capacity = 2
	q := newQueue(capacity)
	var held atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			n := int64(g%2 + 1)
			for i := range 1500 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%7)*time.Microsecond)
				err := q.Acquire(ctx, n, 0)
				cancel()
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Error(err)
						return
					}
					continue
				}
				if h := held.Add(n); h > capacity {
					t.Errorf("%d held of %d", h, capacity)
				}
				held.Add(-n)
				q.Release(n, 0)
			}
		})
	}
	wg.Wait()
	if u, w := q.Used(), q.Waiters(); u != 0 || w != 0 {
		t.Fatalf("used %d, waiters %d after the run", u, w)
	}
}

func TestBound(t *testing.T) {
	var b Bound
	first, second, third := b.Join(2), b.Join(2), b.Join(2)
	if !first || !second || third || b.Count() != 2 {
		t.Fatalf("a bound of 2 admitted %v, %v, %v: count %d", first, second, third, b.Count())
	}
	b.Leave()
	if !b.Join(2) || !b.Join(0) || b.Count() != 3 {
		t.Fatalf("a freed slot or no bound refused a caller: count %d", b.Count())
	}
}

// TestAcrossBubbles contends one Queue inside a testing/synctest bubble,
// then outside any, then in a second bubble. The bubble check runs once
// per queue: a waiter taken from the pool inside a bubble would not count
// as durably blocked, so synctest.Wait would hang, and one made in the
// first bubble and pooled would be a fatal error outside it.
func TestAcrossBubbles(t *testing.T) {
	q := newQueue(1)
	contend := func(settle func()) {
		q.Acquire(context.Background(), 1, 0)
		done := make(chan struct{})
		for range 2 {
			go func() {
				q.Acquire(context.Background(), 1, 0)
				q.Release(1, 0)
				done <- struct{}{}
			}()
		}
		settle()
		q.Release(1, 0)
		<-done
		<-done
	}
	inBubble := func() {
		synctest.Test(t, func(t *testing.T) {
			contend(func() {
				synctest.Wait() // both waiters must be durably blocked
				if q.Waiters() != 2 {
					t.Fatalf("waiters %d, want 2", q.Waiters())
				}
			})
		})
	}
	inBubble()
	contend(func() {
		for q.Waiters() < 2 {
			runtime.Gosched()
		}
	})
	inBubble()
	if q.Used() != 0 {
		t.Fatal("tokens left held")
	}
}
