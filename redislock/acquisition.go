package redislock

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
	"github.com/codomyrmex/concurrency/internal/lease"
	"github.com/codomyrmex/concurrency/lock"
)

// errLateReply marks an acquire whose reply came after the lease's local
// validity had run out.
var errLateReply = errors.New("redislock: acquire reply arrived after the lease's validity")

// An acquisition is one call that takes a lease: Obtain, TryObtain,
// Mutex.Lock or Mutex.TryLock of a mutex, which take their turn in the
// Client's local FIFO for the lock first; a semaphore's Acquire or
// TryAcquire; an RW lock's ObtainRead, ObtainWrite and their Try forms. It
// takes its target in Redis, attempt after attempt, until it holds a lease
// or fails. It is used by one goroutine, and holds no pointer to its
// caller's stack, so that it stays on that stack.
type acquisition struct {
	c       *Client
	s       spec
	holdCtx context.Context // bounds the lease
	wait    bool            // wait while the lock is held (Obtain, Lock), or make one attempt
	waited  bool            // the acquisition has been recorded as contended
	q       *localQueue     // the target's local FIFO, once joined
	l       *Lease          // the lease it grants: its keys and first token are the calls' arguments

	token    token         // the current attempt's
	inFlight bool          // an attempt may have taken the lock, or queued the token, without telling us
	backoff  time.Duration // the next delay after a failed call
	down     time.Time     // since when every attempt failed to connect, if they did
	w        *waiter       // registered in the hub once a's token may queue (single transport only)
	timer    *time.Timer   // for the waits between attempts, made by the first
}

// acquire obtains a lease on the target that s describes, and records the
// acquisition. ctx bounds the acquisition, holdCtx the lease.
// Every acquisition goes over the network, so each is recorded as a wait
// (a span from the call to its outcome); one that has to wait for another
// holder also counts a contention (see contended).
func (c *Client) acquire(ctx, holdCtx context.Context, s *spec, wait bool) (*Lease, error) {
	a := acquisition{c: c, s: *s, holdCtx: holdCtx, wait: wait, backoff: minBackoff}
	var l *Lease
	_, _, err := s.rec.WaitFor(ctx, s.weight, false, func(ctx context.Context) (err error) {
		l, err = a.run(ctx)
		return err
	})
	return l, err
}

// contended records, once, that a has to wait for another holder: a
// contention, and the event "lock contended" on the span in ctx. It
// returns ctx.
func (a *acquisition) contended(ctx context.Context) context.Context {
	if !a.waited {
		a.waited = true
		a.s.rec.Contended(ctx)
	}
	return ctx
}

// run takes a's turn in the local FIFO (a mutex's), then the target in
// Redis. On success a mutex's lease keeps the turn until it is released.
// Acquisitions of a semaphore or an RW lock do not take turns: each
// queues in Redis on its own, and the local FIFO only counts them for
// WithMaxWaiters.
func (a *acquisition) run(ctx context.Context) (*Lease, error) {
	c, key := a.c, a.s.local
	if err := ctxerr.From(ctx); err != nil {
		return nil, err
	}
	if c.isClosed() {
		return nil, errClosed
	}
	a.q = c.queue(key)
	defer c.unqueue(key, a.q) // a lease counts itself in (see lease)
	if a.wait {
		if n := a.s.cfg.maxWaiters; !a.q.waiters.Join(n) {
			return nil, &lock.TooManyWaitersError{Lock: "redislock " + strconv.Quote(a.s.name), Max: n}
		}
		defer a.q.waiters.Leave()
	}
	if a.s.t != nil {
		return a.takeLock(ctx)
	}
	if err := a.lockLocal(ctx); err != nil {
		return nil, err
	}
	l, err := a.takeLock(ctx)
	if err != nil {
		a.q.mu.Unlock()
		return nil, err
	}
	return l, nil
}

