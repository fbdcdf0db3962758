//go:build linux

package filelock_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/filelock"
	"github.com/codomyrmex/concurrency/lock"
	"golang.org/x/sys/unix"
)

func TestLockUnlock(t *testing.T) {
	t.Parallel()
	l := newLock(t)
	ctx := context.Background()
	for range 3 {
		if err := l.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		notAcquired(t, "TryLock while locked", l.TryLock())
		notAcquired(t, "TryRLock while locked", l.TryRLock())
		l.Unlock()
	}
	if err := l.TryLock(); err != nil {
		t.Fatal(err)
	}
	l.Unlock()
}

func TestShared(t *testing.T) {
	t.Parallel()
	l := newLock(t)
	l2 := openLock(t, l.Path())
	ctx := context.Background()
	if err := l.RLock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l.TryRLock(); err != nil {
		t.Fatal(err)
	}
	if err := l2.RLock(ctx); err != nil {
		t.Fatal(err)
	}
	notAcquired(t, "TryLock while shared", l2.TryLock())
	// Another process may share but not take it.
	release := rawLock(t, l.Path(), unix.LOCK_SH)
	release()
	l.RUnlock()
	l.RUnlock()
	notAcquired(t, "TryLock while shared by l2", l.TryLock())
	l2.RUnlock()
	// The kernel lock went with the last shared hold.
	if code := tryOther(t, l.Path()); code != exitAcquired {
		t.Fatalf("another process could not lock after the last RUnlock: exit %d", code)
	}
	if err := l.TryLock(); err != nil {
		t.Fatal(err)
	}
	l.Unlock()
}

// An exclusive waiter is not overtaken by later readers (FIFO), and a
// shared hold is never turned into an exclusive one.
func TestFIFO(t *testing.T) {
	t.Parallel()
	l := newLock(t)
	ctx := context.Background()
	if err := l.RLock(ctx); err != nil {
		t.Fatal(err)
	}
	locked := make(chan error)
	go func() { locked <- l.Lock(ctx) }()
	waitFor(t, "writer to queue", func() bool {
		if l.TryRLock() == nil {
			l.RUnlock()
			return false
		}
		return true
	})
	select {
	case err := <-locked:
		t.Fatalf("Lock returned %v while a shared hold is held", err)
	case <-time.After(20 * time.Millisecond):
	}
	l.RUnlock()
	if err := <-locked; err != nil {
		t.Fatal(err)
	}
	l.Unlock()
}

// waitFor polls cond for up to 5 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// Goroutines exclude each other, through one Lock or through several on the
// same file, and the race detector sees the order (this test must be clean
// under -race).
func TestNoRaceGoroutines(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	shared := openLock(t, path)
	var (
		counter int
		wg      sync.WaitGroup
	)
	const goroutines, rounds = 16, 50
	ctx := context.Background()
	for i := range goroutines {
		l := shared
		if i%2 == 1 {
			l = openLock(t, path)
		}
		wg.Go(func() {
			for j := range rounds {
				if j%5 == 0 {
					if err := l.RLock(ctx); err != nil {
						t.Error(err)
						return
					}
					_ = counter
					l.RUnlock()
					continue
				}
				if err := l.Lock(ctx); err != nil {
					t.Error(err)
					return
				}
				counter++
				l.Unlock()
			}
		})
	}
	wg.Wait()
	if want := goroutines * rounds * 4 / 5; counter != want {
		t.Fatalf("counter = %d, want %d", counter, want)
	}
}

func TestMisusePanics(t *testing.T) {
	t.Parallel()
	l := newLock(t)
	for name, f := range map[string]func(){
		"Unlock":  l.Unlock,
		"RUnlock": l.RUnlock,
		"Unlock of shared": func() {
			if err := l.RLock(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer l.RUnlock()
			l.Unlock()
		},
		"RUnlock of exclusive": func() {
			if err := l.Lock(context.Background()); err != nil {
				t.Fatal(err)
			}
			defer l.Unlock()
			l.RUnlock()
		},
	} {
		func() {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.HasPrefix(s, "filelock: ") {
					t.Errorf("%s: panic %v, want one with prefix \"filelock: \"", name, r)
				}
			}()
			f()
		}()
	}
}

func TestClose(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	l, err := filelock.New(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); !errors.Is(err, lock.ErrClosed) {
		t.Errorf("second Close = %v, want lock.ErrClosed", err)
	}
	for name, err := range map[string]error{
		"Lock":     l.Lock(context.Background()),
		"RLock":    l.RLock(context.Background()),
		"TryLock":  l.TryLock(),
		"TryRLock": l.TryRLock(),
	} {
		if !errors.Is(err, lock.ErrClosed) {
			t.Errorf("%s after Close = %v, want lock.ErrClosed", name, err)
		}
	}
	// The file stays.
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
}

