package filelock

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/codomyrmex/concurrency/internal/clock"
	"github.com/codomyrmex/concurrency/internal/ctxerr"
	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/lock"
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
// Unlock without an exclusive hold through the same Lock and RUnlock without
// a shared one panic (see the package documentation, "Misuse").
type Lock struct {
	f       *file
	path    string
	holder  bool
	purpose string

	maxWaiters int // see WithMaxWaiters

	// Telemetry: recorders of exclusive and shared holds (nil when off),
	// and when the current exclusive hold began (zero if not timed).
	recW, recR *lockotel.Recorder
	since      clock.Stamp

	// Holds through this Lock, for misuse checks.
	excl   atomic.Bool
	shared atomic.Int64

	// users counts the calls in progress and the holds through l, which
	// keep l's reference to f; shifted left by one, with closedBit set by
	// Close. The last of Close, those calls and those holds drops the
	// reference (see enter, exit and Close).
	users atomic.Int64

	// mu guards waits: the cancel functions of the calls through l that
	// wait for the file, which Close calls.
	mu       sync.Mutex
	waits    map[uint64]context.CancelCauseFunc
	nextWait uint64
}

// closedBit is the bit of Lock.users that Close sets.
const closedBit = 1

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

// NewNamed returns a Lock on the file name+".lock" in a private lock
// directory ([DefaultDir], or the one given with [WithDir]), creating the
// directory and the file as needed. WithDir("") means the default. The name
// must pass [ValidateName], and a directory given with WithDir must not
// contain a NUL byte; otherwise the error wraps [lock.ErrInvalidArgument].
// Otherwise it behaves as [New].
func NewNamed(name string, opts ...Option) (*Lock, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	c := newConfig(opts)
	private := c.dir == ""
	if private {
		d, err := DefaultDir()
		if err != nil {
			return nil, err
		}
		c.dir = d
	} else if err := checkPath("lock directory", c.dir); err != nil {
		return nil, err
	}
	return newLock(c.dir, name+nameSuffix, private, &c, name)
}

// newLock opens the file name in dir and returns a Lock on it, recording
// its telemetry under lockName, or under its path if lockName is "".
func newLock(dir, name string, private bool, c *config, lockName string) (*Lock, error) {
	s, id, err := openSys(dir, name, private, c)
	if err != nil {
		return nil, err
	}
	path := s.path
	f, err := register(s, id)
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
// with a *[lock.TooManyWaitersError]. If l is closed, before
// the call or while it waits, it fails with an error wrapping
// [lock.ErrClosed] (see [Lock.Close]).
func (l *Lock) Lock(ctx context.Context) error {
	err := l.enter(ctx, l.recW)
	if err == nil {
		var since clock.Stamp
		since, err = l.take(ctx, exclusive)
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
		since, err = l.try(ctx, exclusive)
		l.acquired(err, since)
	}
	return err
}

// Unlock releases an exclusive hold taken through l, waking the next
// waiter. It panics if l is not held exclusively.
func (l *Lock) Unlock() {
	if !l.excl.CompareAndSwap(true, false) {
		if l.shared.Load() != 0 {
			panic("filelock: Unlock of Lock " + l.path + " locked for reading")
		}
		panic("filelock: Unlock of unlocked Lock " + l.path)
	}
	held := l.holdTime()
	if l.holder && !l.f.sys.cleanup {
		l.f.sys.clearHolder()
	}
	l.f.unlock()
	l.recW.Released(context.Background(), 1, held)
	l.exit()
}

// RLock takes a shared hold on l, waiting in FIFO order behind the
// goroutines of this process that wait for the same file, then for other
// processes to release an exclusive hold. Shared holds exclude exclusive
// ones but not each other. It returns as Lock does.
func (l *Lock) RLock(ctx context.Context) error {
	err := l.enter(ctx, l.recR)
	if err == nil {
		_, err = l.take(ctx, shared)
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
		_, err = l.try(ctx, shared)
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
			if l.excl.Load() {
				panic("filelock: RUnlock of Lock " + l.path + " locked for writing")
			}
			panic("filelock: RUnlock of unlocked Lock " + l.path)
		}
		if l.shared.CompareAndSwap(n, n-1) {
			break
		}
	}
	l.f.runlock()
	l.recR.Released(context.Background(), 1, -1)
	l.exit()
}