// takeLock takes the target in Redis, with a's turn in the local FIFO
// held if it is a mutex: it makes attempts through the Client's transport
// until one, or a grant that a release handed to a's token while it was
// queued, becomes a lease, or the acquisition fails (see next).
func (a *acquisition) takeLock(ctx context.Context) (*Lease, error) {
	a.l = &Lease{c: a.c, k: a.s.k, t: a.s.t, weight: a.s.weight, cfg: a.s.cfg, first: rand.Text(), sched: schedule{slot: -1}}
	if a.s.t == nil { // a mutex: the lease keeps the turn
		a.l.t, a.l.q = &a.l.k, a.q
	}
	a.l.token = &a.l.first
	a.token = a.l.token
	defer a.leave()
	if a.wait && a.c.tr.queues() && a.c.hub.isUp() {
		a.join()
	}
	for n := 0; ; n++ {
		if n > 0 {
			a.token = a.c.tr.retryToken(a.token)
		}
		sent := time.Now() // before sending: the validity never outlasts the key
		o := a.c.tr.obtain(ctx, a.acquireCall(sent))
		if o.err != nil || o.queued {
			a.inFlight = true // the lock, or a place in its queue, may be ours
		}
		if o.held {
			l, err := a.lease(ctx, o.fence, sent, a.s.cfg.TTL, false)
			switch {
			case err == nil:
				return l, nil
			case err != errLateReply:
				a.c.giveBack(ctx, a.releaseCall(), o.calls)
				return nil, err
			}
			// Too late to use: the transport keeps the grant for the
			// next attempt to confirm, or gives it back.
			a.inFlight, o.err = true, err
			a.c.tr.lateGrant(ctx, a.releaseCall(), o)
		}
		g, err := a.next(ctx, o, sent)
		if err != nil {
			return nil, a.fail(ctx, err)
		}
		switch {
		case g.fence > 0:
			l, err := a.fromGrant(ctx, g)
			if l != nil || err != nil {
				return l, err
			}
		case g.fence < 0: // a semaphore shrunk below the weight
			return nil, a.fail(ctx, weightError(a.s.name, a.s.weight, g.size))
		}
	}
}

// acquireCall is the acquire script's call for a's current attempt, sent
// at sent: one that queues the token once a has joined the hub.
func (a *acquisition) acquireCall(sent time.Time) acquireCall {
	call := acquireCall{t: a.l.t, token: a.token, ttl: a.s.cfg.ttlArg, weight: a.s.weightArg, entry: noEntry, channel: noChannel, stamp: noStamp}
	if a.w != nil {
		call.entry, call.channel, call.stamp = a.s.cfg.entry, a.c.hub.channelArg(), a.c.hub.stamp(sent)
	}
	return call
}

// releaseCall is the release script's call for a's current token.
func (a *acquisition) releaseCall() releaseCall {
	return releaseCall{t: a.l.t, token: a.token}
}

// join registers a's token in the hub, so that a grant for it reaches a,
// before the attempt that may queue it.
func (a *acquisition) join() {
	a.w = a.c.hub.register(*a.token)
}

// leave unregisters a's token from the hub, if join registered it.
func (a *acquisition) leave() {
	if a.w != nil {
		a.c.hub.unregister(*a.token, a.w)
		a.w = nil
	}
	if a.timer != nil {
		a.timer.Stop()
	}
}

// fromGrant turns grant g, which a release handed to a's token, into a's
// lease, if its stamp proves at least a third of the entry's lifetime of
// validity (the time between two queue refreshes), so that the lease's
// first renewal has time to land. Otherwise (a message that came late, or
// an old one) it returns neither lease nor error, and the next attempt
// claims the lock with a round trip if the grant still stands. An error
// fails the acquisition, which gives the grant back.
func (a *acquisition) fromGrant(ctx context.Context, g grant) (*Lease, error) {
	entry := a.s.cfg.entry.duration()
	if time.Until(lease.ValidUntil(g.sent, entry)) < entry/3 {
		return nil, nil
	}
	switch l, err := a.lease(ctx, g.fence, g.sent, entry, true); err {
	case nil:
		return l, nil
	case errLateReply:
		return nil, nil
	default:
		return nil, a.fail(ctx, err)
	}
}

