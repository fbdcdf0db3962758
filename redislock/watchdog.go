package redislock

import (
	"time"

	"github.com/codomyrmex/concurrency/internal/lease"
)

// run is the lease's goroutine: it renews the key every renewal interval if
// the lease has a watchdog, ends the lease when its validity runs out
// without a confirmed renewal, and ends it (releasing the key) when the
// holder's context ends, the Client is closed or the maximum hold time has
// passed. It returns when the lease has ended, and is stopped by Release.
// One timer serves the renewals, the validity and the maximum hold.
func (l *Lease) run() {
	defer l.c.group.Exit()
	defer l.core.Exit()

	var renewAt, maxHoldAt time.Time // zero: no watchdog, no maximum hold
	if l.cfg.Renew > 0 {
		renewAt = time.Now().Add(l.cfg.Renew)
	}
	if l.cfg.MaxHold > 0 {
		maxHoldAt = l.core.Granted().Add(l.cfg.MaxHold)
	}
	timer := time.NewTimer(l.core.UntilNext(renewAt, maxHoldAt))
	defer timer.Stop()

	var renewErr error // the last failed renewal, if none succeeded since
	for {
		select {
		case <-l.core.Stopped():
			return
		case <-l.core.Done():
			// The holder's context ended, or the lease has already
			// ended some other way (then finish does nothing).
			l.finish(l.core.Err())
			return
		case <-l.c.done:
			l.finish(errClosed)
			return
		case <-timer.C:
		}
		if !maxHoldAt.IsZero() && time.Until(maxHoldAt) <= 0 {
			l.finish(l.core.Lost(lease.ErrMaxHold))
			return
		}
		if !renewAt.IsZero() && time.Until(renewAt) <= 0 {
			ok, err := l.renew(l.core.Context())
			switch {
			case err != nil:
				l.core.RecordRenewal(err)
				// Retry soon, within the validity; the lease ends if
				// no retry gets through in time.
				renewErr = err
				renewAt = time.Now().Add(jitter(l.cfg.Renew / 4))
			case !ok:
				lost := l.core.Lost(errKeyGone)
				l.core.RecordRenewal(lost)
				l.core.End(lost)
				return
			default:
				l.core.RecordRenewal(nil)
				renewErr = nil
				renewAt = time.Now().Add(l.cfg.Renew)
			}
		}
		if l.core.Remaining() <= 0 { // Extend may have moved the validity
			l.core.End(l.core.Lost(lease.Expired(renewErr)))
			return
		}
		timer.Reset(l.core.UntilNext(renewAt, maxHoldAt))
	}
}
