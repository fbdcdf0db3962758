//go:build linux

package filelock

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/lock"
	"golang.org/x/sys/unix"
)

// TestCloseFailsWaiters: Close fails the calls through the Lock that wait,
// wherever they wait (the process's queue, the gate of shared holds, the
// kernel lock with inotify or by polling), with lock.ErrClosed and at once;
// waiters through other Locks on the file are not disturbed, and once the
// failed calls have returned the Lock's descriptor is closed. It does not
// run in parallel: it counts the process's descriptors and may take its
// inotify instances away.
func TestCloseFailsWaiters(t *testing.T) {
	for _, tc := range []struct {
		name   string
		kernel bool // held by another open file description, not a Lock
		poll   bool // no inotify instance to spare
	}{
		{"queue", false, false},
		{"kernel", true, false},
		{"kernel-poll", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.poll {
				noWatchers(t)
			}
			path := filepath.Join(t.TempDir(), "lock")
			var keep *Lock // another Lock on the file, and its waiter
			var kept chan error
			var release func()
			if tc.kernel {
				fd := flockOther(t, path)
				release = func() { unix.Flock(fd, unix.LOCK_UN) }
				warmUp(t, path)
			} else {
				var err error
				if keep, err = New(path); err != nil {
					t.Fatal(err)
				}
				defer keep.Close()
				if err := keep.Lock(context.Background()); err != nil {
					t.Fatal(err)
				}
				release = keep.Unlock
			}
			fds := countFDs(t)

			l, err := New(path)
			if err != nil {
				t.Fatal(err)
			}
			// With the file busy, the first RLock waits for it (at the
			// kernel lock, or in the queue), the second behind it (at the
			// gate, or in the queue) and the Lock in the queue.
			calls := []func(context.Context) error{l.RLock, l.RLock, l.Lock}
			res := make(chan error, len(calls))
			for i, call := range calls {
				go func() { res <- call(context.Background()) }()
				awaitWaiters(t, l, int64(i+1))
			}
			if keep != nil {
				kept = make(chan error, 1)
				go func() { kept <- keep.Lock(context.Background()) }()
				awaitWaiters(t, l, int64(len(calls)+1))
			}

			start := time.Now()
			if err := l.Close(); err != nil {
				t.Fatal(err)
			}
			for range calls {
				err := <-res
				if !errors.Is(err, lock.ErrClosed) || errors.Is(err, context.Canceled) {
					t.Errorf("waiting call after Close = %v, want lock.ErrClosed only", err)
				}
			}
			if d := time.Since(start); d > 500*time.Millisecond {
				t.Errorf("waiters returned %v after Close, want at once", d)
			}
			if keep != nil {
				awaitWaiters(t, keep, 1) // the other Lock's waiter still waits
			} else {
				awaitWaiters(t, l, 0)
			}
			if got := countFDs(t); got != fds {
				t.Errorf("%d descriptors open after Close and its waiters returned, %d before New", got, fds)
			}
			if err := l.Lock(context.Background()); !errors.Is(err, lock.ErrClosed) {
				t.Errorf("Lock after Close = %v, want lock.ErrClosed", err)
			}
			if err := l.Close(); !errors.Is(err, lock.ErrClosed) {
				t.Errorf("second Close = %v, want lock.ErrClosed", err)
			}

			release()
			if keep != nil {
				if err := <-kept; err != nil {
					t.Fatal(err)
				}
				keep.Unlock()
			}
		})
	}
}

// A wait cut short by Close still reports a done ctx as the contract of
// package lock requires.
func TestCloseWaiterContextDone(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	flockOther(t, path)
	l, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- l.Lock(ctx) }()
	awaitWaiters(t, l, 1)
	cancel()
	l.Close()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Fatalf("Lock = %v, want context.Canceled", err)
	}
}

