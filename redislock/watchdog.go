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
func (l *Lease) run() {
	defer l.c.wg.Done()
	defer close(l.exited)

	valid := time.NewTimer(l.remaining())
	defer valid.Stop()
	var renewC <-chan time.Time
	var renew *time.Timer
	if l.cfg.renew > 0 {
		renew = time.NewTimer(l.cfg.renew)
		defer renew.Stop()
		renewC = renew.C
	}
	var maxHoldC <-chan time.Time
	if l.cfg.maxHold > 0 {
		t := time.NewTimer(time.Until(l.granted.Add(l.cfg.maxHold)))
		defer t.Stop()
		maxHoldC = t.C
	}

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
		case <-maxHoldC:
			l.finish(l.lost(errMaxHold))
			return
		case <-valid.C:
			if d := l.remaining(); d > 0 { // Extend moved the validity
				valid.Reset(d)
				continue
			}
			reason := errExpired
			if renewErr != nil {
				reason = fmt.Errorf("no renewal confirmed before the lease's validity ran out: %w", renewErr)
			}
			l.end(l.lost(reason))
			return
		case <-renewC:
			ok, err := l.extend(l.ctx)
			switch {
			case err != nil:
				// Retry soon, within the validity; valid ends the
				// lease if no retry gets through in time.
				renewErr = err
				renew.Reset(jitter(l.cfg.renew / 4))
			case !ok:
				l.end(l.lost(errKeyGone))
				return
			default:
				renewErr = nil
				renew.Reset(l.cfg.renew)
				valid.Reset(l.remaining())
			}
		}
	}
}
