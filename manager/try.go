package manager

import (
	"fmt"

	"github.com/codomyrmex/concurrency/lock"
)

// errWouldWait is the error of a TryLock() bool or TryRLock() bool that
// returned false.
var errWouldWait = fmt.Errorf("manager: try: lock busy: %w", lock.ErrNotAcquired)

// tryOf returns l's TryLock method, of either shape, as a function that
// returns nil if the lock is now held, an error wrapping
// lock.ErrNotAcquired if taking it would have to wait, and any other error
// if the attempt failed. TryLock() bool reports false as errWouldWait;
// TryLock() error is taken as it is. tryOf returns nil if l has neither.
// Either way a try costs one indirect call, as a method value does.
func tryOf(l lock.Locker) func() error {
	switch t := l.(type) {
	case interface{ TryLock() bool }:
		return func() error {
			if t.TryLock() {
				return nil
			}
			return errWouldWait
		}
	case interface{ TryLock() error }:
		return t.TryLock
	}
	return nil
}

// tryRead returns l's TryRLock method, of either shape, as tryOf does.
func tryRead(l lock.Locker) func() error {
	switch t := l.(type) {
	case interface{ TryRLock() bool }:
		return func() error {
			if t.TryRLock() {
				return nil
			}
			return errWouldWait
		}
	case interface{ TryRLock() error }:
		return t.TryRLock
	}
	return nil
}
