package redislock

import (
	"context"

	"github.com/codomyrmex/concurrency/internal/lease"
)

// releaseInterruptible is the transport's release under interruptible: for
// a ctx that can be cancelled, it returns as soon as ctx is, with the
// context's error.
func (c *Client) releaseInterruptible(ctx context.Context, call releaseCall) (bool, error) {
	if ctx.Done() == nil {
		return c.tr.release(ctx, call)
	}
	return c.releaseInGoroutine(ctx, call)
}

// releaseInGoroutine is releaseInterruptible for a ctx that can be
// cancelled, apart so that the closure is made only for one.
func (c *Client) releaseInGoroutine(ctx context.Context, call releaseCall) (bool, error) {
	var ok bool
	err := c.interruptible(ctx, func(ctx context.Context) (err error) {
		ok, err = c.tr.release(ctx, call)
		return err
	}, nil)
	if err != nil {
		return false, err // ok belongs to the abandoned call
	}
	return ok, nil
}

// releaseLater runs call in the background, for up to
// lease.CleanupTimeout under context.WithoutCancel(ctx): the release of a
// lock that the token may hold after an acquisition that failed or was
// given up with a call in flight, or after a release whose outcome is
// unknown.
func (c *Client) releaseLater(ctx context.Context, call releaseCall) {
	ctx = context.WithoutCancel(ctx)
	c.group.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, lease.CleanupTimeout)
		defer cancel()
		_, _ = c.tr.release(ctx, call)
	})
}

// giveBack releases, in the background, the lock that call's token may
// hold after an attempt that did not become a lease: at once, and again
// once calls (the attempt's calls still in flight on a Redlock's slower
// servers; nil for none) have returned, in case one of them granted it
// late.
func (c *Client) giveBack(ctx context.Context, call releaseCall, calls <-chan struct{}) {
	ctx = context.WithoutCancel(ctx)
	c.group.Go(func() {
		answered := calls == nil || closed(calls) // before the first release is sent
		rctx, cancel := context.WithTimeout(ctx, lease.CleanupTimeout)
		_, _ = c.tr.release(rctx, call)
		cancel()
		if answered {
			return
		}
		<-calls
		rctx, cancel = context.WithTimeout(ctx, lease.CleanupTimeout)
		_, _ = c.tr.release(rctx, call)
		cancel()
	})
}

// closed reports whether ch, which may be nil, is closed.
func closed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