func TestCanceledBeforeCall(t *testing.T) {
	t.Parallel()
	l := newLock(t)
	ctx, cancel := context.WithCancelCause(context.Background())
	cause := errors.New("shutting down")
	cancel(cause)
	for name, err := range map[string]error{"Lock": l.Lock(ctx), "RLock": l.RLock(ctx)} {
		if !errors.Is(err, context.Canceled) || !errors.Is(err, cause) {
			t.Errorf("%s = %v, want context.Canceled and the cause", name, err)
		}
	}
	if err := l.TryLock(); err != nil {
		t.Fatal("lock held after failed calls:", err)
	}
	l.Unlock()
}

func TestHolderInfo(t *testing.T) {
	t.Parallel()
	l := newLock(t, filelock.WithHolderInfo("nightly backup"))
	if err := l.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(l.Path())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"pid=" + strconv.Itoa(os.Getpid()) + "\n", `purpose="nightly backup"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("file while held = %q, want it to contain %q", b, want)
		}
	}
	l.Unlock()
	if b, err = os.ReadFile(l.Path()); err != nil || strings.Contains(string(b), "pid=") {
		t.Errorf("file after Unlock = %q, %v; want no holder information", b, err)
	}
}

func TestOFD(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	l := openLock(t, path, filelock.WithOFD())
	if err := l.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Another open file description cannot take an OFD lock...
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	lk := unix.Flock_t{Type: unix.F_WRLCK}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk); err == nil {
		t.Fatal("OFD lock taken while WithOFD Lock is held")
	}
	// ...but flock users do not see it, as documented.
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Logf("flock excluded by an OFD lock on this filesystem: %v", err)
	}
	unix.Flock(fd, unix.LOCK_UN)
	// Locks on one file in a process must share a backend.
	if _, err := filelock.New(path); !errors.Is(err, lock.ErrInvalidArgument) {
		t.Errorf("New with the other backend = %v, want lock.ErrInvalidArgument", err)
	}
	l.Unlock()
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk); err != nil {
		t.Fatal("OFD lock not released:", err)
	}
}

// A failed attempt to take exclusively what is held shared leaves the
// shared hold intact: flock(2) would drop it on a failed conversion, which
// this package never attempts.
func TestNoLossyUpgrade(t *testing.T) {
	t.Parallel()
	l := newLock(t)
	ctx := context.Background()
	if err := l.RLock(ctx); err != nil {
		t.Fatal(err)
	}
	other := rawLock(t, l.Path(), unix.LOCK_SH) // another shared holder
	notAcquired(t, "TryLock while holding shared", l.TryLock())
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if err := l.Lock(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock while holding shared = %v, want context.DeadlineExceeded", err)
	}
	other()
	// Our shared hold must still exclude another process's exclusive one.
	if code := tryOther(t, l.Path()); code != exitNotAcquired {
		t.Fatalf("another process took the lock exclusively while we hold it shared: exit %d", code)
	}
	l.RUnlock()
	if code := tryOther(t, l.Path()); code != exitAcquired {
		t.Fatalf("another process after RUnlock: exit %d, want %d (acquired)", code, exitAcquired)
	}
}

// Cancelling a writer queued between readers lets the readers behind it
// join the shared hold at once.
func TestCancelHeadWakesBehind(t *testing.T) {
	t.Parallel()
	l := newLock(t)
	ctx := context.Background()
	if err := l.RLock(ctx); err != nil {
		t.Fatal(err)
	}
	wctx, cancelWriter := context.WithCancel(ctx)
	writer := make(chan error)
	go func() { writer <- l.Lock(wctx) }()
	waitFor(t, "writer to queue", func() bool {
		if l.TryRLock() == nil {
			l.RUnlock()
			return false
		}
		return true
	})
	reader := make(chan error)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		reader <- l.RLock(ctx)
	}()
	select {
	case err := <-reader:
		t.Fatalf("reader behind a queued writer returned %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	cancelWriter()
	if err := <-writer; !errors.Is(err, context.Canceled) {
		t.Fatalf("writer = %v, want context.Canceled", err)
	}
	select {
	case err := <-reader:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reader not admitted after the writer ahead of it was cancelled")
	}
	l.RUnlock()
	l.RUnlock()
}

// OFD locks exclude other processes using OFD locks, and, as documented,
// not flock users.
func TestOFDProcesses(t *testing.T) {
	t.Parallel()
	l := newLock(t, filelock.WithOFD())
	if err := l.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code := startHelper(t, "try", l.Path(), "-ofd").wait(t); code != exitNotAcquired {
		t.Errorf("another process with WithOFD: exit %d, want %d (not acquired)", code, exitNotAcquired)
	}
	if code := tryOther(t, l.Path()); code != exitAcquired {
		t.Errorf("another process with flock: exit %d, want %d (acquired: the backends do not see each other)", code, exitAcquired)
	}
	l.Unlock()
	if code := startHelper(t, "try", l.Path(), "-ofd").wait(t); code != exitAcquired {
		t.Errorf("another process with WithOFD after Unlock: exit %d, want %d (acquired)", code, exitAcquired)
	}
}
