package rw_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/rw"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var _ lock.Locker = (*rw.RWMutex)(nil)

// TestExclusion: writers exclude everyone, readers share; a plain map is
// written by writers and read by readers under -race.
func TestExclusion(t *testing.T) {
	var mu rw.RWMutex
	data := map[int]int{}
	var readers, writers atomic.Int32
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Go(func() {
			for i := range 400 {
				if (g+i)%4 == 0 {
					if err := mu.Lock(context.Background()); err != nil {
						t.Error(err)
						return
					}
					if writers.Add(1) != 1 || readers.Load() != 0 {
						t.Error("writer not alone")
					}
					data[g]++
					writers.Add(-1)
					mu.Unlock()
					continue
				}
				if err := mu.RLock(context.Background()); err != nil {
					t.Error(err)
					return
				}
				readers.Add(1)
				if writers.Load() != 0 {
					t.Error("reader with a writer")
				}
				_ = data[g]
				readers.Add(-1)
				mu.RUnlock()
			}
		})
	}
	wg.Wait()
	total := 0
	for _, v := range data {
		total += v
	}
	if total != 12*100 {
		t.Fatalf("writes = %d, want %d", total, 12*100)
	}
}

// TestWriterNotStarved: readers flood the lock without pause; a writer still
// gets in, every time, well within its deadline.
func TestWriterNotStarved(t *testing.T) {
	var mu rw.RWMutex
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if mu.RLock(ctx) == nil {
					mu.RUnlock()
				}
			}
		})
	}
	for range 50 {
		wctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := mu.Lock(wctx)
		cancel()
		if err != nil {
			stop()
			wg.Wait()
			t.Fatalf("writer starved by readers: %v", err)
		}
		mu.Unlock()
	}
	stop()
	wg.Wait()
}

// TestReadersBehindCancelledWriter is pitfall 3 of the notes.
func TestReadersBehindCancelledWriter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu rw.RWMutex
		mu.RLock(context.Background())
		wctx, cancel := context.WithCancel(context.Background())
		werr := make(chan error, 1)
		go func() { werr <- mu.Lock(wctx) }()
		synctest.Wait()
		var admitted atomic.Int32
		for range 3 {
			go func() {
				if mu.RLock(context.Background()) == nil {
					admitted.Add(1)
				}
			}()
		}
		synctest.Wait()
		if admitted.Load() != 0 {
			t.Fatal("readers overtook a queued writer")
		}
		cancel()
		synctest.Wait()
		if err := <-werr; !errors.Is(err, context.Canceled) {
			t.Fatalf("writer: %v", err)
		}
		if admitted.Load() != 3 {
			t.Fatalf("%d of 3 readers admitted after the writer gave up", admitted.Load())
		}
		for range 4 {
			mu.RUnlock()
		}
		if !mu.TryLock() {
			t.Fatal("lock not free after all readers left")
		}
		mu.Unlock()
	})
}

// TestDowngrade: no writer slips in between the write and the read lock, and
// queued readers are admitted with the downgrader.
func TestDowngrade(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu rw.RWMutex
		mu.Lock(context.Background())
		value := 1
		var order []string
		var omu sync.Mutex
		note := func(s string) { omu.Lock(); order = append(order, s); omu.Unlock() }
		go func() {
			mu.RLock(context.Background())
			note("reader")
			mu.RUnlock()
		}()
		synctest.Wait()
		go func() {
			mu.Lock(context.Background())
			value = 3
			note("writer")
			mu.Unlock()
		}()
		synctest.Wait()
		value = 2
		mu.Downgrade()
		synctest.Wait()
		if value != 2 {
			t.Fatalf("a writer slipped in during Downgrade: value %d", value)
		}
		omu.Lock()
		if len(order) != 1 || order[0] != "reader" {
			t.Fatalf("after Downgrade: %v, want the queued reader admitted", order)
		}
		omu.Unlock()
		mu.RUnlock()
		synctest.Wait()
		if value != 3 || len(order) != 2 {
			t.Fatalf("writer did not run after the last reader: %v", order)
		}
	})
}

