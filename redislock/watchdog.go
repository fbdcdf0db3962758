package redislock

import (
	"context"
	"fmt"
	"time"
)

// run is the lease's goroutine: it renews the key every renewal interval if
// the lease has a watchdog, ends the lease when its validity runs out
// without a confirmed renewal, and ends it (releasing the key) when the
// holder's context ends, the Client is closed or the maximum hold time has
// passed. It returns when the lease has ended, and is stopped by Release.
// One timer serves the renewals, the validity and the maximum hold.
func (l *Lease) run() {
	defer l.c.wg.Done()
	defer close(l.exited)

	var renewAt, maxHoldAt time.Time // zero: no watchdog, no maximum hold
	if l.cfg.renew > 0 {
		renewAt = time.Now().Add(l.cfg.renew)
	}
	if l.cfg.maxHold > 0 {
		maxHoldAt = l.granted.Add(l.cfg.maxHold)
	}
	timer := time.NewTimer(l.untilNext(renewAt, maxHoldAt))
	defer timer.Stop()

	var renewErr error // the last failed renewal, if none succeeded since
	for {
		select {
		case <-l.stop:
			return
		case <-l.ctx.Done():
			// The holder's context ended, or the lease has already
			// ended some other way (then finish does nothing).
			l.finish(context.Cause(l.ctx))
			return
		case <-l.c.done:
			l.finish(errClosed)
			return
		case <-timer.C:
		}
		if !maxHoldAt.IsZero() && time.Until(maxHoldAt) <= 0 {
			l.finish(l.lost(errMaxHold))
			return
		}
		if !renewAt.IsZero() && time.Until(renewAt) <= 0 {
			ok, err := l.renew(l.ctx)
			switch {
			case err != nil:
				l.rec.Renewed(l.ctx, err)
				// Retry soon, within the validity; the lease ends if
				// no retry gets through in time.
				renewErr = err
				renewAt = time.Now().Add(jitter(l.cfg.renew / 4))
			case !ok:
				lost := l.lost(errKeyGone)
				l.rec.Renewed(l.ctx, lost)
				l.end(lost)
				return
			default:
				l.rec.Renewed(l.ctx, nil)
				renewErr = nil
				renewAt = time.Now().Add(l.cfg.renew)
			}
		}
		if l.remaining() <= 0 { // Extend may have moved the validity
			reason := errExpired
			if renewErr != nil {
				reason = fmt.Errorf("no renewal confirmed before the lease's validity ran out: %w", renewErr)
			}
			l.end(l.lost(reason))
			return
		}
		timer.Reset(l.untilNext(renewAt, maxHoldAt))
	}
}

// untilNext returns the time until the lease's next event: the end of its
// validity, or the renewal or maximum hold time if set and earlier.
func (l *Lease) untilNext(renewAt, maxHoldAt time.Time) time.Duration {
	d := l.remaining()
	if !renewAt.IsZero() {
		d = min(d, time.Until(renewAt))
	}
	if !maxHoldAt.IsZero() {
		d = min(d, time.Until(maxHoldAt))
	}
	return d
}
