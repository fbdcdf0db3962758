//go:build linux

package filelock_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/filelock"
	"github.com/codomyrmex/concurrency/internal/proctest"
	"golang.org/x/sys/unix"
)

// Processes exclude each other, and so do goroutines within each: the
// counter is exact and no two logged hold intervals overlap.
func TestProcessesExclude(t *testing.T) {
	t.Parallel()
	t.Run("kept", func(t *testing.T) {
		t.Parallel()
		testProcessesExclude(t)
	})
	// The lock file is removed and recreated all the time.
	t.Run("cleanup", func(t *testing.T) {
		t.Parallel()
		testProcessesExclude(t, "-cleanup")
	})
}

func testProcessesExclude(t *testing.T, opts ...string) {
	const procs, goroutines, rounds = 4, 4, 100
	dir := t.TempDir()
	path, counter := filepath.Join(dir, "lock"), filepath.Join(dir, "counter")
	if err := os.WriteFile(counter, []byte("0"), 0o600); err != nil {
		t.Fatal(err)
	}
	var hs []helper
	for i := range procs {
		log := filepath.Join(dir, "log"+strconv.Itoa(i))
		args := append([]string{path, counter, log, strconv.Itoa(goroutines), strconv.Itoa(rounds)}, opts...)
		hs = append(hs, startHelper(t, "count", args...))
	}
	for i, h := range hs {
		if code := h.wait(t); code != 0 {
			t.Fatalf("helper %d exited with %d", i, code)
		}
	}
	b, err := os.ReadFile(counter)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), strconv.Itoa(procs*goroutines*rounds); got != want {
		t.Errorf("counter = %s, want %s", got, want)
	}
	type interval struct{ start, end int64 }
	var all []interval
	for i := range procs {
		b, err := os.ReadFile(filepath.Join(dir, "log"+strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		for line := range strings.Lines(string(b)) {
			var iv interval
			if _, err := fmt.Sscan(line, &iv.start, &iv.end); err != nil {
				t.Fatalf("log line %q: %v", line, err)
			}
			all = append(all, iv)
		}
	}
	if len(all) != procs*goroutines*rounds {
		t.Fatalf("%d intervals logged, want %d", len(all), procs*goroutines*rounds)
	}
	slices.SortFunc(all, func(a, b interval) int { return int(a.start - b.start) })
	for i := 1; i < len(all); i++ {
		if all[i].start < all[i-1].end {
			t.Fatalf("holds overlap: [%d, %d] and [%d, %d]", all[i-1].start, all[i-1].end, all[i].start, all[i].end)
		}
	}
}

// A killed holder's lock is freed by the kernel, and the waiter is woken
// when the holder's descriptors are closed (by inotify, not at its next
// poll, 50-100 ms apart by then).
func TestHolderKilled(t *testing.T) {
	t.Parallel()
	l := newLock(t)
	timing(t, func() error {
		h := startHelper(t, "hold", l.Path())
		h.expect(t, "locked")
		notAcquired(t, "TryLock while another process holds", l.TryLock())
		got := make(chan error)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			got <- l.Lock(ctx)
		}()
		time.Sleep(300 * time.Millisecond)
		// A process's descriptors are closed before its parent can reap
		// it, so time the wake-up from there.
		h.Kill()
		reaped := time.Now()
		if err := <-got; err != nil {
			t.Fatal(err)
		}
		el := time.Since(reaped)
		l.Unlock()
		t.Logf("acquired %v after the killed holder was reaped", el)
		if el > 20*time.Millisecond {
			return fmt.Errorf("acquired %v after the killed holder was reaped, want a prompt wake-up", el)
		}
		return nil
	})
}

// A stopped holder keeps its lock: waiters time out and never steal it.
func TestHolderStopped(t *testing.T) {
	t.Parallel()
	l := newLock(t)
	h := startHelper(t, "hold", l.Path())
	h.expect(t, "locked")
	if err := h.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if err := l.Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock with a stopped holder = %v, want context.DeadlineExceeded", err)
	}
	if err := l.RLock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("RLock with a stopped holder = %v, want context.DeadlineExceeded", err)
	}
	notAcquired(t, "TryLock with a stopped holder", l.TryLock())
	h.Cont()
	if code := h.wait(t); code != 0 {
		t.Fatalf("holder exited with %d", code)
	}
	if err := l.TryLock(); err != nil {
		t.Fatal(err)
	}
	l.Unlock()
}

// Opening and closing the lock file elsewhere in the process, with or
// without this package, does not drop the lock.
func TestStrayCloseKeepsLock(t *testing.T) {
	t.Parallel()
	l := newLock(t)
	if err := l.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := os.ReadFile(l.Path()); err != nil {
		t.Fatal(err)
	}
	other := openLock(t, l.Path())
	notAcquired(t, "TryLock through another Lock", other.TryLock())
	if code := tryOther(t, l.Path()); code != exitNotAcquired {
		t.Fatalf("another process: exit %d, want %d (not acquired)", code, exitNotAcquired)
	}
	l.Unlock()
	if code := tryOther(t, l.Path()); code != exitAcquired {
		t.Fatalf("another process after Unlock: exit %d, want %d (acquired)", code, exitAcquired)
	}
}

// A child process started while the lock is held does not keep it.
func TestChildDoesNotInherit(t *testing.T) {
	t.Parallel()
	l := newLock(t)
	if err := l.Lock(context.Background()); err != nil {
		t.Fatal(err)
	}
	child := startHelper(t, "sleep")
	l.Unlock()
	if code := tryOther(t, l.Path()); code != exitAcquired {
		t.Fatalf("another process after Unlock, with a child alive: exit %d, want %d (acquired)", code, exitAcquired)
	}
	if code := child.wait(t); code != 0 {
		t.Fatalf("child exited with %d", code)
	}
}

