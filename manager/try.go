package manager

import (
	"context"
	"fmt"

	"github.com/codomyrmex/concurrency/lock"
)

// errWouldWait is the error of a TryLock() bool or TryRLock() bool that
// returned false.
var errWouldWait = fmt.Errorf("manager: try: lock busy: %w", lock.ErrNotAcquired)

// tryOf returns l's TryLock method, of any of its three shapes, as a
// function that returns nil if the lock is now held, an error wrapping
// lock.ErrNotAcquired if taking it would have to wait, and any other error
// if the attempt failed. TryLock() bool reports false as errWouldWait;
// TryLock() error is taken as it is; TryLock(ctx) error (a remote lock's,
// such as redislock.Mutex's) is called with the acquisition's ctx. tryOf
// returns nil if l has none of them.
func tryOf(l lock.Locker) func(context.Context) error {
	switch t := l.(type) {
	case interface{ TryLock() bool }:
		return func(context.Context) error {
			if t.TryLock() {
				return nil
			}
			return errWouldWait
		}
	case interface{ TryLock() error }:
		return func(context.Context) error { return t.TryLock() }
	case interface{ TryLock(context.Context) error }:
		return t.TryLock
	}
	return nil
}

// tryRead returns l's TryRLock method, of any of the shapes of tryOf, as
// tryOf does.
func tryRead(l lock.Locker) func(context.Context) error {
	switch t := l.(type) {
	case interface{ TryRLock() bool }:
		return func(context.Context) error {
			if t.TryRLock() {
				return nil
			}
			return errWouldWait
		}
	case interface{ TryRLock() error }:
		return func(context.Context) error { return t.TryRLock() }
	case interface{ TryRLock(context.Context) error }:
		return t.TryRLock
	}
	return nil
}
