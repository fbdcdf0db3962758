// Package manager acquires sets of named locks all or nothing, in one
// canonical order, and keeps statistics about each of them.
//
// A [Manager] is a registry of named locks of any kind: in-process locks
// (lock.Mutex, rw.RWMutex), file locks and remote leases alike, anything
// that satisfies lock.Locker. With [WithOnDemand], names that were never
// registered get an in-process reader/writer lock created on first use and
// freed once nobody holds or waits for it.
//
// [Manager.AcquireAll] and [Manager.Acquire] sort the names by their bytes,
// merge duplicates and take the locks in that order, so two calls can never
// deadlock on each other whatever order their names are given in. This
// holds only if every path that takes more than one of these locks goes
// through the Manager: a goroutine that already holds locks of the Manager
// and asks for more can deadlock with another one, which is what the
// optional order checker ([WithOrderCheck]) reports.
//
// If any lock cannot be taken (its Lock fails, or ctx ends), the locks
// already taken are released in reverse order and the error, an
// [*AcquireError], names the lock that failed and wraps its error, so
// errors.Is(err, context.DeadlineExceeded) and the like work.
//
// # Optional methods of the locks
//
// The Manager uses these methods when a registered lock has them:
//
//   - TryLock() bool, TryLock() error or TryLock(ctx) error (and TryRLock
//     of any of these shapes for the read side): an acquisition first tries
//     the lock without waiting, passing its ctx to TryLock(ctx) error. The
//     error shapes, those of filelock.Lock and redislock.Mutex, return nil
//     if the lock is now held and an error wrapping lock.ErrNotAcquired if
//     taking it would have to wait. Only an acquisition whose try finds the
//     lock busy (false, or lock.ErrNotAcquired) counts as contended, is
//     timed as a wait and gets a span; if the try fails with another error,
//     Lock is called as for a lock that cannot be tried, and its result
//     counts. A remote lock's try is a round trip, so a contended
//     acquisition of one makes a second, in Lock. A lock that cannot be
//     tried is timed and traced on every acquisition and never counted as
//     contended.
//   - LockKind() string: the lock.kind attribute of the lock's telemetry,
//     such as "filelock" for a *filelock.Lock. Without it a lock is
//     reported as "mutex" (lock.Mutex), "rwmutex" (rw.RWMutex) or
//     "locker".
//   - RLocker() lock.Locker, or RLock(ctx) error and RUnlock(): the lock has
//     a read side, which [Read] requests take. A read request for a lock
//     without one takes it exclusively.
//   - Release(ctx) error (see [Releaser]): called instead of Unlock, so that
//     [Held.Release] reports a failed release.
//   - Done() <-chan struct{} (see [Leaser]): a lease that can be lost while
//     held. If Done is closed at release, or Release reports an error
//     wrapping lock.ErrLockLost, the loss is counted in [Stats].LostLeases
//     and in the lock.lease.lost metric. No goroutine watches a hold, so a
//     loss is counted when the hold is released, not when it happens.
//
// # Panics
//
// The Manager recovers no panics. If a lock's TryLock or Lock, or the
// report function of [WithOrderCheck], panics during an acquisition, the
// locks already taken are released in reverse order and the panic
// continues. If a lock's Unlock, Release or Done panics during
// [Held.Release], the remaining locks are still released, and so is the
// lock whose Done panicked, and the panic continues. If a lock's LockKind
// or RLocker panics in [Manager.Register], nothing is registered. Either
// way the Manager's bookkeeping stays consistent.
//
// # Misuse
//
// Misuse of a Manager or a Held, and what it does:
//
//	Register on a Manager not made by New       panic "manager: Register on a Manager not made by New"
//	Register: empty name, or name in use        error wrapping lock.ErrInvalidArgument
//	Register: nil lock, or a nil pointer        error wrapping lock.ErrInvalidArgument
//	  (a nil *lock.Mutex); RLocker returns one
//	Acquire or AcquireAll: no names             ErrNoLocks (it wraps lock.ErrInvalidArgument)
//	Acquire or AcquireAll: empty name           error wrapping lock.ErrInvalidArgument
//	Acquire: Mode not ModeWrite or ModeRead     error wrapping lock.ErrInvalidArgument
//	Acquire or AcquireAll: unknown name         *AcquireError wrapping ErrUnknownName
//	Release a second time                       error wrapping lock.ErrNotHeld; releases nothing
//	Release or Names of a nil or zero Held      error wrapping lock.ErrNotHeld; Names returns nil
//	Release with a done ctx                     releases every lock; returns the errors of the
//	                                            locks' Release methods, which may report the ctx's
//	acquire again, for writing, a lock held     waits until ctx is done (not reentrant);
//	  by the same goroutine                     WithOrderCheck reports it
//	Unlock a lock directly while a Held holds   Held.Release unlocks it again: the lock's own
//	  it                                        misuse (lock.Mutex panics)
//
// # Telemetry
//
// The Manager records through package telemetry, in the scope
// "github.com/codomyrmex/concurrency/manager", with the providers given by
// [WithTracerProvider] and [WithMeterProvider] or else the global ones:
// a span "acquire {kind}" per acquisition that had to wait, and the wait,
// hold, acquisition, contention, waiter, holder and lost-lease metrics per
// lock name.
package manager