// Holds taken before Close stay held; Unlock and RUnlock release them, the
// last one closing the descriptor, and panic without them as always.
func TestCloseWhileHeld(t *testing.T) {
	for _, excl := range []bool{true, false} {
		path := filepath.Join(t.TempDir(), "lock")
		fds := countFDs(t)
		l, err := New(path)
		if err != nil {
			t.Fatal(err)
		}
		take, release := l.RLock, l.RUnlock
		if excl {
			take, release = l.Lock, l.Unlock
		}
		for range 2 {
			if err := take(context.Background()); err != nil {
				t.Fatal(err)
			}
			if excl {
				break
			}
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		if other := flockTry(t, path); other {
			t.Fatalf("excl %v: another open file could lock the file held through a closed Lock", excl)
		}
		for name, err := range map[string]error{
			"Lock": l.Lock(context.Background()), "RLock": l.RLock(context.Background()),
			"TryLock": l.TryLock(), "TryRLock": l.TryRLock(),
		} {
			if !errors.Is(err, lock.ErrClosed) {
				t.Errorf("%s after Close = %v, want lock.ErrClosed", name, err)
			}
		}
		release()
		if !excl {
			if got := countFDs(t); got != fds+1 {
				t.Errorf("descriptor closed with a shared hold left")
			}
			release()
		}
		if got := countFDs(t); got != fds {
			t.Errorf("excl %v: %d descriptors after the last release, %d before New", excl, got, fds)
		}
		if !flockTry(t, path) {
			t.Errorf("excl %v: file still locked after the last release", excl)
		}
		want := "filelock: Unlock of unlocked Lock " + path
		if !excl {
			want = "filelock: RUnlock of unlocked Lock " + path
		}
		if r := recovered(release); r != want {
			t.Errorf("release after the last = panic %v, want %q", r, want)
		}
	}
}

// Close racing the release that would grant a waiter: the waiter either
// holds the lock (nil, and may Unlock it) or nothing (lock.ErrClosed), and
// no descriptor is left behind.
func TestCloseRacesGrant(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	holder, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	fds := countFDs(t)
	var granted, closed int
	for i := range 200 {
		l, err := New(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := holder.Lock(context.Background()); err != nil {
			t.Fatal(err)
		}
		res := make(chan error, 1)
		go func() { res <- l.Lock(context.Background()) }()
		awaitWaiters(t, l, 1)
		unlocked := make(chan struct{})
		go func() {
			holder.Unlock()
			close(unlocked)
		}()
		if i%2 == 0 {
			time.Sleep(time.Duration(i%7) * time.Microsecond)
		}
		if err := l.Close(); err != nil {
			t.Fatal(err)
		}
		<-unlocked
		switch err := <-res; {
		case err == nil:
			granted++
			if holder.TryLock() == nil {
				t.Fatalf("round %d: the waiter holds the lock, yet it is free", i)
			}
			l.Unlock()
		case errors.Is(err, lock.ErrClosed):
			closed++
		default:
			t.Fatalf("round %d: %v", i, err)
		}
		if err := holder.TryLock(); err != nil {
			t.Fatalf("round %d: lock not free after the race: %v", i, err)
		}
		holder.Unlock()
		if got := countFDs(t); got != fds {
			t.Fatalf("round %d: %d descriptors, %d before", i, got, fds)
		}
	}
	t.Logf("%d waiters granted, %d closed", granted, closed)
}

// Misuse of Unlock and RUnlock panics, naming the misuse and the file.
func TestUnlockMisuseMessages(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	l, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for _, tc := range []struct {
		name    string
		hold    func() error
		misuse  func()
		release func()
		want    string
	}{
		{"Unlock of unlocked", nil, l.Unlock, nil, "filelock: Unlock of unlocked Lock " + path},
		{"RUnlock of unlocked", nil, l.RUnlock, nil, "filelock: RUnlock of unlocked Lock " + path},
		{"Unlock of read-locked", l.TryRLock, l.Unlock, l.RUnlock, "filelock: Unlock of Lock " + path + " locked for reading"},
		{"RUnlock of write-locked", l.TryLock, l.RUnlock, l.Unlock, "filelock: RUnlock of Lock " + path + " locked for writing"},
	} {
		if tc.hold != nil {
			if err := tc.hold(); err != nil {
				t.Fatal(err)
			}
		}
		if r := recovered(tc.misuse); r != tc.want {
			t.Errorf("%s: panic %v, want %q", tc.name, r, tc.want)
		}
		if tc.release != nil {
			tc.release() // the misuse changed nothing
		}
	}
	if err := l.TryLock(); err != nil {
		t.Fatal("misuse left the lock held:", err)
	}
	l.Unlock()
}

// A path or a directory with a NUL byte is invalid.
func TestNULInPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, f := range map[string]func() (*Lock, error){
		"New":              func() (*Lock, error) { return New(filepath.Join(dir, "a\x00b")) },
		"NewNamed":         func() (*Lock, error) { return NewNamed("a\x00b", WithDir(dir)) },
		"NewNamed WithDir": func() (*Lock, error) { return NewNamed("a", WithDir(dir+"/x\x00y")) },
	} {
		l, err := f()
		if !errors.Is(err, lock.ErrInvalidArgument) {
			t.Errorf("%s: %v, want lock.ErrInvalidArgument", name, err)
		}
		if l != nil {
			l.Close()
		}
	}
}

// noWatchers takes the process's inotify instances away for the test, so
// that waits poll.
func noWatchers(t *testing.T) {
	watchers.mu.Lock()
	idle, created := watchers.idle, watchers.created
	watchers.idle, watchers.created = nil, maxWatchers
	watchers.mu.Unlock()
	t.Cleanup(func() {
		watchers.mu.Lock()
		watchers.idle, watchers.created = idle, created
		watchers.mu.Unlock()
	})
}

// warmUp waits for a while for the file at path, held by another open file
// description, so that the process's pooled inotify instance exists before
// descriptors are counted.
func warmUp(t *testing.T, path string) {
	t.Helper()
	l, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
	defer cancel()
	if err := l.Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Lock of a held file = %v, want context.DeadlineExceeded", err)
	}
}

// flockOther creates path and locks it exclusively through a descriptor of
// its own, as another process would; the descriptor is closed when the
// test ends.
func flockOther(t *testing.T, path string) int {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	return fd
}

// flockTry reports whether another open file description can lock path
// exclusively now.
func flockTry(t *testing.T, path string) bool {
	t.Helper()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	return unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB) == nil
}

// recovered calls f and returns what it panicked with, or nil.
func recovered(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}

// A nil Context panics before the call changes anything: Close still
// closes the descriptor.
func TestNilContext(t *testing.T) {
	fds := countFDs(t)
	l, err := New(filepath.Join(t.TempDir(), "lock"))
	if err != nil {
		t.Fatal(err)
	}
	var nilCtx context.Context
	for name, call := range map[string]func(context.Context) error{"Lock": l.Lock, "RLock": l.RLock} {
		if r := recovered(func() { call(nilCtx) }); r != "filelock: nil Context" {
			t.Errorf("%s(nil): panic %v, want \"filelock: nil Context\"", name, r)
		}
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if got := countFDs(t); got != fds {
		t.Errorf("%d descriptors after Close, %d before New", got, fds)
	}
}
