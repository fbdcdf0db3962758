package lock

import (
	"errors"
	"fmt"
)

// Sentinel errors shared by every package of the module. Errors returned by
// the module wrap them with detail; test for them with errors.Is.
var (
	// ErrNotAcquired reports that an attempt to take a lock did not succeed
	// because another holder has it (for example a try without waiting, or a
	// remote lock whose retries ran out).
	ErrNotAcquired = errors.New("lock: not acquired")

	// ErrNotHeld reports a release or extension of a lock the caller does
	// not hold (any more).
	ErrNotHeld = errors.New("lock: not held")

	// ErrLockLost reports that a lock which was held has been lost, for
	// example a lease that expired or was taken over before it was renewed.
	ErrLockLost = errors.New("lock: lost")

	// ErrClosed reports an operation on a primitive that has been closed.
	ErrClosed = errors.New("lock: closed")

	// ErrTooManyWaiters reports a wait refused because the lock's queue of
	// waiters is at the bound it was configured with.
	ErrTooManyWaiters = errors.New("lock: too many waiters")

	// ErrInvalidArgument reports bad input: a weight larger than a
	// semaphore's size, a negative weight or TTL, an empty or unsafe name.
	ErrInvalidArgument = errors.New("lock: invalid argument")
)

// A TooManyWaitersError is the error of a call refused because the lock's
// queue of waiters was at its bound (SetMaxWaiters or WithMaxWaiters). It
// wraps ErrTooManyWaiters. Every primitive of the module reports such a
// refusal with it, at once and holding nothing.
type TooManyWaitersError struct {
	// Lock names the lock that refused, as its package calls it:
	// "lock.Mutex", "sem.Weighted", `filelock "/run/app/db.lock"`.
	Lock string
	// Max is the bound in force: at least Max callers were already
	// waiting. What counts as a waiter is the primitive's: the goroutines
	// of a process for a file lock, of one Client for a Redis lock.
	Max int
}

func (e *TooManyWaitersError) Error() string {
	noun := "goroutines"
	if e.Max == 1 {
		noun = "goroutine"
	}
	return fmt.Sprintf("%s: %d %s already waiting (the bound): %v", e.Lock, e.Max, noun, ErrTooManyWaiters)
}

// Unwrap returns ErrTooManyWaiters.
func (e *TooManyWaitersError) Unwrap() error { return ErrTooManyWaiters }
