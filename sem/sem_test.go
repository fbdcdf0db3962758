package sem_test

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/sem"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestWeightedBound: weighted holders never exceed the size; a counter
// guarded by a size-1 semaphore is exact under -race.
func TestWeightedBound(t *testing.T) {
	s := sem.NewWeighted(5)
	var held atomic.Int64
	var wg sync.WaitGroup
	for g := range 10 {
		wg.Go(func() {
			n := int64(g%5 + 1)
			for range 300 {
				if err := s.Acquire(context.Background(), n); err != nil {
					t.Error(err)
					return
				}
				if h := held.Add(n); h > 5 {
					t.Errorf("%d held of 5", h)
				}
				held.Add(-n)
				s.Release(n)
			}
		})
	}
	wg.Wait()
	if s.Available() != 5 || s.Waiters() != 0 {
		t.Fatalf("available %d waiters %d after the run", s.Available(), s.Waiters())
	}

	one := sem.NewWeighted(1)
	counter := 0
	for range 8 {
		wg.Go(func() {
			for range 1000 {
				one.Acquire(context.Background(), 1)
				counter++
				one.Release(1)
			}
		})
	}
	wg.Wait()
	if counter != 8000 {
		t.Fatalf("counter = %d, want 8000", counter)
	}
}

func TestBadInput(t *testing.T) {
	s := sem.NewWeighted(3)
	if err := s.Acquire(context.Background(), 4); !errors.Is(err, sem.ErrTooLarge) || !errors.Is(err, lock.ErrInvalidArgument) {
		t.Fatalf("Acquire(4) of 3 = %v, want ErrTooLarge at once", err)
	}
	if err := s.Acquire(context.Background(), -1); !errors.Is(err, lock.ErrInvalidArgument) {
		t.Fatalf("Acquire(-1) = %v", err)
	}
	for _, n := range []int64{sem.MaxSize, sem.MaxSize + 1, math.MaxInt64} {
		if err := s.Acquire(context.Background(), n); !errors.Is(err, sem.ErrTooLarge) {
			t.Fatalf("Acquire(%d) = %v, want ErrTooLarge", n, err)
		}
		if s.TryAcquire(n) {
			t.Fatalf("TryAcquire(%d) succeeded", n)
		}
		if !panics(func() { s.Release(n) }) {
			t.Fatalf("Release(%d) did not panic", n)
		}
	}
	if s.TryAcquire(-1) || s.TryAcquire(4) {
		t.Fatal("TryAcquire accepted a bad weight")
	}
	if s.Available() != 3 {
		t.Fatalf("bad input changed state: available %d", s.Available())
	}
	for _, f := range []func(){
		func() { s.Release(1) },
		func() { s.Release(-1) },
		func() { sem.NewWeighted(-1) },
		func() { s.Resize(-1) },
	} {
		if !panics(f) {
			t.Fatal("misuse did not panic")
		}
	}
	if s.Available() != 3 {
		t.Fatalf("a panicking call changed state: available %d", s.Available())
	}
}

func TestZeroWeight(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := sem.NewWeighted(1)
		s.Acquire(context.Background(), 1)
		go s.Acquire(context.Background(), 1) // queued
		synctest.Wait()
		if err := s.Acquire(context.Background(), 0); err != nil {
			t.Fatalf("Acquire(0) with waiters = %v, want nil at once", err)
		}
		s.Release(1)
		synctest.Wait()
		s.Release(1)
	})
}

func TestCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := sem.NewWeighted(2)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := s.Acquire(ctx, 1); !errors.Is(err, context.Canceled) {
			t.Fatalf("done ctx on a free semaphore: %v", err)
		}
		s.Acquire(context.Background(), 2)
		dctx, dcancel := context.WithTimeout(context.Background(), time.Second)
		defer dcancel()
		if err := s.Acquire(dctx, 1); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("queued: %v", err)
		}
		if s.Waiters() != 0 || s.Available() != 0 {
			t.Fatalf("waiters %d available %d", s.Waiters(), s.Available())
		}
		s.Release(2)
	})
}

