//go:build linux

package filelock

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/lock"
	"golang.org/x/sys/unix"
)

// openWaitersTest returns Locks on one new file, closed when the test
// ends, made with the given options each.
func openWaitersTest(t *testing.T, opts ...[]Option) []*Lock {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lock")
	var ls []*Lock
	for _, o := range opts {
		l, err := New(path, o...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		ls = append(ls, l)
	}
	return ls
}

// awaitWaiters polls until n goroutines wait for the file of l.
func awaitWaiters(t *testing.T, l *Lock, n int64) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); int64(l.f.waiters.Count()) != n; {
		if time.Now().After(deadline) {
			t.Fatalf("%d waiters, want %d", int64(l.f.waiters.Count()), n)
		}
		time.Sleep(time.Millisecond)
	}
}

// refused fails unless call fails at once with lock.ErrTooManyWaiters.
func refused(t *testing.T, what string, call func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	start := time.Now()
	err := call(ctx)
	var tm *lock.TooManyWaitersError
	if !errors.Is(err, lock.ErrTooManyWaiters) || !errors.As(err, &tm) || !strings.HasPrefix(tm.Lock, "filelock \"") {
		t.Fatalf("%s over the bound: %v, want a *lock.TooManyWaitersError", what, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("%s was refused after %v, not at once", what, d)
	}
}

// TestMaxWaiters: waiters of every Lock on the file count, each call is
// checked against the bound of its Lock, a refused call holds nothing and
// leaves the queue and its order as they were, and a cancelled waiter frees
// its slot. It does not run in parallel: it counts the process's
// descriptors.
func TestMaxWaiters(t *testing.T) {
	ls := openWaitersTest(t, []Option{WithMaxWaiters(2)}, nil)
	bounded, free := ls[0], ls[1]
	bg := context.Background()
	if err := bounded.Lock(bg); err != nil {
		t.Fatal(err)
	}
	var (
		order []string // appended under the file lock
		wg    sync.WaitGroup
	)
	start := func(ctx context.Context, name string, take func(context.Context) error, release func()) chan error {
		res := make(chan error, 1)
		wg.Go(func() {
			err := take(ctx)
			if err == nil {
				order = append(order, name)
				release()
			}
			res <- err
		})
		return res
	}
	ctx, cancel := context.WithCancel(bg)
	w1 := start(ctx, "w1", bounded.Lock, bounded.Unlock)
	awaitWaiters(t, bounded, 1)
	r2 := start(bg, "r2", free.RLock, free.RUnlock)
	awaitWaiters(t, bounded, 2)

	fds := countFDs(t)
	for range 100 {
		refused(t, "Lock", bounded.Lock)
		refused(t, "RLock", bounded.RLock)
	}
	if err := bounded.TryLock(); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryLock = %v, want lock.ErrNotAcquired", err)
	}
	// bounded's users: its hold and w1's call.
	if n := countFDs(t); n != fds || bounded.f.waiters.Count() != 2 || bounded.users.Load() != 2<<1 {
		t.Fatalf("refusals changed state: %d fds (was %d), %d waiters, users %#b",
			n, fds, bounded.f.waiters.Count(), bounded.users.Load())
	}

	cancel()
	if err := <-w1; !errors.Is(err, context.Canceled) {
		t.Fatal(err)
	}
	awaitWaiters(t, bounded, 1)
	w3 := start(bg, "w3", bounded.Lock, bounded.Unlock)
	awaitWaiters(t, bounded, 2)
	refused(t, "Lock", bounded.Lock)
	w4 := start(bg, "w4", free.Lock, free.Unlock) // free has no bound
	awaitWaiters(t, bounded, 3)

	bounded.Unlock()
	wg.Wait()
	for _, res := range []chan error{r2, w3, w4} {
		if err := <-res; err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"r2", "w3", "w4"}; !slices.Equal(order, want) {
		t.Fatalf("order %v, want %v", order, want)
	}
	if bounded.f.waiters.Count() != 0 {
		t.Fatalf("%d waiters left", bounded.f.waiters.Count())
	}
	if err := bounded.TryLock(); err != nil {
		t.Fatal(err)
	}
	bounded.Unlock()
}

// TestMaxWaitersOtherProcess: a goroutine waiting for a lock held by another
// process (here another open file description) is a waiter too.
func TestMaxWaitersOtherProcess(t *testing.T) {
	t.Parallel()
	l := openWaitersTest(t, []Option{WithMaxWaiters(1)})[0]
	fd, err := unix.Open(l.Path(), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() { got <- l.RLock(context.Background()) }()
	awaitWaiters(t, l, 1)
	refused(t, "RLock", l.RLock)
	refused(t, "Lock", l.Lock)
	if err := unix.Flock(fd, unix.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	// A reader that can join the shared hold at once is never refused.
	if err := l.RLock(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.RUnlock()
	l.RUnlock()
}

// TestMaxWaitersUnbounded: n ≤ 0 means no bound.
func TestMaxWaitersUnbounded(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, -1} {
		l := openWaitersTest(t, []Option{WithMaxWaiters(n)})[0]
		if err := l.Lock(context.Background()); err != nil {
			t.Fatal(err)
		}
		const waiters = 5
		got := make(chan error, waiters)
		for range waiters {
			go func() {
				err := l.Lock(context.Background())
				if err == nil {
					l.Unlock()
				}
				got <- err
			}()
		}
		awaitWaiters(t, l, waiters)
		l.Unlock()
		for range waiters {
			if err := <-got; err != nil {
				t.Fatal(err)
			}
		}
	}
}

func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd:", err)
	}
	return len(ents)
}
