package lock_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/codomyrmex/concurrency/lock"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var _ lock.Locker = (*lock.Mutex)(nil)

// TestMutualExclusion guards a plain counter: -race reports any overlap and
// the final count must be exact.
func TestMutualExclusion(t *testing.T) {
	var mu lock.Mutex
	counter := 0
	const goroutines, iterations = 16, 2000
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range iterations {
				if (g+i)%3 == 0 && mu.TryLock() {
					counter++
					mu.Unlock()
					continue
				}
				if err := mu.Lock(context.Background()); err != nil {
					t.Error(err)
					return
				}
				counter++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if counter != goroutines*iterations {
		t.Fatalf("counter = %d, want %d", counter, goroutines*iterations)
	}
}

func TestLockDoneContext(t *testing.T) {
	var mu lock.Mutex
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("shutdown")
	cancel(cause)
	err := mu.Lock(ctx)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, cause) {
		t.Fatalf("Lock(done ctx) = %v, want Canceled with its cause", err)
	}
	if mu.Locked() {
		t.Fatal("failed Lock left the mutex locked")
	}
}

func TestLockDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu lock.Mutex
		mu.Lock(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := mu.Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		if d := time.Since(start); d != 50*time.Millisecond {
			t.Fatalf("waited %v, want the 50ms deadline exactly", d)
		}
		if mu.Waiters() != 0 {
			t.Fatal("cancelled waiter still queued")
		}
		mu.Unlock()
	})
}

// TestHandoffIsFIFO: once goroutines wait, the lock goes to them in arrival
// order and a newcomer's TryLock cannot take it.
func TestHandoffIsFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu lock.Mutex
		mu.Lock(context.Background())
		var got []int
		var wg sync.WaitGroup
		for i := range 5 {
			wg.Go(func() {
				mu.Lock(context.Background())
				got = append(got, i) // guarded by mu
				mu.Unlock()
			})
			synctest.Wait()
		}
		if mu.Waiters() != 5 {
			t.Fatalf("waiters = %d", mu.Waiters())
		}
		mu.Unlock()
		if mu.TryLock() {
			t.Fatal("TryLock barged ahead of waiters")
		}
		wg.Wait()
		for i, v := range got {
			if i != v {
				t.Fatalf("order %v", got)
			}
		}
	})
}

// TestCancelRacingUnlock: thousands of cancellations racing the Unlock that
// grants the waiter; error means not held, nil means held.
func TestCancelRacingUnlock(t *testing.T) {
	var mu lock.Mutex
	for range 2000 {
		mu.Lock(context.Background())
		ctx, cancel := context.WithCancel(context.Background())
		res := make(chan error)
		go func() { res <- mu.Lock(ctx) }()
		for mu.Waiters() == 0 {
			time.Sleep(time.Microsecond)
		}
		go cancel()
		mu.Unlock()
		if err := <-res; err == nil {
			mu.Unlock()
		} else if !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		cancel()
		if mu.Locked() {
			t.Fatal("mutex left locked")
		}
	}
}

func TestUnlockOfUnlockedPanics(t *testing.T) {
	defer func() {
		if r := recover(); r != "lock: Unlock of unlocked Mutex" {
			t.Fatalf("recovered %v", r)
		}
	}()
	var mu lock.Mutex
	mu.Unlock()
}

// FuzzMutex drives non-blocking operation sequences against a model.
func FuzzMutex(f *testing.F) {
	f.Add([]byte{0, 1, 0, 0, 2, 1, 3, 1})
	f.Add([]byte{3, 2, 1, 1, 0})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var mu lock.Mutex
		done, cancel := context.WithCancel(context.Background())
		cancel()
		locked := false
		for _, op := range ops {
			switch op % 4 {
			case 0:
				if got := mu.TryLock(); got == locked {
					t.Fatalf("TryLock = %v with locked = %v", got, locked)
				}
				locked = true
			case 1:
				if !locked {
					if !panics(mu.Unlock) {
						t.Fatal("Unlock of unlocked did not panic")
					}
					continue
				}
				mu.Unlock()
				locked = false
			case 2:
				if err := mu.Lock(done); err == nil {
					t.Fatal("Lock with a done ctx succeeded")
				}
			case 3:
				if locked {
					continue // would block
				}
				if err := mu.Lock(context.Background()); err != nil {
					t.Fatal(err)
				}
				locked = true
			}
			if mu.Locked() != locked {
				t.Fatalf("Locked() = %v, model %v", mu.Locked(), locked)
			}
		}
	})
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

