package redislock

import (
	"context"
	"errors"
	"time"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
	"github.com/codomyrmex/concurrency/lock"
)

// pause waits until the attempt after o is due: after a failed call, a
// backoff; the first time the lock is held elsewhere, only for the
// subscription to the lock's releases (a release published before the
// server registered it would be missed, so the next attempt goes at once);
// then until a release is published (wake is closed) or the key expires,
// at most maxWait.
func (a *acquisition) pause(ctx context.Context, o attempt, wake <-chan struct{}) error {
	var d time.Duration
	switch {
	case o.err != nil:
		d, a.backoff = jitter(a.backoff), min(2*a.backoff, maxBackoff)
	case a.sub == nil:
		sub, err := a.c.hub.subscribe(ctx, a.s.k.lock)
		if err == nil {
			a.sub = sub
			return nil
		}
		if errors.Is(err, lock.ErrClosed) {
			return err
		}
		if ctx.Err() != nil {
			return ctxerr.From(ctx)
		}
		d, a.backoff = jitter(a.backoff), min(2*a.backoff, maxBackoff)
	default:
		a.backoff = minBackoff
		d = maxWait // also for a key without TTL
		if o.retryIn >= 0 {
			// Wake just after the key expires if nobody releases it.
			d = min(d, o.retryIn+jitter(2*time.Millisecond))
		}
	}
	for {
		if err := a.c.sleep(ctx, d, wake); err != nil {
			return err
		}
		if closed(wake) {
			if d := a.c.tr.wakeDelay(); d > 0 {
				if err := a.c.sleep(ctx, d, nil); err != nil {
					return err
				}
			}
		}
		if !closed(wake) || !a.c.hub.handedElsewhere(a.sub, a.token.String()) {
			return nil
		}
		// The lock went to a waiter ahead in the queue: try again when
		// its reservation runs out, unless its release wakes us first.
		wake = a.c.hub.wakeChan(a.sub)
		d = reserved + jitter(2*time.Millisecond)
	}
}

// unsubscribe gives back a's subscription, if it has one.
func (a *acquisition) unsubscribe() {
	if a.sub != nil {
		a.c.hub.unsubscribe(a.sub)
	}
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

// sleep waits for d, a value on wake, the end of ctx or Close.
func (c *Client) sleep(ctx context.Context, d time.Duration, wake <-chan struct{}) error {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-wake:
		return nil
	case <-ctx.Done():
		return ctxerr.From(ctx)
	case <-c.done:
		return errClosed
	}
}
