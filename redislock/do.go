package redislock

import (
	"context"
	"errors"
)

// Do obtains the lock called name as Obtain does, runs fn with the lease's
// context (cancelled if the lease is lost) and the lease, and releases the
// lock when fn returns, even if ctx has ended by then: the release runs
// under context.WithoutCancel(ctx) with a one-second timeout.
//
// It returns the error of Obtain, or fn's error joined with the release's:
// an error wrapping lock.ErrLockLost means the lease ended before fn
// returned, so fn's work may not have been exclusive.
func (c *Client) Do(ctx context.Context, name string, fn func(context.Context, *Lease) error, opts ...Option) error {
	l, err := c.Obtain(ctx, name, opts...)
	if err != nil {
		return err
	}
	err = fn(l.Context(), l)
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	return errors.Join(err, l.Release(rctx))
}
