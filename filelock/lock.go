package filelock

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/codomyrmex/concurrency/internal/clock"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/telemetry"
)

// A Lock is a reader/writer lock on a file that excludes other processes on
// the host and other goroutines of this process. Make one with [New] or
// [NewNamed], and Close it when done.
//
// All Locks on one file in a process share one descriptor, its kernel lock
// and one FIFO queue of waiters, so goroutines exclude each other whether
// they use one Lock or several, and are served in arrival order; between
// processes the kernel decides. A Lock may be used by many goroutines at
// once. It is not reentrant: a goroutine that holds it and calls Lock or
// RLock again waits for itself until its context is done.
//
// As with sync.RWMutex, a hold is not tied to a goroutine: one goroutine may
// Lock and another Unlock. Within this process the n'th Unlock synchronizes
// before the m'th successful Lock or RLock for n < m, and every RUnlock
// before it synchronizes before the next successful Lock, on any Lock of the
// same file. A failed call synchronizes with nothing. The race detector
// sees these edges: they are annotated on addresses in the state shared by
// the Locks on the file, which lives as long as one of them is open.
//
// A shared hold is never upgraded: Lock while holding RLock waits (the
// flock(2) conversion would drop the shared lock before taking the
// exclusive one). Release the shared hold first.
//
// Unlock without an exclusive hold through the same Lock, RUnlock without a
// shared one, and Close while held or in use panic.
type Lock struct {
	f       *file
	path    string
	holder  bool
	purpose string

	maxWaiters int // see WithMaxWaiters

	// Telemetry: recorders of exclusive and shared holds (nil when off),
	// and when the current exclusive hold began (zero if not timed).
	recW, recR *telemetry.Recorder
	since      clock.Stamp

	// Holds through this Lock, and calls in progress, for misuse checks.
	excl   atomic.Bool
	shared atomic.Int64
	calls  atomic.Int64
	closed atomic.Bool
}

var _ lock.Locker = (*Lock)(nil)

// New returns a Lock on the file at path, creating the file with mode 0600
// if it does not exist (with a one-line header saying what it is); it does
// not lock it. Locks on the same file (inode), by whatever path, share
// their state in the process (see [Lock]). The file is opened with
// O_NOFOLLOW and O_CLOEXEC and stays open until Close. New refuses, with an
// error wrapping [ErrUnsafe], a path whose last component is a symbolic
// link, a file that is not a regular file, is owned by another user or is
// writable by group or others. It refuses with [ErrNotSupported] a file on
// a network or user-space filesystem (see [WithNetworkFS]) and any platform
// but Linux, and with [lock.ErrInvalidArgument] an empty path or one that
// contains a NUL byte.
//
// The file is not removed unless [WithCleanup] is given: removing a lock
// file while others have it open would split its holders across two files.
func New(path string, opts ...Option) (*Lock, error) {
	c := newConfig(opts)
	if err := checkPath("path", path); err != nil {
		return nil, err
	}
	return newLock("", path, false, &c, "")
}

// checkPath refuses an empty path, and one with a NUL byte, which no
// system call can take; what names the path in messages.
func checkPath(what, path string) error {
	switch {
	case path == "":
		return fmt.Errorf("filelock: empty %s: %w", what, lock.ErrInvalidArgument)
	case strings.IndexByte(path, 0) >= 0:
		return fmt.Errorf("filelock: %s %q contains a NUL byte: %w", what, path, lock.ErrInvalidArgument)
	}
	return nil
}

// newLock opens the file name in dir and returns a Lock on it, recording
// its telemetry under lockName, or under its path if lockName is "".
func newLock(dir, name string, private bool, c *config, lockName string) (*Lock, error) {
	s, id, err := openSys(dir, name, private, c)
	if err != nil {
		return nil, err
	}
	path := s.path
	f, err := register(s, id, c.cleanup)
	if err != nil {
		return nil, err
	}
	if lockName == "" {
		lockName = path
	}
	l := &Lock{f: f, path: path, holder: c.holder, purpose: c.purpose, maxWaiters: c.maxWaiters}
	l.recW, l.recR = c.recorders(lockName)
	return l, nil
}

// Path returns the path of the lock file.
func (l *Lock) Path() string { return l.path }