func TestTryAndMisuse(t *testing.T) {
	var mu rw.RWMutex
	if !mu.TryRLock() {
		t.Fatal("TryRLock on a free mutex failed")
	}
	if !mu.TryRLock() {
		t.Fatal("TryRLock on a read-locked mutex failed")
	}
	if mu.TryLock() {
		t.Fatal("TryLock succeeded with readers")
	}
	mu.RUnlock()
	mu.RUnlock()
	if !panics(mu.RUnlock) || !panics(mu.Unlock) || !panics(mu.Downgrade) {
		t.Fatal("misuse of an unlocked RWMutex did not panic")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if mu.Lock(ctx) == nil || mu.RLock(ctx) == nil {
		t.Fatal("a done ctx locked a free RWMutex")
	}
	l := mu.RLocker()
	if err := l.Lock(context.Background()); err != nil || mu.TryLock() {
		t.Fatal("RLocker().Lock did not take a read lock")
	}
	l.Unlock()
	if !mu.TryLock() {
		t.Fatal("RLocker().Unlock did not release")
	}
	mu.Unlock()
}

// TestMisusePanics: every unlock that does not match what is held panics
// with its message and changes nothing. RUnlock of a write-locked mutex
// was once accepted, leaving a reader and the writer both "holding" it.
func TestMisusePanics(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(*rw.RWMutex)
		misuse  func(*rw.RWMutex)
		message string
	}{
		{"Unlock of unlocked", func(*rw.RWMutex) {}, (*rw.RWMutex).Unlock, "rw: Unlock of unlocked RWMutex"},
		{"Unlock of read-locked", rlock, (*rw.RWMutex).Unlock, "rw: Unlock of RWMutex locked for reading"},
		{"RUnlock of unlocked", func(*rw.RWMutex) {}, (*rw.RWMutex).RUnlock, "rw: RUnlock of unlocked RWMutex"},
		{"RUnlock of write-locked", wlock, (*rw.RWMutex).RUnlock, "rw: RUnlock of RWMutex locked for writing"},
		{"Downgrade of unlocked", func(*rw.RWMutex) {}, (*rw.RWMutex).Downgrade, "rw: Downgrade of unlocked RWMutex"},
		{"Downgrade of read-locked", rlock, (*rw.RWMutex).Downgrade, "rw: Downgrade of RWMutex locked for reading"},
		{"second Unlock", func(mu *rw.RWMutex) { wlock(mu); mu.Unlock() }, (*rw.RWMutex).Unlock, "rw: Unlock of unlocked RWMutex"},
		{"second RUnlock", func(mu *rw.RWMutex) { rlock(mu); mu.RUnlock() }, (*rw.RWMutex).RUnlock, "rw: RUnlock of unlocked RWMutex"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu rw.RWMutex
			tc.setup(&mu)
			readers, writer := state(&mu)
			func() {
				defer func() {
					if r := recover(); r != tc.message {
						t.Fatalf("recovered %v, want %q", r, tc.message)
					}
				}()
				tc.misuse(&mu)
			}()
			if r, w := state(&mu); r != readers || w != writer {
				t.Fatalf("misuse changed the mutex: read-locked %v, write-locked %v before; %v, %v after", readers, writer, r, w)
			}
		})
	}
}

func rlock(mu *rw.RWMutex) { mu.RLock(context.Background()) }
func wlock(mu *rw.RWMutex) { mu.Lock(context.Background()) }

// state probes whether mu is read-locked or write-locked, leaving it as it
// was.
func state(mu *rw.RWMutex) (readers, writer bool) {
	if mu.TryLock() {
		mu.Unlock()
		return false, false
	}
	if !mu.TryRLock() {
		return false, true
	}
	mu.RUnlock()
	return true, false
}

// FuzzRWMutex drives non-blocking operations against a model.
func FuzzRWMutex(f *testing.F) {
	f.Add([]byte{1, 1, 3, 0, 3, 3, 0, 4, 2, 3, 5})
	f.Add([]byte{0, 2, 0, 4, 3, 1})
	f.Fuzz(func(t *testing.T, ops []byte) {
		var mu rw.RWMutex
		done, cancel := context.WithCancel(context.Background())
		cancel()
		readers, writer := 0, false
		for _, op := range ops {
			switch op % 6 {
			case 0:
				want := !writer && readers == 0
				if mu.TryLock() != want {
					t.Fatalf("TryLock != %v (readers %d writer %v)", want, readers, writer)
				}
				writer = writer || want
			case 1:
				want := !writer
				if mu.TryRLock() != want {
					t.Fatalf("TryRLock != %v", want)
				}
				if want {
					readers++
				}
			case 2:
				if !writer {
					if !panics(mu.Unlock) {
						t.Fatal("Unlock without writer did not panic")
					}
					continue
				}
				mu.Unlock()
				writer = false
			case 3:
				if readers == 0 {
					if !panics(mu.RUnlock) {
						t.Fatal("RUnlock without readers did not panic")
					}
					continue
				}
				mu.RUnlock()
				readers--
			case 4:
				if !writer {
					if !panics(mu.Downgrade) {
						t.Fatal("Downgrade without writer did not panic")
					}
					continue
				}
				mu.Downgrade()
				writer, readers = false, 1
			case 5:
				if mu.Lock(done) == nil || mu.RLock(done) == nil {
					t.Fatal("done ctx succeeded")
				}
			}
		}
	})
}

func panics(f func()) (p bool) {
	defer func() { p = recover() != nil }()
	f()
	return false
}