// TestSetMaxWaiters: with the queue at its bound a Lock fails at once with
// ErrTooManyWaiters, holding nothing and leaving the queue as it was; a
// cancelled waiter frees its slot; lowering the bound leaves queued waiters
// alone; n ≤ 0 removes it.
func TestSetMaxWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu lock.Mutex
		mu.SetMaxWaiters(2)
		mu.Lock(context.Background())
		var got []int // guarded by mu
		var wg sync.WaitGroup
		waiter := func(ctx context.Context, id int) chan error {
			res := make(chan error, 1)
			wg.Go(func() {
				err := mu.Lock(ctx)
				if err == nil {
					got = append(got, id)
					mu.Unlock()
				}
				res <- err
			})
			synctest.Wait()
			return res
		}
		ctx, cancel := context.WithCancel(context.Background())
		first := waiter(context.Background(), 1)
		cancelled := waiter(ctx, -1)
		err := mu.Lock(context.Background())
		var tm *lock.TooManyWaitersError
		if !errors.Is(err, lock.ErrTooManyWaiters) || !errors.As(err, &tm) || tm.Max != 2 ||
			err.Error() != "lock.Mutex: 2 goroutines already waiting (the bound): lock: too many waiters" {
			t.Fatalf("third waiter: %v, want a TooManyWaitersError with Max 2", err)
		}
		if mu.Waiters() != 2 || !mu.Locked() || mu.TryLock() {
			t.Fatalf("refusal changed state: waiters %d locked %v", mu.Waiters(), mu.Locked())
		}

		cancel()
		if err := <-cancelled; !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		third := waiter(context.Background(), 2)
		if mu.Waiters() != 2 {
			t.Fatalf("the cancelled waiter's slot was not reused: waiters %d", mu.Waiters())
		}

		mu.SetMaxWaiters(1) // below the queue: those queued stay
		if mu.Waiters() != 2 {
			t.Fatalf("lowering the bound dropped waiters: %d", mu.Waiters())
		}
		if err := mu.Lock(context.Background()); !errors.Is(err, lock.ErrTooManyWaiters) {
			t.Fatalf("over the lowered bound: %v", err)
		}
		mu.SetMaxWaiters(0)
		var more []chan error
		for i := range 4 {
			more = append(more, waiter(context.Background(), 3+i))
		}
		if mu.Waiters() != 6 {
			t.Fatalf("unbounded queue holds %d waiters, want 6", mu.Waiters())
		}

		mu.Unlock()
		wg.Wait()
		for _, res := range append([]chan error{first, third}, more...) {
			if err := <-res; err != nil {
				t.Fatal(err)
			}
		}
		for i, id := range got {
			if id != i+1 {
				t.Fatalf("handoff order %v, want 1..6", got)
			}
		}
		if mu.Locked() {
			t.Fatal("mutex left locked")
		}
	})
}

// TestSetMaxWaitersConcurrent changes the bound while goroutines contend:
// every Lock either holds the mutex or is refused holding nothing, and -race
// sees no unsynchronized access.
func TestSetMaxWaitersConcurrent(t *testing.T) {
	var mu lock.Mutex
	counter, successes := 0, 0
	var refused atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Go(func() {
		for n := 0; ; n = (n + 1) % 4 {
			select {
			case <-stop:
				return
			default:
			}
			mu.SetMaxWaiters(n - 1) // -1, 0: unbounded; 1, 2
			runtime.Gosched()
		}
	})
	var workers sync.WaitGroup
	for range 8 {
		workers.Go(func() {
			for range 2000 {
				switch err := mu.Lock(context.Background()); {
				case err == nil:
					counter++
					successes++
					mu.Unlock()
				case errors.Is(err, lock.ErrTooManyWaiters):
					refused.Add(1)
				default:
					t.Error(err)
					return
				}
			}
		})
	}
	workers.Wait()
	close(stop)
	wg.Wait()
	if counter != successes || int64(successes)+refused.Load() != 8*2000 {
		t.Fatalf("counter %d, successes %d, refused %d", counter, successes, refused.Load())
	}
	if mu.Locked() || mu.Waiters() != 0 {
		t.Fatal("mutex left locked or waited for")
	}
}