// TestCancelRaceConservesTokens: 2000 cancellations racing releases; at the
// end every token is back.
func TestCancelRaceConservesTokens(t *testing.T) {
	s := sem.NewWeighted(3)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 500 {
				ctx, cancel := context.WithCancel(context.Background())
				if (g+i)%2 == 0 {
					go cancel()
				}
				n := int64(i%3 + 1)
				if s.Acquire(ctx, n) == nil {
					s.Release(n)
				}
				cancel()
			}
		})
	}
	wg.Wait()
	if s.Available() != 3 || s.Waiters() != 0 {
		t.Fatalf("available %d, waiters %d, want 3 and 0", s.Available(), s.Waiters())
	}
}

func TestResizeAndClose(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := sem.NewWeighted(1)
		s.Acquire(context.Background(), 1)
		big := make(chan error, 1)
		go func() { big <- s.Acquire(context.Background(), 1) }()
		synctest.Wait()
		s.Resize(2) // grow: the waiter fits now
		synctest.Wait()
		if err := <-big; err != nil {
			t.Fatal(err)
		}
		if s.Size() != 2 || s.Available() != 0 {
			t.Fatalf("size %d available %d", s.Size(), s.Available())
		}
		s.Resize(1) // shrink below use: nothing is revoked
		if s.Available() != 0 {
			t.Fatal("available after shrink below use")
		}
		s.Release(1)
		if s.TryAcquire(1) {
			t.Fatal("acquired while 1 of size 1 is still held")
		}

		queued := make(chan error, 1)
		go func() { queued <- s.Acquire(context.Background(), 1) }()
		synctest.Wait()
		s.Close()
		if err := <-queued; !errors.Is(err, sem.ErrClosed) || !errors.Is(err, lock.ErrClosed) {
			t.Fatalf("queued waiter after Close: %v", err)
		}
		if err := s.Acquire(context.Background(), 0); !errors.Is(err, sem.ErrClosed) {
			t.Fatalf("Acquire after Close: %v", err)
		}
		s.Release(1) // holders may still release
		if s.Available() != 1 {
			t.Fatalf("available %d after release", s.Available())
		}
	})
}

// FuzzWeighted drives non-blocking operations against a model.
func FuzzWeighted(f *testing.F) {
	f.Add(uint8(3), []byte{0x01, 0x12, 0x21, 0x33, 0x40, 0x51, 0x62, 0x05})
	f.Add(uint8(0), []byte{0x00, 0x30, 0x41, 0x60})
	f.Fuzz(func(t *testing.T, size uint8, ops []byte) {
		s := sem.NewWeighted(int64(size))
		done, cancel := context.WithCancel(context.Background())
		cancel()
		msize, held, closed := int64(size), int64(0), false
		for _, op := range ops {
			n := int64(op >> 4)
			switch op & 7 {
			case 0: // TryAcquire
				want := !closed && held+n <= msize
				if got := s.TryAcquire(n); got != want {
					t.Fatalf("TryAcquire(%d) = %v, model %v (held %d size %d)", n, got, want, held, msize)
				}
				if want {
					held += n
				}
			case 1: // Release
				if n > held {
					if !panics(func() { s.Release(n) }) {
						t.Fatal("over-release did not panic")
					}
					continue
				}
				s.Release(n)
				held -= n
			case 2: // Acquire with a done ctx
				if err := s.Acquire(done, n); err == nil {
					t.Fatal("Acquire with a done ctx succeeded")
				}
			case 3: // Acquire that cannot block
				err := s.Acquire(context.Background(), n)
				switch {
				case closed:
					if !errors.Is(err, sem.ErrClosed) {
						t.Fatalf("closed: %v", err)
					}
				case n > msize:
					if !errors.Is(err, sem.ErrTooLarge) {
						t.Fatalf("too large: %v", err)
					}
				case held+n <= msize:
					if err != nil {
						t.Fatal(err)
					}
					held += n
				}
			case 4, 5: // Resize
				s.Resize(n)
				msize = n
			case 6:
				if op == 0x66 {
					s.Close()
					closed = true
				}
			}
			if got, want := s.Available(), max(0, msize-held); got != want {
				t.Fatalf("Available() = %d, model %d", got, want)
			}
			if s.Size() != msize || s.Waiters() != 0 {
				t.Fatalf("Size() = %d, model %d; waiters %d", s.Size(), msize, s.Waiters())
			}
		}
	})
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

func TestWithMaxWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := sem.NewWeighted(1, sem.WithMaxWaiters(1))
		s.Acquire(context.Background(), 1)
		queued := make(chan error, 1)
		go func() { queued <- s.Acquire(context.Background(), 1) }()
		synctest.Wait()
		err := s.Acquire(context.Background(), 1)
		if !errors.Is(err, lock.ErrTooManyWaiters) {
			t.Fatalf("second waiter: %v, want ErrTooManyWaiters", err)
		}
		if s.Waiters() != 1 || s.Available() != 0 {
			t.Fatalf("refusal changed state: waiters %d available %d", s.Waiters(), s.Available())
		}
		s.Release(1)
		if err := <-queued; err != nil {
			t.Fatal(err)
		}
		s.Release(1)
	})
}

