package lock_test

import (
	"context"
	"errors"
	"testing"

	"github.com/codomyrmex/concurrency/internal/check"
	"github.com/codomyrmex/concurrency/lock"
)

// FuzzMutexQueue drives Lock from goroutines of their own, cancellations,
// TryLock and Unlock against the FIFO model: waiters get the mutex in
// arrival order, a cancelled waiter leaves the queue, TryLock never barges,
// and SetMaxWaiters bounds the queue.
func FuzzMutexQueue(f *testing.F) {
	f.Add(uint8(0), []byte{0x00, 0x00, 0x00, 0x02, 0x03, 0x04, 0x0b, 0x04, 0x05})
	f.Add(uint8(2), []byte{0x00, 0x00, 0x00, 0x00, 0x0b, 0x13, 0x04, 0x04, 0x04})
	f.Fuzz(func(t *testing.T, maxWaiters uint8, ops []byte) {
		check.DriveFIFO(t, ops, func() check.FIFOTarget {
			var mu lock.Mutex
			bound := int(maxWaiters % 4)
			mu.SetMaxWaiters(bound)
			return check.FIFOTarget{
				Capacity:   1,
				MaxWaiters: bound,
				Weights:    []int64{1},
				Acquire:    func(ctx context.Context, _ int64) error { return mu.Lock(ctx) },
				TryAcquire: func(int64) bool { return mu.TryLock() },
				Release:    func(int64) { mu.Unlock() },
				Waiters:    mu.Waiters,
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
