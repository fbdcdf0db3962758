package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// run is the lease's goroutine, from the grant of its etcd lease: it
// renews the etcd lease every renewal interval (while the call waits for
// the lock, and then while held if the lease has a watchdog), ends the
// lease when its validity runs out without a confirmed renewal, and ends
// it (revoking the etcd lease) when the holder's context ends, the Client
// is closed, etcd no longer has the etcd lease, or the maximum hold time
// has passed. Once the lock is held it also watches the lease's key, and
// ends the lease when the key is deleted. It returns when the lease has
// ended, and is stopped by Release. One timer serves the renewals, the
// validity and the maximum hold.
func (l *Lease) run() {
	defer l.c.wg.Done()
	defer close(l.exited)

	renewAt := time.Now().Add(l.cfg.renew)
	var maxHoldAt time.Time  // zero: no maximum hold, or not held yet
	var gone <-chan struct{} // closed when the key is seen deleted
	heldCh := l.heldCh       // nil once the lock is held
	wctx, stopWatch := context.WithCancel(l.ctx)
	watched := make(chan struct{}) // closed when the watch has returned
	defer func() {
		stopWatch()
		if heldCh == nil {
			<-watched
		}
	}()
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
		case <-l.c.ctx.Done():
			l.finish(errClosed)
			return
		case <-heldCh:
			heldCh = nil
			if l.cfg.maxHold > 0 {
				maxHoldAt = l.granted.Add(l.cfg.maxHold)
			}
			if l.cfg.fixed {
				renewAt = time.Time{}
			}
			ch := make(chan struct{})
			gone = ch
			go func() {
				defer close(watched)
				if l.c.waitDelete(wctx, l.key, l.fence, l.seenRev+1) == nil {
					close(ch)
				}
			}()
		case <-gone:
			l.finish(l.lost(errKeyGone))
			return
		case <-timer.C:
		}
		if !maxHoldAt.IsZero() && time.Until(maxHoldAt) <= 0 {
			l.finish(l.lost(errMaxHold))
			return
		}
		if !renewAt.IsZero() && time.Until(renewAt) <= 0 {
			err := l.keepAlive(l.ctx)
			l.recordRenewal(err)
			switch {
			case errors.Is(err, errLeaseGone):
				l.finish(l.lost(err))
				return
			case err != nil:
				// Retry soon, within the validity; the lease ends if
				// no retry gets through in time.
				renewErr = err
				renewAt = time.Now().Add(jitter(l.cfg.renew / 4))
			default:
				renewErr = nil
				renewAt = time.Now().Add(l.cfg.renew)
			}
		}
		if l.remaining() <= 0 { // Extend may have moved the validity
			reason := errExpired
			if renewErr != nil {
				reason = fmt.Errorf("no renewal confirmed before the lease's validity ran out: %w", renewErr)
			}
			l.finish(l.lost(reason))
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