// TestSetMaxWaiters: the bound can be set, lowered and lifted after
// NewWeighted; waiters already queued are never dropped.
func TestSetMaxWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := sem.NewWeighted(1)
		s.Acquire(context.Background(), 1)
		queued := make(chan error, 3)
		for range 2 {
			go func() { queued <- s.Acquire(context.Background(), 1) }()
		}
		synctest.Wait()
		s.SetMaxWaiters(1) // below the queue: both stay queued
		err := s.Acquire(context.Background(), 1)
		if !errors.Is(err, lock.ErrTooManyWaiters) || s.Waiters() != 2 {
			t.Fatalf("over the bound: %v with %d waiters", err, s.Waiters())
		}
		s.SetMaxWaiters(0)
		go func() { queued <- s.Acquire(context.Background(), 1) }()
		synctest.Wait()
		if s.Waiters() != 3 {
			t.Fatalf("unbounded queue holds %d waiters, want 3", s.Waiters())
		}
		for range 3 {
			s.Release(1)
			if err := <-queued; err != nil {
				t.Fatal(err)
			}
		}
		s.Release(1)
	})
}

// TestMessages: errors and panics name the numbers involved.
func TestMessages(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := sem.NewWeighted(3, sem.WithMaxWaiters(1))
		for _, tc := range []struct {
			n    int64
			want string
		}{
			{4, "sem: weight 4 exceeds size 3: lock: invalid argument"},
			{-1, "sem: negative weight -1: lock: invalid argument"},
		} {
			if err := s.Acquire(context.Background(), tc.n); err == nil || err.Error() != tc.want {
				t.Errorf("Acquire(%d) = %v, want %q", tc.n, err, tc.want)
			}
		}
		s.Acquire(context.Background(), 2)
		queued := make(chan error, 1)
		go func() { queued <- s.Acquire(context.Background(), 3) }()
		synctest.Wait()
		err := s.Acquire(context.Background(), 1)
		var tm *lock.TooManyWaitersError
		if !errors.As(err, &tm) || tm.Max != 1 || tm.Lock != "sem.Weighted" ||
			err.Error() != "sem.Weighted: 1 goroutine already waiting (the bound): lock: too many waiters" {
			t.Errorf("refused Acquire = %v", err)
		}
		s.Resize(2) // the queued 3 no longer fits
		if err := <-queued; !errors.Is(err, sem.ErrTooLarge) || err.Error() != "sem: weight 3 exceeds size 2: lock: invalid argument" {
			t.Errorf("waiter after a shrink = %v", err)
		}
		for _, tc := range []struct {
			n    int64
			want string
		}{
			{3, "sem: Release(3) with 2 held"},
			{-1, "sem: Release(-1): negative weight"},
		} {
			func() {
				defer func() {
					if r := recover(); r != tc.want {
						t.Errorf("Release(%d) panicked with %v, want %q", tc.n, r, tc.want)
					}
				}()
				s.Release(tc.n)
			}()
		}
		if s.Available() != 0 {
			t.Fatalf("a bad Release changed the semaphore: available %d", s.Available())
		}
		s.Release(2)
	})
}
