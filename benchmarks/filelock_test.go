//go:build linux

package benchmarks

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/benchmarks/internal/stats"
	"github.com/codomyrmex/concurrency/filelock"
	"github.com/codomyrmex/concurrency/internal/proctest"
	"github.com/gofrs/flock"
	"golang.org/x/sys/unix"
)

// flockHolderHelper is the helper (see proctest.Helper) the test binary
// runs as the holder process of BenchmarkFileHandoff, with the lock file
// and whether to hold it with filelock or a bare flock(2) descriptor as
// its arguments.
const flockHolderHelper = "flock-holder"

// BenchmarkFileUncontended: Lock+Unlock of a lock file nobody else holds.
// impl=flock(2) is the floor: LOCK_EX and LOCK_UN on an open descriptor.
func BenchmarkFileUncontended(b *testing.B) {
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "bench.lock")
	b.Run("impl=filelock", func(b *testing.B) {
		l, err := filelock.New(path)
		if err != nil {
			b.Fatal(err)
		}
		defer l.Close()
		b.ReportAllocs()
		for b.Loop() {
			if err := l.Lock(ctx); err != nil {
				b.Fatal(err)
			}
			l.Unlock()
		}
	})
	b.Run("impl=gofrs-flock", func(b *testing.B) {
		f := flock.New(path)
		defer f.Close()
		b.ReportAllocs()
		for b.Loop() {
			if err := f.Lock(); err != nil {
				b.Fatal(err)
			}
			f.Unlock()
		}
	})
	b.Run("impl=flock(2)", func(b *testing.B) {
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer unix.Close(fd)
		b.ReportAllocs()
		for b.Loop() {
			unix.Flock(fd, unix.LOCK_EX)
			unix.Flock(fd, unix.LOCK_UN)
		}
	})
}

// BenchmarkFileHandoff: another process holds the lock for 200µs and
// releases it while this process waits; reports the time from the holder's
// release to the waiter's grant (p50/p99, CLOCK_MONOTONIC is shared by all
// processes) and the CPU this process used per second of waiting.
// impl=flock(2) is a plain blocking flock(2) waiter, which cannot be
// cancelled; gofrs-flock-poll is gofrs/flock's TryLockContext at 1 ms. The
// holder uses the same kind of lock as the waiter (filelock for filelock,
// a bare flock(2) descriptor otherwise); impl=filelock-foreign-holder shows
// filelock waiting for a bare flock(2) holder, whose release sends no
// inotify event, so the waiter falls back to polling.
func BenchmarkFileHandoff(b *testing.B) {
	path := filepath.Join(b.TempDir(), "handoff.lock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		b.Fatal(err)
	}
	filelockWaiter := func() func(context.Context) (func(), error) {
		l, err := filelock.New(path)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { l.Close() })
		return func(ctx context.Context) (func(), error) { return l.Unlock, l.Lock(ctx) }
	}()
	impls := []struct {
		name, holder string
		lock         func(ctx context.Context) (unlock func(), err error)
	}{
		{"filelock", "filelock", filelockWaiter},
		{"filelock-foreign-holder", "flock", filelockWaiter},
		{"flock(2)", "flock", func() func(context.Context) (func(), error) {
			fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { unix.Close(fd) })
			return func(context.Context) (func(), error) {
				return func() { unix.Flock(fd, unix.LOCK_UN) }, unix.Flock(fd, unix.LOCK_EX)
			}
		}()},
		{"gofrs-flock", "flock", func() func(context.Context) (func(), error) {
			f := flock.New(path)
			b.Cleanup(func() { f.Close() })
			return func(context.Context) (func(), error) { return func() { f.Unlock() }, f.Lock() }
		}()},
		{"gofrs-flock-poll", "flock", func() func(context.Context) (func(), error) {
			f := flock.New(path)
			b.Cleanup(func() { f.Close() })
			return func(ctx context.Context) (func(), error) {
				ok, err := f.TryLockContext(ctx, time.Millisecond)
				if err == nil && !ok {
					err = fmt.Errorf("not locked")
				}
				return func() { f.Unlock() }, err
			}
		}()},
	}
	for _, impl := range impls {
		b.Run("impl="+impl.name, func(b *testing.B) {
			holder := startFlockHolder(b, path, impl.holder)
			var waits stats.Waits
			var waited time.Duration
			cpu0 := cpuTime()
			for b.Loop() {
				holder.step(b) // the holder now has the lock and releases it in 200µs
				t0 := time.Now()
				unlock, err := impl.lock(context.Background())
				granted := monotonicNow()
				waited += time.Since(t0)
				if err != nil {
					b.Fatal(err)
				}
				waits = append(waits, granted-holder.released(b))
				unlock()
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			holder.stop(b)
			reportWaits(b, waits)
			b.ReportMetric(cpu.Seconds()/waited.Seconds(), "cpu-s/wait-s")
		})
	}
}

// flockHolder drives the holder process: each step it takes the lock,
// reports "held", holds it 200µs and reports its release time.
type flockHolder struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Scanner
}

// startFlockHolder starts the holder process. Its output is read here, in
// step and released, rather than by a proctest.Proc, whose reading
// goroutine would wake with the waiter at every hand-off.
func startFlockHolder(b *testing.B, path, impl string) *flockHolder {
	cmd := proctest.Command(flockHolderHelper, path, impl)
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	return &flockHolder{cmd: cmd, in: in, out: bufio.NewScanner(out)}
}

func (h *flockHolder) step(b *testing.B) {
	if _, err := io.WriteString(h.in, "go\n"); err != nil {
		b.Fatal(err)
	}
	if !h.out.Scan() || h.out.Text() != "held" {
		b.Fatalf("holder: %q %v", h.out.Text(), h.out.Err())
	}
}

func (h *flockHolder) released(b *testing.B) time.Duration {
	if !h.out.Scan() {
		b.Fatalf("holder: %v", h.out.Err())
	}
	ns, err := strconv.ParseInt(h.out.Text(), 10, 64)
	if err != nil {
		b.Fatal(err)
	}
	return time.Duration(ns)
}

func (h *flockHolder) stop(b *testing.B) {
	h.in.Close()
	if err := h.cmd.Wait(); err != nil {
		b.Fatalf("holder: %v", err)
	}
}

// runFlockHolder is the holder process's main loop.
func runFlockHolder(path, impl string) int {
	lock, unlock, err := holderLock(path, impl)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		if err := lock(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Println("held")
		time.Sleep(200 * time.Microsecond)
		released := monotonicNow()
		unlock()
		fmt.Println(int64(released))
	}
	return 0
}

func holderLock(path, impl string) (lock func() error, unlock func(), err error) {
	if impl == "filelock" {
		l, err := filelock.New(path)
		if err != nil {
			return nil, nil, err
		}
		return func() error { return l.Lock(context.Background()) }, l.Unlock, nil
	}
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, err
	}
	return func() error { return unix.Flock(fd, unix.LOCK_EX) }, func() { unix.Flock(fd, unix.LOCK_UN) }, nil
}

// monotonicNow reads CLOCK_MONOTONIC, which all processes share.
func monotonicNow() time.Duration {
	var ts unix.Timespec
	unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts)
	return time.Duration(ts.Nano())
}

// cpuTime is the user plus system CPU time this process has used.
func cpuTime() time.Duration {
	var ru unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
