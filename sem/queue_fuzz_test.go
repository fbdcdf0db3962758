package sem_test

import (
	"context"
	"errors"
	"testing"

	"github.com/codomyrmex/concurrency/internal/check"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/sem"
)

// FuzzWeightedQueue drives blocking and non-blocking operations, from
// goroutines of their own, against the FIFO model: grant order, head-of-line
// blocking, cancellation of queued waiters, Resize, Close and the waiter
// bound.
func FuzzWeightedQueue(f *testing.F) {
	f.Add(uint8(3), uint8(0), []byte{0x00, 0x10, 0x08, 0x03, 0x04, 0x0c, 0x2e, 0x04, 0x07})
	f.Add(uint8(2), uint8(2), []byte{0x08, 0x08, 0x10, 0x18, 0x20, 0x0b, 0x04, 0x16, 0x04})
	f.Add(uint8(4), uint8(0), []byte{0x18, 0x18, 0x08, 0x06, 0x0e, 0x04, 0x26, 0x05, 0x02})
	f.Add(uint8(3), uint8(0), []byte{0x18, 0x08, 0x18, 0x18, 0x18, 0x96, 0x04, 0x04}) // Resize racing a cancel
	f.Fuzz(func(t *testing.T, size, maxWaiters uint8, ops []byte) {
		check.DriveFIFO(t, ops, func() check.FIFOTarget {
			bound := int(maxWaiters % 4)
			s := sem.NewWeighted(int64(size%8), sem.WithMaxWaiters(bound))
			return check.FIFOTarget{
				Capacity:   int64(size % 8),
				MaxWaiters: bound,
				Weights:    []int64{0, 1, 2, 3, 5, 9},
				Acquire:    s.Acquire,
				TryAcquire: s.TryAcquire,
				Release:    s.Release,
				Waiters:    s.Waiters,
				Result:     semResult,
				Resize:     s.Resize,
				Close:      s.Close,
			}
		})
	})
}

func semResult(err error) check.Result {
	switch {
	case errors.Is(err, context.Canceled):
		return check.Cancelled
	case errors.Is(err, sem.ErrClosed):
		return check.Shut
	case errors.Is(err, sem.ErrTooLarge):
		return check.Oversized
	case errors.Is(err, lock.ErrTooManyWaiters):
		return check.Refused
	}
	return check.Waiting // not a result of the model: DriveFIFO fails
}