// Lock takes l exclusively, waiting in FIFO order behind the goroutines of
// this process that wait for the same file, then for other processes to
// release it. It returns nil if and only if l is now held. If ctx is done
// first, including before the call, l is not held and the error satisfies
// errors.Is(err, ctx.Err()); a release that races with the cancellation is
// passed on, never kept. If it finds the file busy while as many goroutines
// of this process wait for it as [WithMaxWaiters] allows, it fails at once
// with an error wrapping [lock.ErrTooManyWaiters].
func (l *Lock) Lock(ctx context.Context) error {
	err := l.enter(ctx, l.recW)
	if err == nil {
		var since clock.Stamp
		since, err = l.take(ctx, true)
		l.acquired(err, since)
	}
	return err
}

// TryLock takes l exclusively if it can do so without waiting. It returns
// nil if and only if l is now held. If the file is held, by this process or
// another, or goroutines of this process wait for it, the error wraps
// [lock.ErrNotAcquired]; any other error is a real failure.
func (l *Lock) TryLock() error {
	ctx := context.Background()
	err := l.enter(ctx, l.recW)
	if err == nil {
		var since clock.Stamp
		since, err = l.try(ctx, true)
		l.acquired(err, since)
	}
	return err
}

// Unlock releases an exclusive hold taken through l, waking the next
// waiter. It panics if l is not held exclusively.
func (l *Lock) Unlock() {
	if !l.excl.CompareAndSwap(true, false) {
		panic("filelock: Unlock of unlocked Lock " + l.path)
	}
	held := l.holdTime()
	if l.holder && !l.f.cleanup {
		l.f.sys.clearHolder()
	}
	l.f.unlock()
	l.recW.Released(context.Background(), 1, held)
}

// RLock takes a shared hold on l, waiting in FIFO order behind the
// goroutines of this process that wait for the same file, then for other
// processes to release an exclusive hold. Shared holds exclude exclusive
// ones but not each other. It returns as Lock does.
func (l *Lock) RLock(ctx context.Context) error {
	err := l.enter(ctx, l.recR)
	if err == nil {
		_, err = l.take(ctx, false)
		l.racquired(err)
	}
	return err
}

// TryRLock takes a shared hold on l if it can do so without waiting. It
// returns as TryLock does.
func (l *Lock) TryRLock() error {
	ctx := context.Background()
	err := l.enter(ctx, l.recR)
	if err == nil {
		_, err = l.try(ctx, false)
		l.racquired(err)
	}
	return err
}

// RUnlock releases one shared hold taken through l. The kernel lock is
// released with the last shared hold of the process. It panics if l has no
// shared hold.
func (l *Lock) RUnlock() {
	for {
		n := l.shared.Load()
		if n == 0 {
			panic("filelock: RUnlock of unlocked Lock " + l.path)
		}
		if l.shared.CompareAndSwap(n, n-1) {
			break
		}
	}
	l.f.runlock()
	l.recR.Released(context.Background(), 1, -1)
}

// Close releases the descriptor of l (shared with the other Locks on the
// same file in this process, and closed with the last of them). It panics
// if l is held or a call on l is in progress. Calls after Close fail with
// an error wrapping [lock.ErrClosed]; Close itself returns one on the
// second call.
func (l *Lock) Close() error {
	if !l.closed.CompareAndSwap(false, true) {
		return l.errClosed()
	}
	if l.calls.Load() != 0 || l.excl.Load() || l.shared.Load() != 0 {
		l.closed.Store(false)
		panic("filelock: Close of Lock " + l.path + " while it is held or in use")
	}
	return l.f.unregister()
}

// enter registers a call in progress, unless l is closed: then it records
// the failed acquisition through r and returns the error.
func (l *Lock) enter(ctx context.Context, r *telemetry.Recorder) error {
	l.calls.Add(1)
	if l.closed.Load() {
		l.calls.Add(-1)
		err := l.errClosed()
		r.Failed(ctx, err)
		return err
	}
	return nil
}

// acquired records the outcome of an exclusive acquisition, whose hold
// began at since if it is timed, and ends the call.
func (l *Lock) acquired(err error, since clock.Stamp) {
	if err == nil {
		l.since = since
		l.excl.Store(true)
		if l.holder {
			l.f.sys.setHolder(l.purpose)
		}
	}
	l.calls.Add(-1)
}

// racquired records the outcome of a shared acquisition and ends the call.
func (l *Lock) racquired(err error) {
	if err == nil {
		l.shared.Add(1)
	}
	l.calls.Add(-1)
}

func (l *Lock) errClosed() error {
	return fmt.Errorf("filelock: %s: %w", l.path, lock.ErrClosed)
}
