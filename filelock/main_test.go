//go:build linux

package filelock_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/filelock"
	"github.com/codomyrmex/concurrency/internal/proctest"
	"github.com/codomyrmex/concurrency/lock"
	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

func TestMain(m *testing.M) {
	if mode, args, ok := proctest.Helper(); ok {
		os.Exit(runHelper(mode, args))
	}
	goleak.VerifyTestMain(m)
}

// helperTimeout bounds how long a test waits for a helper process to print
// a line or to exit.
const helperTimeout = time.Minute

// Exit codes of the "try" helper.
const (
	exitAcquired    = 0
	exitNotAcquired = 3
)

// runHelper runs one helper mode in a child process and returns its exit
// code. Arguments "-ofd" and "-cleanup" anywhere add WithOFD and
// WithCleanup to every Lock. The modes:
//   - "try PATH": exits exitAcquired if TryLock succeeds, exitNotAcquired
//     if it reports lock.ErrNotAcquired.
//   - "hold PATH": locks, prints "locked", waits for stdin to close, unlocks.
//   - "serve PATH": reads commands from stdin: "lock" locks and prints
//     "locked", "unlock" unlocks (keeping the file open) and prints the
//     time (see monotonic).
//   - "sleep": sleeps until stdin closes (an unrelated child process).
//   - "racereaders PATH": two goroutines holding PATH shared write one
//     variable (see TestRaceSharedHolds).
//   - "count PATH COUNTER LOG G N": G goroutines each take the lock N times
//     and increment the number in COUNTER, logging each hold interval
//     (CLOCK_MONOTONIC nanoseconds) to LOG.
func runHelper(mode string, args []string) int {
	// Arguments "-ofd" and "-cleanup" select options for every Lock.
	var (
		a    []string
		opts []filelock.Option
	)
	for _, arg := range args {
		switch arg {
		case "-ofd":
			opts = append(opts, filelock.WithOFD())
		case "-cleanup":
			opts = append(opts, filelock.WithCleanup())
		default:
			a = append(a, arg)
		}
	}
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "helper:", mode, err)
		return 1
	}
	ctx := context.Background()
	switch mode {
	case "try":
		l, err := filelock.New(a[0], opts...)
		if err != nil {
			return fail(err)
		}
		defer l.Close()
		err = l.TryLock()
		switch {
		case err == nil:
			l.Unlock()
			return exitAcquired
		case errors.Is(err, lock.ErrNotAcquired):
			return exitNotAcquired
		}
		return fail(err)
	case "hold":
		l, err := filelock.New(a[0], opts...)
		if err != nil {
			return fail(err)
		}
		defer l.Close()
		if err := l.Lock(ctx); err != nil {
			return fail(err)
		}
		fmt.Println("locked")
		io.Copy(io.Discard, os.Stdin)
		l.Unlock()
		return 0
	case "serve":
		l, err := filelock.New(a[0], opts...)
		if err != nil {
			return fail(err)
		}
		defer l.Close()
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			switch in.Text() {
			case "lock":
				if err := l.Lock(ctx); err != nil {
					return fail(err)
				}
				fmt.Println("locked")
			case "unlock":
				l.Unlock()
				fmt.Println(monotonic())
			}
		}
		return 0
	case "sleep":
		io.Copy(io.Discard, os.Stdin)
		return 0
	case "racereaders":
		// Two shared holders write one variable: a race the detector
		// must report, since shared holds do not order each other.
		l, err := filelock.New(a[0], opts...)
		if err != nil {
			return fail(err)
		}
		defer l.Close()
		var (
			x       int
			holders atomic.Int32
			wg      sync.WaitGroup
		)
		for range 2 {
			wg.Go(func() {
				if err := l.RLock(ctx); err != nil {
					panic(err)
				}
				// Both hold before either writes; the atomics order
				// each RLock before the other's write, not the writes.
				holders.Add(1)
				for deadline := time.Now().Add(5 * time.Second); holders.Load() < 2 && time.Now().Before(deadline); {
					time.Sleep(time.Millisecond)
				}
				x++
				l.RUnlock()
			})
		}
		wg.Wait()
		return 0
	case "count":
		g, _ := strconv.Atoi(a[3])
		n, _ := strconv.Atoi(a[4])
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			log  strings.Builder
			errs []error
		)
		shared, err := filelock.New(a[0], opts...)
		if err != nil {
			return fail(err)
		}
		defer shared.Close()
		for i := range g {
			wg.Go(func() {
				// Half the goroutines share one Lock, half have their own.
				l := shared
				if i%2 == 1 {
					own, err := filelock.New(a[0], opts...)
					if err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						return
					}
					defer own.Close()
					l = own
				}
				var buf strings.Builder
				for range n {
					if err := l.Lock(ctx); err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						return
					}
					t0 := monotonic()
					b, err := os.ReadFile(a[1])
					if err == nil {
						v, _ := strconv.Atoi(strings.TrimSpace(string(b)))
						err = os.WriteFile(a[1], []byte(strconv.Itoa(v+1)), 0o600)
					}
					t1 := monotonic()
					l.Unlock()
					if err != nil {
						mu.Lock()
						errs = append(errs, err)
						mu.Unlock()
						return
					}
					fmt.Fprintf(&buf, "%d %d\n", t0, t1)
				}
				mu.Lock()
				log.WriteString(buf.String())
				mu.Unlock()
			})
		}
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			return fail(err)
		}
		if err := os.WriteFile(a[2], []byte(log.String()), 0o600); err != nil {
			return fail(err)
		}
		return 0
	}
	return fail(errors.New("unknown mode"))
}