// TestPickedWaiterCancelled: a waiter whose ctx ends just as Unlock picks
// it takes the mutex that is on its way to it and hands it on, to the next
// waiter if there is one, else freeing it; one that was not picked leaves
// the mutex to those who were.
func TestPickedWaiterCancelled(t *testing.T) {
	// On one P, the cancelled waiter runs only once the test goroutine
	// blocks, so the Unlock picks it while it is off the channel.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	for _, others := range []int{0, 1} {
		synctest.Test(t, func(t *testing.T) {
			var mu lock.Mutex
			mu.Lock(context.Background())
			ctx, cancel := context.WithCancel(context.Background())
			res := make(chan error, 1)
			go func() { res <- mu.Lock(ctx) }()
			synctest.Wait()
			held := make(chan struct{})
			for range others {
				go func() {
					mu.Lock(context.Background())
					close(held)
				}()
				synctest.Wait()
			}
			cancel()    // wakes the first waiter, which has not run yet,
			mu.Unlock() // so the mutex goes to the next one, or is in flight to it
			synctest.Wait()
			if err := <-res; !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled waiter: %v", err)
			}
			if mu.Waiters() != 0 {
				t.Fatalf("waiters %d after the run", mu.Waiters())
			}
			if others == 0 {
				if mu.Locked() || !mu.TryLock() {
					t.Fatal("the mutex handed back by the cancelled waiter is not free")
				}
			} else {
				select {
				case <-held:
				default:
					t.Fatal("the waiter behind the cancelled one does not hold the mutex")
				}
			}
			mu.Unlock()
		})
	}
}

// TestCancelStorm: goroutines lock with deadlines of a few microseconds,
// so grants race cancellations at every point of a wait. Nil must mean
// held alone, an error nothing held, and at the end the mutex is free with
// nobody queued.
func TestCancelStorm(t *testing.T) {
	var mu lock.Mutex
	var held atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for i := range 1500 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%7)*time.Microsecond)
				err := mu.Lock(ctx)
				cancel()
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Error(err)
						return
					}
					continue
				}
				if h := held.Add(1); h != 1 {
					t.Errorf("%d goroutines hold the mutex", h)
				}
				held.Add(-1)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if mu.Locked() || mu.Waiters() != 0 {
		t.Fatalf("locked %v, waiters %d after the run", mu.Locked(), mu.Waiters())
	}
}

// TestWaitsAllocateNothing: a Lock that waits allocates nothing, also when
// every wait begins a new queue and ends it.
func TestWaitsAllocateNothing(t *testing.T) {
	var mu lock.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start, done := make(chan struct{}), make(chan struct{})
	go func() {
		for range start {
			mu.Lock(ctx) // waits for the Unlock below
			mu.Unlock()
			done <- struct{}{}
		}
	}()
	mu.Lock(ctx)
	allocs := testing.AllocsPerRun(200, func() {
		start <- struct{}{}
		for mu.Waiters() == 0 {
			runtime.Gosched()
		}
		mu.Unlock()
		<-done
		mu.Lock(ctx)
	})
	close(start)
	mu.Unlock()
	if allocs != 0 {
		t.Fatalf("%v allocations per wait, want 0", allocs)
	}
}

// TestAcrossBubbles contends one Mutex inside a testing/synctest bubble,
// then outside any, then in a second bubble. Each queue's channel belongs
// to where its first waiter ran: a channel kept from the first bubble
// would be a fatal error outside it, and one from outside would not count
// as durably blocking in the second, so synctest.Wait would hang.
func TestAcrossBubbles(t *testing.T) {
	var mu lock.Mutex
	contend := func(settle func()) {
		mu.Lock(context.Background())
		done := make(chan struct{})
		go func() {
			mu.Lock(context.Background())
			mu.Unlock()
			close(done)
		}()
		settle()
		mu.Unlock()
		<-done
	}
	inBubble := func() {
		synctest.Test(t, func(t *testing.T) {
			contend(func() {
				synctest.Wait() // the waiter must be durably blocked
				if mu.Waiters() != 1 {
					t.Fatalf("waiters %d, want 1", mu.Waiters())
				}
			})
		})
	}
	inBubble()
	contend(func() {
		for mu.Waiters() == 0 {
			runtime.Gosched()
		}
	})
	inBubble()
	if mu.Locked() {
		t.Fatal("mutex left locked")
	}
}