// lease turns a grant into a's lease: the lock with fence, the key's TTL
// set to ttl by a request sent at start (see Lease for the validity), and
// handed over by a release if handed. It fails with the context's error if
// ctx has ended, with errLateReply if the validity has already run out,
// and with errClosed if the Client is closed.
func (a *acquisition) lease(ctx context.Context, fence int64, start time.Time, ttl time.Duration, handed bool) (*Lease, error) {
	if err := ctxerr.From(ctx); err != nil {
		return nil, err
	}
	if time.Until(lease.ValidUntil(start, ttl)) <= 0 {
		return nil, errLateReply
	}
	l := a.l
	if l.token != a.token { // a later Redlock attempt
		l.token = a.token
	}
	l.fence = fence
	l.core.Start(a.holdCtx, backend, a.s.name, a.s.rec)
	l.core.Weigh(a.s.weight)
	l.core.ValidFrom(start, ttl)
	if handed {
		l.core.Hold(time.Now())
	} else {
		l.core.Hold(start)
	}
	// A mutex's lease counts itself in the local FIFO on its own: it may
	// end, and give its turn back, before run has counted a out.
	if l.q != nil {
		a.c.hold(l.q)
	}
	if !a.c.renewer.add(l, handed) {
		l.core.End(errClosed)
		if l.q != nil {
			a.c.unqueue(a.s.local, l.q)
		}
		return nil, errClosed
	}
	if holdCtx := a.holdCtx; holdCtx.Done() != nil {
		stop := context.AfterFunc(holdCtx, func() {
			if l.c.group.Track() { // else Close ends the lease
				defer l.c.group.Exit()
				l.finish(context.Cause(holdCtx))
			}
		})
		l.holdStop.Store(&stop)
	}
	return l, nil
}

// next decides, after attempt o (sent at sent) did not become a lease,
// whether the acquisition goes on, and waits until its next attempt is due
// or a release hands the lock to its token (a grant with a positive
// fence). It returns why the acquisition fails: ctx ended, a Redis error
// that retrying will not cure, a server that could not be reached for
// unreachableFor, or, for an acquisition that does not wait, the lock held
// by another token (or any failure of the one attempt).
func (a *acquisition) next(ctx context.Context, o attempt, sent time.Time) (grant, error) {
	name := a.s.name
	if err := ctxerr.From(ctx); err != nil {
		return grant{}, err
	}
	if o.err != nil && !retryable(o.err) {
		if errors.Is(o.err, lock.ErrInvalidArgument) { // a weight above the size
			return grant{}, o.err
		}
		return grant{}, fmt.Errorf("redislock: obtain %q: %w", name, o.err)
	}
	if !o.down {
		a.down = time.Time{}
	} else if a.down.IsZero() {
		a.down = sent
	} else if d := time.Since(a.down); d >= unreachableFor {
		return grant{}, fmt.Errorf("redislock: obtain %q: cannot connect to Redis for %v: %w", name, d.Round(time.Millisecond), o.err)
	}
	if !a.wait {
		if o.err != nil {
			return grant{}, fmt.Errorf("redislock: obtain %q: %w", name, o.err)
		}
		return grant{}, a.l.t.busy(name, a.s.weight)
	}
	return a.pause(a.contended(ctx), o)
}

// fail ends an acquisition that did not get the lock, releasing in the
// background what its attempts may have taken (the lock, a place in the
// queue, a grant: the release hands it on), and returns err.
func (a *acquisition) fail(ctx context.Context, err error) error {
	if a.inFlight {
		a.c.releaseLater(ctx, a.releaseCall())
	}
	return err
}
