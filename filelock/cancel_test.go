//go:build linux

package filelock_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A deadline is honoured promptly while another goroutine waits for the
// same lock, both in the in-process queue (the holder is a goroutine) and
// at the kernel lock (the holder is another open file description, as
// another process would be).
func TestCancelLatency(t *testing.T) {
	for _, tc := range []struct {
		name  string
		other bool // another goroutine waits ahead of the cancelled ones
		hold  func(t *testing.T, path string) (release func())
	}{
		{"queue", true, func(t *testing.T, path string) func() {
			l := openLock(t, path)
			if err := l.Lock(context.Background()); err != nil {
				t.Fatal(err)
			}
			return l.Unlock
		}},
		{"kernel", true, func(t *testing.T, path string) func() {
			return rawLock(t, path, unix.LOCK_EX)
		}},
		// The cancelled goroutine is the one waiting for the kernel lock.
		{"kernel-head", false, func(t *testing.T, path string) func() {
			return rawLock(t, path, unix.LOCK_EX)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLock(t)
			release := tc.hold(t, l.Path())
			other := make(chan error, 1)
			lock := func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				other <- l.Lock(ctx)
			}
			if tc.other {
				go lock()
			}
			// Lateness is measured against that of a bare <-ctx.Done(),
			// sample by sample, since on a loaded machine that is not
			// zero either.
			bare := func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
			late := func(wait func(context.Context) error) time.Duration {
				const timeout = 5 * time.Millisecond
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				defer cancel()
				start := time.Now()
				if err := wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("wait = %v, want context.DeadlineExceeded", err)
				}
				return time.Since(start) - timeout
			}
			timing(t, func() error {
				var got, base []time.Duration
				for range 15 {
					base = append(base, late(bare))
					got = append(got, late(l.Lock))
				}
				g, b := median(got), median(base)
				t.Logf("median lateness after the deadline: Lock %v, <-ctx.Done() %v", g, b)
				if g > b+time.Millisecond {
					return fmt.Errorf("median lateness of Lock %v, want at most 1ms more than <-ctx.Done()'s %v", g, b)
				}
				return nil
			})
			release()
			if !tc.other {
				lock()
			}
			if err := <-other; err != nil {
				t.Fatal(err)
			}
			l.Unlock()
		})
	}
}

// Thousands of cancelled waits leave no goroutine, thread or descriptor
// behind. The lock is held by another open file description, so the waits
// reach the kernel-lock wait (inotify, AfterFunc) as well as the queue.
func TestCancelNoLeaks(t *testing.T) {
	l := newLock(t)
	release := rawLock(t, l.Path(), unix.LOCK_EX)
	defer release()
	wait := func(ctx context.Context, i int) error {
		if i%3 == 0 {
			return l.RLock(ctx)
		}
		return l.Lock(ctx)
	}
	const workers = 8
	run := func(rounds int) {
		var wg sync.WaitGroup
		defer wg.Wait()
		for w := range workers {
			wg.Go(func() {
				r := rand.New(rand.NewPCG(uint64(w), uint64(rounds)))
				for i := range rounds {
					ctx, cancel := context.WithCancel(context.Background())
					if i%2 == 0 {
						ctx, cancel = context.WithTimeout(context.Background(), time.Duration(r.IntN(300))*time.Microsecond)
					} else {
						go cancel()
					}
					err := wait(ctx, i)
					cancel()
					if err == nil {
						t.Error("acquired a lock held by another open file description")
						return
					}
					if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
						t.Error(err)
						return
					}
				}
			})
		}
	}
	// Warm up: the process's pooled inotify instance is created by the
	// first wait, and the runtime starts the threads it needs for this
	// much concurrency.
	goroutines := runtime.NumGoroutine()
	run(20)
	fds, threads := countFDs(t), countThreads(t)
	const rounds = 250
	run(rounds)
	waitFor(t, "goroutines to exit", func() bool { return runtime.NumGoroutine() <= goroutines })
	if got := countFDs(t); got != fds {
		t.Errorf("%d descriptors open after %d cancellations, %d before", got, workers*rounds, fds)
	}
	// The runtime may start a few threads of its own meanwhile; a thread
	// per cancelled wait would be hundreds.
	if got := countThreads(t); got > threads+4 {
		t.Errorf("%d threads after %d cancellations, %d before", got, workers*rounds, threads)
	}
	release()
	if err := l.TryLock(); err != nil {
		t.Fatal("not free after the cancellations:", err)
	}
	l.Unlock()
}

// A cancellation that races with the release leaves the lock either held
// (nil) or not held (error), never both.
func TestCancelRacesRelease(t *testing.T) {
	t.Parallel()
	l := newLock(t)
	probe := openLock(t, l.Path())
	ctx := context.Background()
	for i := range 300 {
		if err := l.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		d := time.Duration(rand.IntN(200)) * time.Microsecond
		got := make(chan error)
		go func() {
			ctx, cancel := context.WithTimeout(ctx, d)
			defer cancel()
			got <- l.Lock(ctx)
		}()
		time.Sleep(time.Duration(rand.IntN(200)) * time.Microsecond)
		l.Unlock()
		err := <-got
		perr := probe.TryLock()
		switch {
		case err == nil && perr == nil:
			t.Fatalf("round %d: waiter succeeded, yet the lock was free", i)
		case err != nil && perr != nil:
			t.Fatalf("round %d: waiter failed (%v), yet the lock is held: %v", i, err, perr)
		case err == nil:
			l.Unlock()
		default:
			probe.Unlock()
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

func countThreads(t *testing.T) int {
	t.Helper()
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Skip("no /proc/self/status:", err)
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no Threads line in /proc/self/status")
	return 0
}
