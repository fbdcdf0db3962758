package rw_test

import (
	"context"
	"errors"
	"testing"

	"github.com/codomyrmex/concurrency/internal/check"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/rw"
)

// FuzzRWMutexQueue drives Lock and RLock from goroutines of their own,
// cancellations, TryLock, TryRLock, Unlock, RUnlock and Downgrade against
// the FIFO model, in which a reader weighs 1 and a writer rw.MaxReaders:
// readers and writers are admitted in arrival order, readers behind a
// queued writer wait for it, and a Downgrade admits the readers at the
// front of the queue; SetMaxWaiters bounds the queue.
func FuzzRWMutexQueue(f *testing.F) {
	f.Add(uint8(0), []byte{0x08, 0x00, 0x08, 0x00, 0x05, 0x04, 0x0c, 0x04, 0x04})
	f.Add(uint8(3), []byte{0x00, 0x08, 0x08, 0x00, 0x08, 0x0b, 0x04, 0x0d, 0x04, 0x04})
	f.Add(uint8(0), []byte{0x0a, 0x02, 0x08, 0x13, 0x04, 0x04})
	f.Fuzz(func(t *testing.T, maxWaiters uint8, ops []byte) {
		check.DriveFIFO(t, ops, func() check.FIFOTarget {
			var mu rw.RWMutex
			bound := int(maxWaiters % 4)
			mu.SetMaxWaiters(bound)
			return check.FIFOTarget{
				Capacity:   rw.MaxReaders,
				MaxWaiters: bound,
				Weights:    []int64{1, rw.MaxReaders},
				Acquire: func(ctx context.Context, n int64) error {
					if n == 1 {
						return mu.RLock(ctx)
					}
					return mu.Lock(ctx)
				},
				TryAcquire: func(n int64) bool {
					if n == 1 {
						return mu.TryRLock()
					}
					return mu.TryLock()
				},
				Release: func(n int64) {
					if n == 1 {
						mu.RUnlock()
						return
					}
					mu.Unlock()
				},
				Downgrade: func(n int64) int64 {
					if n == 1 {
						return n
					}
					mu.Downgrade()
					return 1
				},
				Waiters: mu.Waiters,
				Result: func(err error) check.Result {
					switch {
					case errors.Is(err, context.Canceled):
						return check.Cancelled
					case errors.Is(err, lock.ErrTooManyWaiters):
						return check.Refused
					}
					return check.Waiting // not a result of the model: DriveFIFO fails
				},
			}
		})
	})
}
