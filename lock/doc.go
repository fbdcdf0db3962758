// Package lock defines the contract that every lock in this module satisfies
// ([Locker]), the sentinel errors the module reports, and [Mutex], an
// in-process mutual exclusion lock whose Lock can be cancelled.
//
// # Cancellation contract
//
// Every call in this module that can block takes a [context.Context] and
// obeys the same rules:
//
//   - If ctx is done before the call returns, the call fails with an error
//     that satisfies errors.Is(err, ctx.Err()) and carries context.Cause(ctx)
//     (errors.Is(err, context.Cause(ctx)) also holds). A ctx that is already
//     done fails the call even when the lock is free.
//   - A call that fails holds nothing. A grant that races with the
//     cancellation is handed on to the next waiter, never leaked.
//   - Cancelling the waiter at the head of a queue wakes the waiters behind
//     it that can now proceed.
//   - No goroutine, timer or context.AfterFunc outlives the call.
//
// # Trying without waiting
//
// Locks that live in the process have TryLock() bool, like sync.Mutex:
// false means only that the lock is busy (or waiters are queued, which a
// try never overtakes). Locks whose try does I/O, a file lock or a Redis
// lock, return an error instead: one wrapping ErrNotAcquired when the lock
// is busy, any other error when the try itself failed; a try that talks to
// a server takes a context.
//
// # Bounded waiting
//
// Every lock can bound its queue of waiters (SetMaxWaiters, or a
// WithMaxWaiters option). A call that would have to wait behind that many
// waiters fails at once with a *TooManyWaitersError, which wraps
// ErrTooManyWaiters, holding nothing. A call that need not wait is never
// refused.
//
// # Limits
//
// The limits of each lock. Each is enforced with an error or a documented
// panic, except rw.MaxReaders, which, as in sync.RWMutex, is not checked
// (2^30 goroutines would need terabytes of stacks):
//
//	lock.Mutex         waiters: unbounded unless SetMaxWaiters
//	sem.Weighted       size and weights: 0 to sem.MaxSize (2^61-1); waiters: WithMaxWaiters, SetMaxWaiters
//	rw.RWMutex         readers: fewer than rw.MaxReaders (2^30) holding or waiting; waiters: SetMaxWaiters
//	filelock.Lock      names: filelock.MaxNameLen (128) bytes of [A-Za-z0-9._-]; waiters per process: WithMaxWaiters
//	redislock.Client   TTL: at least 10ms; watchdog interval: 1ms to TTL/2; waiters per Client and name: WithMaxWaiters
//
// # Tests with testing/synctest
//
// The in-process locks (Mutex, sem.Weighted, rw.RWMutex, filelock's
// in-process queue) park waiters on channels made or reused inside the
// testing/synctest bubble of the waiters, or outside any (for Mutex and
// sem.Weighted, where the first waiter of a queue runs), so a goroutine
// waiting inside a bubble is durably blocked. While goroutines wait, a lock
// thus belongs to their bubble, or to the outside. An Unlock from outside
// the bubble of the waiters is then a fatal error of the runtime (as is any
// use of a channel made in a bubble from outside it), and a goroutine of a
// bubble that joins a queue begun outside it is not durably blocked, so
// synctest.Wait waits for it, as for a sync.Mutex. Once a lock is free with
// nobody waiting, it may move to another bubble or out of one: a
// package-level lock may serve tests in bubbles one after another, but not a bubble
// and a goroutine outside it at the same time.
//
// # Misuse
//
// Misuse of a lock held in this process is a bug in the caller and panics
// with a message that names the package and the call, as sync does,
// changing nothing:
//
//	Mutex.Unlock of an unlocked Mutex        panic "lock: Unlock of unlocked Mutex"
//	Mutex.Unlock a second time               the same panic, unless another
//	                                         goroutine has locked it meanwhile
//
// A Mutex has no owner, so an Unlock by another goroutine than the one that
// locked it is allowed, not misuse. Packages sem, rw, filelock and manager
// list their own cases; remote locks (redislock) cannot always tell a
// second release from a lost lease and return an error wrapping ErrNotHeld
// instead of panicking.
package lock