// Close closes l. The calls through l that wait for the file when Close is
// called, in this process's queue or for another process, return at once
// with an error wrapping [lock.ErrClosed] (or their context's error if it
// is done too), holding nothing; a call that acquires the file as Close is
// called may instead succeed, and then holds l as any other. Every later
// Lock, RLock, TryLock and TryRLock through l fails with an error wrapping
// lock.ErrClosed, and so does a second Close. Close does not affect the
// other Locks on the file.
//
// Holds taken through l stay held after Close: Unlock and RUnlock release
// them as usual, and panic as usual when l has no such hold. Close never
// waits and never panics.
//
// l's share of the descriptor (shared with the other Locks on the same file
// in this process, and closed with the last of them) is given up by the
// last of Close, the calls then in progress and the holds then held. Close
// returns the error of closing the descriptor only if it closes it itself;
// a hold or call that closes it later ignores the error (the descriptor is
// released either way).
func (l *Lock) Close() error {
	for {
		u := l.users.Load()
		if u&closedBit != 0 {
			return l.errClosed()
		}
		if l.users.CompareAndSwap(u, u|closedBit) {
			if u == 0 {
				return l.f.unregister()
			}
			break
		}
	}
	l.mu.Lock()
	for _, cancel := range l.waits {
		cancel(lock.ErrClosed)
	}
	l.mu.Unlock()
	return nil
}

// enter registers a call in progress, unless l is closed: then it records
// the failed acquisition through r and returns the error. It panics on a
// nil ctx before it changes anything.
func (l *Lock) enter(ctx context.Context, r *lockotel.Recorder) error {
	if ctx == nil {
		panic("filelock: nil Context")
	}
	for {
		u := l.users.Load()
		if u&closedBit != 0 {
			err := l.errClosed()
			r.Failed(ctx, err)
			return err
		}
		if l.users.CompareAndSwap(u, u+2) {
			return nil
		}
	}
}

// exit ends a call in progress that failed, or a hold, giving up l's
// reference to the file if l is closed and that was the last of them.
func (l *Lock) exit() {
	if l.users.Add(-2) == closedBit {
		_ = l.f.unregister() // see Close
	}
}

// wait takes f for l in mode m, waiting until ctx is done or l is closed.
func (l *Lock) wait(ctx context.Context, m mode) error {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	l.mu.Lock()
	if l.users.Load()&closedBit != 0 {
		l.mu.Unlock()
		return l.errClosed()
	}
	if l.waits == nil {
		l.waits = make(map[uint64]context.CancelCauseFunc)
	}
	id := l.nextWait
	l.nextWait++
	l.waits[id] = cancel
	l.mu.Unlock()

	err := l.f.take(wctx, m)

	l.mu.Lock()
	delete(l.waits, id)
	l.mu.Unlock()
	if err != nil && wctx.Err() != nil {
		// The wait was cut short: by ctx, whose error then wins, or by
		// Close.
		if err = ctxerr.From(ctx); err == nil {
			err = l.errClosed()
		}
	}
	return err
}

// acquired records the outcome of an exclusive acquisition, whose hold
// began at since if it is timed, and ends the call: a failed one exits, a
// successful one becomes the hold.
func (l *Lock) acquired(err error, since clock.Stamp) {
	if err != nil {
		l.exit()
		return
	}
	l.since = since
	l.excl.Store(true)
	if l.holder {
		l.f.sys.setHolder(l.purpose)
	}
}

// racquired records the outcome of a shared acquisition and ends the call,
// as acquired does.
func (l *Lock) racquired(err error) {
	if err != nil {
		l.exit()
		return
	}
	l.shared.Add(1)
}

func (l *Lock) errClosed() error {
	return fmt.Errorf("filelock: %s: %w", l.path, lock.ErrClosed)
}