// TestSecondUnlockChangesNothing: a second Unlock that finds the mutex
// already handed over, its value still in flight, panics and leaves the
// count of waiters as it was, so every cancelled Lock still returns.
func TestSecondUnlockChangesNothing(t *testing.T) {
	// On one P, the cancelled waiters run only once the test goroutine
	// blocks, so they cannot change the count between the two Unlocks.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	synctest.Test(t, func(t *testing.T) {
		var mu lock.Mutex
		mu.Lock(context.Background())
		ctx, cancel := context.WithCancel(context.Background())
		res := make(chan error, 2)
		for range 2 {
			go func() { res <- mu.Lock(ctx) }()
			synctest.Wait()
		}
		cancel()    // wakes both waiters, which have not run yet,
		mu.Unlock() // so the value waits in the channel's buffer
		before := mu.Waiters()
		if !panics(mu.Unlock) {
			t.Fatal("a second Unlock did not panic")
		}
		if after := mu.Waiters(); after != before {
			t.Fatalf("the panicking Unlock changed Waiters from %d to %d", before, after)
		}
		synctest.Wait()
		for range 2 {
			if err := <-res; !errors.Is(err, context.Canceled) {
				t.Fatalf("cancelled Lock: %v", err)
			}
		}
		if mu.Locked() || mu.Waiters() != 0 {
			t.Fatalf("locked %v, waiters %d after the run", mu.Locked(), mu.Waiters())
		}
	})
}

// TestMixedStress mixes, from 12 goroutines, Locks with deadlines of a few
// microseconds, Locks cancelled by a timer (racing the Unlock that picks
// them), Locks with a done context, TryLock, SetMaxWaiters changes, and
// Unlocks by another goroutine than the holder, while a monitor reads
// Waiters. There must never be two holders, Waiters stays within bounds,
// and at the end the mutex is free with nobody waiting.
func TestMixedStress(t *testing.T) {
	const goroutines = 12
	var mu lock.Mutex
	var held atomic.Int64
	deadline := time.Now().Add(5 * time.Second)
	unlocks := make(chan struct{}, 1)
	var helpers sync.WaitGroup
	helpers.Go(func() { // unlocks on the holders' behalf
		for range unlocks {
			if h := held.Add(-1); h != 0 {
				t.Errorf("%d holders at an Unlock", h+1)
			}
			mu.Unlock()
		}
	})
	stop := make(chan struct{})
	helpers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
			}
			if w := mu.Waiters(); w < 0 || w > goroutines {
				t.Errorf("Waiters() = %d", w)
				return
			}
			time.Sleep(time.Microsecond)
		}
	})
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(1, uint64(g)))
			for i := 0; i < 30000 && time.Now().Before(deadline); i++ {
				var err error
				switch k := r.IntN(10); {
				case k == 0:
					if !mu.TryLock() {
						continue
					}
				case k == 1:
					mu.SetMaxWaiters(r.IntN(4) - 1)
					continue
				case k == 2:
					ctx, cancel := context.WithCancel(context.Background())
					cancel()
					if err := mu.Lock(ctx); !errors.Is(err, context.Canceled) {
						t.Errorf("Lock with a done context: %v", err)
						return
					}
					continue
				case k <= 5:
					ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.IntN(30))*time.Microsecond)
					err = mu.Lock(ctx)
					cancel()
				case k <= 7:
					ctx, cancel := context.WithCancel(context.Background())
					timer := time.AfterFunc(time.Duration(r.IntN(20))*time.Microsecond, cancel)
					err = mu.Lock(ctx)
					timer.Stop()
					cancel()
				default:
					err = mu.Lock(context.Background())
				}
				if err != nil {
					if !errors.Is(err, lock.ErrTooManyWaiters) && !errors.Is(err, context.Canceled) &&
						!errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("Lock: %v", err)
						return
					}
					continue
				}
				if h := held.Add(1); h != 1 {
					t.Errorf("%d holders", h)
				}
				if !mu.Locked() || mu.TryLock() {
					t.Error("held, yet Locked() is false or TryLock succeeds")
				}
				if r.IntN(3) == 0 {
					unlocks <- struct{}{}
				} else {
					held.Add(-1)
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	close(unlocks)
	close(stop)
	helpers.Wait()
	if mu.Locked() || mu.Waiters() != 0 || !mu.TryLock() {
		t.Fatalf("after the run: locked %v, waiters %d", mu.Locked(), mu.Waiters())
	}
	mu.Unlock()
}
