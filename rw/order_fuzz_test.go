package rw_test

import (
	"context"
	"errors"
	"testing"

	"github.com/codomyrmex/concurrency/internal/check"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/rw"
)

// FuzzRWMutexOrder drives RLock and Lock from goroutines of their own,
// cancellations (also racing a release), TryRLock, TryLock, RUnlock,
// Unlock, Downgrade and SetMaxWaiters against the phase-fair model
// (check.PhaseFair): writers take turns in order, readers overtake writers
// that are not announced yet and wait for at most one write phase, an
// announced writer waits for the readers inside, and one that gives up
// admits the readers waiting in its phase.
func FuzzRWMutexOrder(f *testing.F) {
	f.Add([]byte{0x00, 0x01, 0x00, 0x01, 0x00, 0x04, 0x04, 0x04, 0x0c, 0x04})
	f.Add([]byte{0x00, 0x01, 0x00, 0x03, 0x01, 0x00, 0x0b, 0x04, 0x05, 0x04})
	f.Add([]byte{0x0e, 0x00, 0x01, 0x00, 0x01, 0x00, 0x3e, 0x01, 0x0f, 0x04})
	f.Add([]byte{0x02, 0x00, 0x01, 0x00, 0x01, 0x07, 0x0a, 0x0d, 0x04, 0x04})
	f.Fuzz(func(t *testing.T, ops []byte) {
		check.DrivePhaseFair(t, ops, func() check.RWTarget {
			mu := new(rw.RWMutex)
			return check.RWTarget{
				RLock:         mu.RLock,
				Lock:          mu.Lock,
				TryRLock:      mu.TryRLock,
				TryLock:       mu.TryLock,
				RUnlock:       mu.RUnlock,
				Unlock:        mu.Unlock,
				Downgrade:     mu.Downgrade,
				SetMaxWaiters: mu.SetMaxWaiters,
				Waiters:       mu.Waiters,
				Result: func(err error) check.Result {
					var tooMany *lock.TooManyWaitersError
					switch {
					case errors.Is(err, context.Canceled):
						return check.Cancelled
					case errors.As(err, &tooMany) && tooMany.Lock == "rw.RWMutex":
						return check.Refused
					}
					return check.Waiting // not a result of the model: DrivePhaseFair fails
				},
			}
		})
	})
}
