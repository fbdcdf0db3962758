package redislock

import (
	"context"

	"github.com/codomyrmex/concurrency/internal/lease"
)

// Do obtains the lock called name as Obtain does, runs fn with the lease's
// context (cancelled if the lease is lost) and the lease, and releases the
// lock when fn returns, even if ctx has ended by then: the release runs
// under context.WithoutCancel(ctx) with a one-second timeout.
//
// If fn panics (or calls runtime.Goexit), the lock is released the same
// way, and the lease ended, before the panic goes on up the stack; Do does
// not recover it.
//
// It returns the error of Obtain, or fn's error joined with the release's:
// an error wrapping lock.ErrLockLost means the lease ended before fn
// returned, so fn's work may not have been exclusive. A nil fn is an error
// wrapping lock.ErrInvalidArgument, and the lock is not obtained.
func (c *Client) Do(ctx context.Context, name string, fn func(context.Context, *Lease) error, opts ...Option) (err error) {
	return lease.Do(ctx, backend, name, fn, func(ctx context.Context) (*Lease, error) {
		return c.Obtain(ctx, name, opts...)
	})
}
