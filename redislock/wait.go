package redislock

import (
	"context"
	"time"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
)

// pause waits until the attempt after o is due, or until a release hands
// the lock to a's token, and then returns the grant. After a failed call
// it waits a backoff. The first time the lock is held elsewhere, a
// waiter that queues (single transport) makes sure the Client's
// subscription is up, joins the hub, and tries again at once, now
// queueing its token. A queued waiter then waits for its grant, its next
// queue refresh (a third of the entry's lifetime, so that the entry
// outlives a lost refresh), the key's expiry (a holder that died without
// releasing), or the hub's word that the subscription broke or came back.
// A Redlock waiter polls (see redlock).
func (a *acquisition) pause(ctx context.Context, o attempt) (grant, error) {
	var d time.Duration
	switch {
	case o.err != nil:
		d, a.backoff = jitter(a.backoff), min(2*a.backoff, maxBackoff)
	case !a.c.tr.queues():
		d, a.backoff = jitter(a.backoff), min(2*a.backoff, redlockPoll)
		if o.retryIn >= 0 {
			d = min(d, o.retryIn)
		}
	case a.w == nil:
		if err := a.c.hub.await(ctx, a.s.cfg.entry.duration()/3); err != nil {
			return grant{}, err
		}
		a.join()
		return grant{}, nil
	default:
		a.backoff = minBackoff
		d = a.s.cfg.entry.duration() / 3
		if o.retryIn >= 0 {
			// Wake just after the key expires if nobody releases it.
			d = min(d, o.retryIn+jitter(2*time.Millisecond))
		}
	}
	return a.sleep(ctx, d)
}

// sleep waits for d, a grant or a word from the hub (if a has joined it),
// the end of ctx or Close.
func (a *acquisition) sleep(ctx context.Context, d time.Duration) (grant, error) {
	if a.timer == nil {
		a.timer = time.NewTimer(d)
	} else {
		a.timer.Reset(d)
	}
	var (
		grants <-chan grant
		checks <-chan struct{}
	)
	if a.w != nil {
		grants, checks = a.w.grant, a.w.check
	}
	select {
	case g := <-grants:
		return g, nil
	case <-checks:
	case <-a.timer.C:
	case <-ctx.Done():
		return grant{}, ctxerr.From(ctx)
	case <-a.c.done:
		return grant{}, errClosed
	}
	return grant{}, nil
}