// monotonic returns CLOCK_MONOTONIC in nanoseconds, comparable across
// processes.
func monotonic() int64 {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return ts.Nano()
}

// helper is a child process running runHelper.
type helper struct{ *proctest.Proc }

// startHelper starts the test binary in a helper mode. The helper is killed
// and reaped when the test ends, if it has not exited by then.
func startHelper(t *testing.T, mode string, args ...string) helper {
	t.Helper()
	return helper{proctest.Start(t, proctest.Command(mode, args...))}
}

// expect reads a line from the helper's stdout and fails unless it is want.
func (h helper) expect(t *testing.T, want string) {
	t.Helper()
	line, err := h.Expect("", helperTimeout)
	if strings.TrimSpace(line) != want {
		t.Fatalf("helper said %q (%v), want %q", line, err, want)
	}
}

// wait closes the helper's stdin and returns its exit code.
func (h helper) wait(t *testing.T) int {
	t.Helper()
	h.CloseStdin()
	code, err := h.ExitCode(helperTimeout)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// tryOther reports the exit code of a "try" helper on path: whether another
// process could lock it now.
func tryOther(t *testing.T, path string) int {
	t.Helper()
	return startHelper(t, "try", path).wait(t)
}

// newLock returns a Lock on a fresh file in a temporary directory, closed
// when the test ends.
func newLock(t *testing.T, opts ...filelock.Option) *filelock.Lock {
	t.Helper()
	return openLock(t, filepath.Join(t.TempDir(), "lock"), opts...)
}

// openLock returns a Lock on path, closed when the test ends.
func openLock(t *testing.T, path string, opts ...filelock.Option) *filelock.Lock {
	t.Helper()
	l, err := filelock.New(path, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Error(err)
		}
	})
	return l
}

// rawLock takes a flock(2) lock on path through a descriptor of its own,
// as another process would, and returns a function that closes it.
func rawLock(t *testing.T, path string, how int) (release func()) {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.Flock(fd, how|unix.LOCK_NB); err != nil {
		unix.Close(fd)
		t.Fatalf("flock(%s): %v", path, err)
	}
	var once sync.Once
	release = func() { once.Do(func() { unix.Close(fd) }) }
	t.Cleanup(release)
	return release
}

// notAcquired fails unless err reports a lock held elsewhere.
func notAcquired(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("%s = %v, want lock.ErrNotAcquired", what, err)
	}
}

// timing runs a check of timings up to three times, failing only if every
// run fails: the machine may be busy with other tests or processes.
func timing(t *testing.T, check func() error) {
	t.Helper()
	var err error
	for range 3 {
		if err = check(); err == nil {
			return
		}
		t.Log("retrying:", err)
	}
	t.Error(err)
}

// median returns the median of ds, which it sorts.
func median(ds []time.Duration) time.Duration {
	slices.Sort(ds)
	return ds[len(ds)/2]
}
