package lock_test

import (
	"context"
	"errors"
	"sync"
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
		if r := recover(); r != "lock: unlock of unlocked Mutex" {
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
