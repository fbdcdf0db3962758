package etcdlock

import (
	"context"
	"errors"
	"time"

	"github.com/codomyrmex/concurrency/internal/lease"
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
	defer l.c.group.Exit()
	defer l.core.Exit()

	renewAt := time.Now().Add(l.cfg.Renew)
	var maxHoldAt time.Time  // zero: no maximum hold, or not held yet
	var gone <-chan struct{} // closed when the key is seen deleted
	heldCh := l.heldCh       // nil once the lock is held
	wctx, stopWatch := context.WithCancel(l.Context())
	watched := make(chan struct{}) // closed when the watch has returned
	defer func() {
		stopWatch()
		if heldCh == nil {
			<-watched
		}
	}()
	timer := time.NewTimer(l.core.UntilNext(renewAt, maxHoldAt))
	defer timer.Stop()

	var renewErr error // the last failed renewal, if none succeeded since
	for {
		select {
		case <-l.core.Stopped():
			return
		case <-l.Done():
			// The holder's context ended, or the lease has already
			// ended some other way (then finish does nothing).
			l.finish(l.Err())
			return
		case <-l.c.group.Context().Done():
			l.finish(errClosed)
			return
		case <-heldCh:
			heldCh = nil
			if l.cfg.MaxHold > 0 {
				maxHoldAt = l.core.Granted().Add(l.cfg.MaxHold)
			}
			if l.cfg.Fixed {
				renewAt = time.Time{}
			}
			ch := make(chan struct{})
			gone = ch
			go func() {
				defer close(watched)
				if l.c.waitDelete(wctx, l.key, l.fence, l.seenRev) == nil {
					close(ch)
				}
			}()
		case <-gone:
			l.finish(l.core.Lost(errKeyGone))
			return
		case <-timer.C:
		}
		if !maxHoldAt.IsZero() && time.Until(maxHoldAt) <= 0 {
			l.finish(l.core.Lost(lease.ErrMaxHold))
			return
		}
		if !renewAt.IsZero() && time.Until(renewAt) <= 0 {
			err := l.keepAlive(l.Context())
			l.core.RecordRenewal(err)
			switch {
			case errors.Is(err, errLeaseGone):
				l.finish(l.core.Lost(err))
				return
			case err != nil:
				// Retry soon, within the validity; the lease ends if
				// no retry gets through in time.
				renewErr = err
				renewAt = time.Now().Add(jitter(l.cfg.Renew / 4))
			default:
				renewErr = nil
				renewAt = time.Now().Add(l.cfg.Renew)
			}
		}
		if l.core.Remaining() <= 0 { // Extend may have moved the validity
			l.finish(l.core.Lost(lease.Expired(renewErr)))
			return
		}
		timer.Reset(l.core.UntilNext(renewAt, maxHoldAt))
	}
}