// flock(1) of util-linux and this package exclude each other both ways.
func TestInteropFlockCommand(t *testing.T) {
	t.Parallel()
	flock, err := exec.LookPath("flock")
	if err != nil {
		t.Skip("flock(1) (util-linux) is not on PATH:", err)
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("sh is not on PATH:", err)
	}
	l := newLock(t)
	// exit status of flock -n: 0 if it got the lock, 1 if not.
	probe := func(args ...string) int {
		t.Helper()
		cmd := exec.Command(flock, append(append([]string{"-n"}, args...), l.Path(), "true")...)
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode()
	}
	ctx := context.Background()
	if err := l.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	if code := probe(); code != 1 {
		t.Errorf("flock -n while we hold exclusively: exit %d, want 1", code)
	}
	if code := probe("-s"); code != 1 {
		t.Errorf("flock -n -s while we hold exclusively: exit %d, want 1", code)
	}
	l.Unlock()
	if err := l.RLock(ctx); err != nil {
		t.Fatal(err)
	}
	if code := probe("-s"); code != 0 {
		t.Errorf("flock -n -s while we hold shared: exit %d, want 0", code)
	}
	if code := probe(); code != 1 {
		t.Errorf("flock -n while we hold shared: exit %d, want 1", code)
	}
	l.RUnlock()
	if code := probe(); code != 0 {
		t.Errorf("flock -n after we released: exit %d, want 0", code)
	}

	// flock(1) holds; we wait, and wake when it exits.
	h := helper{proctest.Start(t, exec.Command(flock, l.Path(), sh, "-c", "echo locked; read x"))}
	h.expect(t, "locked")
	notAcquired(t, "TryLock while flock(1) holds", l.TryLock())
	notAcquired(t, "TryRLock while flock(1) holds", l.TryRLock())
	got := make(chan error)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		got <- l.Lock(ctx)
	}()
	time.Sleep(100 * time.Millisecond)
	start := time.Now()
	h.CloseStdin()
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	t.Logf("acquired %v after flock(1) was told to exit", time.Since(start))
	l.Unlock()
}

// Many concurrent waiters across processes hand over without loss: a
// helper holds, we queue several goroutines, and all get through.
func TestManyWaitersAfterProcess(t *testing.T) {
	t.Parallel()
	l := newLock(t)
	h := startHelper(t, "hold", l.Path())
	h.expect(t, "locked")
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := l.Lock(ctx); err != nil {
				errs <- err
				return
			}
			l.Unlock()
		})
	}
	time.Sleep(50 * time.Millisecond)
	if code := h.wait(t); code != 0 {
		t.Fatalf("holder exited with %d", code)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// Unlock in another process, which keeps the file open, wakes a waiter at
// once (through inotify) rather than at its next poll.
func TestUnlockWakesOtherProcess(t *testing.T) {
	t.Parallel()
	t.Run("created", func(t *testing.T) {
		t.Parallel()
		testUnlockWakes(t, newLock(t))
	})
	// A file created empty by someone else: Unlock reopens it to make an
	// event, as a one-byte read would read nothing.
	t.Run("empty", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "lock")
		if err := os.WriteFile(path, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		testUnlockWakes(t, openLock(t, path))
	})
}

func testUnlockWakes(t *testing.T, l *filelock.Lock) {
	h := startHelper(t, "serve", l.Path())
	timing(t, func() error {
		var lat []time.Duration
		for range 5 {
			h.Send("lock")
			h.expect(t, "locked")
			got := make(chan int64)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if err := l.Lock(ctx); err != nil {
					t.Error(err)
					got <- 0
					return
				}
				acquired := monotonic()
				l.Unlock()
				got <- acquired
			}()
			// Let the waiter back off to polls 50-100 ms apart.
			time.Sleep(200 * time.Millisecond)
			h.Send("unlock")
			line, err := h.Expect("", helperTimeout)
			if err != nil {
				t.Fatal(err)
			}
			released, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			acquired := <-got
			if acquired == 0 {
				t.FailNow()
			}
			lat = append(lat, time.Duration(acquired-released))
		}
		m := median(lat)
		t.Logf("hand-over latencies: %v", lat)
		if m > 10*time.Millisecond {
			return fmt.Errorf("median hand-over latency %v, want a wake-up well before the next poll", m)
		}
		return nil
	})
	if code := h.wait(t); code != 0 {
		t.Fatalf("helper exited with %d", code)
	}
}

// Signals arriving during waits (SIGUSR1 to the process, SIGURG from
// goroutine preemption) never surface as errors such as EINTR.
func TestSignalsDoNotInterrupt(t *testing.T) {
	t.Parallel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, unix.SIGUSR1)
	defer signal.Stop(sigs)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(stop)
	wg.Go(func() {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			select {
			case <-stop:
				return
			default:
			}
			unix.Kill(os.Getpid(), unix.SIGUSR1)
			time.Sleep(50 * time.Microsecond)
		}
	})
	for range 2 { // busy goroutines get preempted by SIGURG
		wg.Go(func() {
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
				select {
				case <-stop:
					return
				default:
				}
			}
		})
	}

	l := newLock(t)
	ctx := context.Background()
	for range 200 {
		if err := l.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		l.Unlock()
	}
	h := startHelper(t, "hold", l.Path())
	h.expect(t, "locked")
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if err := l.Lock(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock = %v, want context.DeadlineExceeded", err)
	}
	got := make(chan error)
	go func() {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		got <- l.RLock(ctx)
	}()
	time.Sleep(100 * time.Millisecond)
	if code := h.wait(t); code != 0 {
		t.Fatalf("holder exited with %d", code)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	l.RUnlock()
}