// TestCancelRacingUnlock: cancellations of queued readers and writers race
// the Unlock that admits them; nothing is left held or queued.
func TestCancelRacingUnlock(t *testing.T) {
	var mu rw.RWMutex
	for i := range 2000 {
		mu.Lock(context.Background())
		ctx, cancel := context.WithCancel(context.Background())
		res := make(chan error, 2)
		go func() {
			if err := mu.RLock(ctx); err != nil {
				res <- err
				return
			}
			mu.RUnlock()
			res <- nil
		}()
		go func() {
			if err := mu.Lock(ctx); err != nil {
				res <- err
				return
			}
			mu.Unlock()
			res <- nil
		}()
		for mu.Waiters() < 2 {
			time.Sleep(time.Microsecond)
		}
		if i%2 == 0 {
			go cancel()
		} else {
			cancel()
		}
		mu.Unlock()
		for range 2 {
			if err := <-res; err != nil && !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
		}
		cancel()
		if !mu.TryLock() {
			t.Fatal("lock left held after the round")
		}
		mu.Unlock()
	}
}

// TestSetMaxWaiters: readers and writers both count as waiters; at the
// bound either kind fails at once with an error wrapping
// lock.ErrTooManyWaiters, holding nothing; a reader admitted at once is
// never refused; a cancelled waiter frees its slot; n ≤ 0 removes the
// bound; those waiting are served in phase-fair order.
func TestSetMaxWaiters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu rw.RWMutex
		mu.SetMaxWaiters(2)
		for range 3 { // readers that need not wait are never refused
			if err := mu.RLock(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		var order []string // appended under mu
		var omu sync.Mutex
		note := func(s string) { omu.Lock(); order = append(order, s); omu.Unlock() }
		var wg sync.WaitGroup
		start := func(ctx context.Context, name string, write bool) chan error {
			res := make(chan error, 1)
			wg.Go(func() {
				if write {
					err := mu.Lock(ctx)
					if err == nil {
						note(name)
						mu.Unlock()
					}
					res <- err
					return
				}
				err := mu.RLock(ctx)
				if err == nil {
					note(name)
					mu.RUnlock()
				}
				res <- err
			})
			synctest.Wait()
			return res
		}
		ctx, cancel := context.WithCancel(context.Background())
		w1 := start(context.Background(), "w1", true)
		r1 := start(ctx, "r1", false) // queued behind w1
		for _, try := range []func(context.Context) error{mu.Lock, mu.RLock} {
			err := try(context.Background())
			if !errors.Is(err, lock.ErrTooManyWaiters) ||
				err.Error() != "rw.RWMutex: 2 goroutines already waiting (the bound): lock: too many waiters" {
				t.Fatalf("third waiter: %v, want lock.ErrTooManyWaiters", err)
			}
		}
		if mu.Waiters() != 2 || mu.TryRLock() || mu.TryLock() {
			t.Fatalf("refusal changed state: waiters %d", mu.Waiters())
		}

		cancel()
		if err := <-r1; !errors.Is(err, context.Canceled) {
			t.Fatal(err)
		}
		r2 := start(context.Background(), "r2", false)
		if mu.Waiters() != 2 {
			t.Fatalf("the cancelled waiter's slot was not reused: waiters %d", mu.Waiters())
		}
		mu.SetMaxWaiters(-1)
		w2 := start(context.Background(), "w2", true)
		r3 := start(context.Background(), "r3", false)
		if mu.Waiters() != 4 {
			t.Fatalf("unbounded queue holds %d waiters, want 4", mu.Waiters())
		}

		for range 3 {
			mu.RUnlock()
		}
		wg.Wait()
		for _, res := range []chan error{w1, r2, w2, r3} {
			if err := <-res; err != nil {
				t.Fatal(err)
			}
		}
		// r3 arrived while w2 waited for its turn, not yet announced:
		// it enters with r2, in w1's phase, before w2.
		if got := fmt.Sprint(order); got != "[w1 r2 r3 w2]" && got != "[w1 r3 r2 w2]" {
			t.Fatalf("order %v, want [w1 r2 r3 w2] (r2 and r3 in either order)", order)
		}
	})
}

// TestSetMaxWaitersConcurrent changes the bound while readers and writers
// contend, under -race.
func TestSetMaxWaitersConcurrent(t *testing.T) {
	var mu rw.RWMutex
	shared := 0
	var refused atomic.Int64
	stop := make(chan struct{})
	var setter sync.WaitGroup
	setter.Go(func() {
		for n := 0; ; n = (n + 1) % 4 {
			select {
			case <-stop:
				return
			default:
			}
			mu.SetMaxWaiters(n - 1)
			runtime.Gosched()
		}
	})
	var workers sync.WaitGroup
	writes := 0
	for g := range 8 {
		workers.Go(func() {
			for i := range 1000 {
				write := (g+i)%4 == 0
				var err error
				if write {
					err = mu.Lock(context.Background())
				} else {
					err = mu.RLock(context.Background())
				}
				switch {
				case err == nil && write:
					shared++
					writes++
					mu.Unlock()
				case err == nil:
					if shared < 0 { // a read that -race checks
						t.Error("negative")
					}
					mu.RUnlock()
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
	setter.Wait()
	if shared != writes || mu.Waiters() != 0 || !mu.TryLock() {
		t.Fatalf("shared %d writes %d waiters %d", shared, writes, mu.Waiters())
	}
	mu.Unlock()
}
