package redislock

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/telemetry"
)

// errLateReply marks an acquire whose reply came after the lease's local
// validity had run out.
var errLateReply = errors.New("redislock: acquire reply arrived after the lease's validity")

// Obtain acquires the lock called name and returns its lease, waiting while
// another holder has it. The options override the Client's defaults for
// this lease.
//
// ctx bounds both the wait and the hold: if ctx ends before Obtain returns,
// Obtain fails with an error satisfying errors.Is(err, ctx.Err()) and
// errors.Is(err, context.Cause(ctx)), and the caller holds nothing (a grant
// that raced with the end of ctx is released by its token in the
// background). If ctx ends while the lease is held, the lease ends: it is
// released and its Done channel closes. To bound only the wait, pass a
// context derived from context.WithoutCancel, or use a Mutex.
//
// While the lock is held elsewhere, Obtain waits for the holder's release
// (published by the release script, so it is seen within about a round
// trip) or for the key's remaining TTL, whichever comes first, re-checking
// at least every 2s. Goroutines of one Client waiting for the same lock
// queue in FIFO order and only the first talks to Redis; it joins the
// lock's queue in Redis, where waiting Clients are served in the order they
// came (see the package documentation).
//
// A Redis call that fails for a transport error or a transient error reply
// (LOADING, BUSY, READONLY, OOM, ...) is retried with jittered backoff
// (from 10ms, doubling up to 1s) until ctx ends, with one bound that needs
// no deadline: with a go-redis client of one fixed address (a
// *redis.Client from redis.NewClient), once every call for 2s has failed
// to connect to the server (each after go-redis's own dial retries:
// Options.DialerRetries tries, 5 by default, each bounded by DialTimeout),
// Obtain fails with an error wrapping the last dial error, a *net.OpError
// (connection refused, or a dial timeout). Against a server that is down,
// an Obtain under a context without deadline thus returns after those 2s
// plus about one round of go-redis's dial retries, while a restart
// shorter than that is ridden out. A server that accepts connections but
// does not answer (stopped with SIGSTOP, stalled, or behind a proxy that
// does not forward) cannot be told from a slow one, and only ctx bounds
// the wait for it, as it does for clients that can reach another server
// after a failover (Sentinel failover, Cluster, Ring) and for a Redlock,
// which ride out servers that are down: give Obtain a deadline. Any other
// error reply (NOPERM, WRONGTYPE, ...) or a closed go-redis client fails
// the call at once.
//
// Errors: lock.ErrInvalidArgument for a bad name or option,
// lock.ErrClosed once the Client is closed, a *lock.TooManyWaitersError
// when the bound of WithMaxWaiters refuses the call, the context's error, and
// the Redis client's errors (wrapped) for the failures above.
func (c *Client) Obtain(ctx context.Context, name string, opts ...Option) (*Lease, error) {
	return c.obtain(ctx, ctx, name, true, opts)
}

// TryObtain is Obtain without waiting: it makes one attempt and fails with
// an error wrapping lock.ErrNotAcquired if another holder has the lock, a
// waiter queued in Redis is first in line for it (a release is handing it
// over, or it is free but a live waiter is queued), or another goroutine
// of this Client holds or waits for it. It does not queue. A failed Redis
// call is returned as it is. ctx bounds the attempt and the hold, as for
// Obtain.
func (c *Client) TryObtain(ctx context.Context, name string, opts ...Option) (*Lease, error) {
	return c.obtain(ctx, ctx, name, false, opts)
}

// A spec is what an acquisition needs to know about its lock: the name,
// its keys, the lease configuration and the lock's telemetry recorder.
type spec struct {
	name string
	k    keys
	cfg  config
	rec  *telemetry.Recorder // nil if telemetry is off
}

// spec validates a lock name and the options that override the Client's
// defaults for it.
func (c *Client) spec(name string, opts []Option) (spec, error) {
	cfg := c.cfg // validated by New
	if len(opts) > 0 {
		for _, o := range opts {
			o.apply(&cfg)
		}
		if err := cfg.validate(); err != nil {
			return spec{}, err
		}
	}
	k, err := cfg.keys(name)
	if err != nil {
		return spec{}, err
	}
	return spec{name: name, k: k, cfg: cfg, rec: c.recorder(name)}, nil
}

// obtain acquires a lease. ctx bounds the acquisition, holdCtx the lease.
func (c *Client) obtain(ctx, holdCtx context.Context, name string, wait bool, opts []Option) (*Lease, error) {
	s, err := c.spec(name, opts)
	if err != nil {
		return nil, err
	}
	return c.obtainSpec(ctx, holdCtx, &s, wait)
}

// obtainSpec acquires a lease on the lock that s describes, and records
// the acquisition.
func (c *Client) obtainSpec(ctx, holdCtx context.Context, s *spec, wait bool) (*Lease, error) {
	actx, a := startAcqRec(ctx, s.rec)
	l, err := c.obtainRec(actx, holdCtx, s, wait, &a)
	a.done(actx, err)
	return l, err
}

// obtainRec is obtainSpec, marking a as waiting when it has to wait.
func (c *Client) obtainRec(ctx, holdCtx context.Context, s *spec, wait bool, a *acqRec) (*Lease, error) {
	name, k, cfg := s.name, s.k, s.cfg
	if err := ctxerr.From(ctx); err != nil {
		return nil, err
	}
	if c.isClosed() {
		return nil, errClosed
	}
	q := c.queue(k.lock)
	if wait {
		if !q.waiters.Join(cfg.maxWaiters) {
			c.unqueue(k.lock, q)
			return nil, &lock.TooManyWaitersError{Lock: "redislock " + strconv.Quote(name), Max: cfg.maxWaiters}
		}
		defer q.waiters.Leave()
	}
	if err := c.lockLocal(ctx, q, name, wait, a); err != nil {
		c.unqueue(k.lock, q)
		return nil, err
	}
	l, err := c.acquire(ctx, holdCtx, name, k, cfg, q, wait, a)
	if err != nil {
		q.mu.Unlock()
		c.unqueue(k.lock, q)
		return nil, err
	}
	return l, nil
}

// lockLocal takes the lock's place in the local FIFO.
func (c *Client) lockLocal(ctx context.Context, q *localQueue, name string, wait bool, a *acqRec) error {
	if q.mu.TryLock() {
		return nil
	}
	if !wait {
		return fmt.Errorf("redislock: %q is held or awaited in this process: %w", name, lock.ErrNotAcquired)
	}
	a.wait(ctx)
	lctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(c.ctx, func() { cancel(errClosed) })
	defer stop()
	if err := q.mu.Lock(lctx); err != nil {
		if err := ctxerr.From(ctx); err != nil {
			return err
		}
		return errClosed
	}
	return nil
}

// acquire takes the lock in Redis for a new token, with the local FIFO
// place held.
func (c *Client) acquire(ctx, holdCtx context.Context, name string, k keys, cfg config, q *localQueue, wait bool, a *acqRec) (*Lease, error) {
	tok := newToken()
	entry := noQueue
	if wait {
		entry = queueEntry
	}
	var (
		t        *topic // the subscription, once we have had to wait
		inFlight bool   // some call may have taken the lock without telling us
		backoff  = minBackoff
		down     time.Time // since when every attempt failed to connect
	)
	defer func() {
		if t != nil {
			c.hub.unsubscribe(t)
		}
	}()
	fail := func(err error) (*Lease, error) {
		if inFlight {
			c.releaseLater(ctx, releaseCall{k, tok})
		}
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			tok = c.tr.retryToken(tok)
		}
		var wake <-chan struct{} // closed by a release after this attempt
		if t != nil {
			wake = c.hub.wakeChan(t)
		}
		start := time.Now() // before sending: the validity never outlasts the key
		o := c.tr.obtain(ctx, obtainCall{keys: k, token: tok, ttl: cfg.ttlArg, entry: entry})
		err := o.err
		if err != nil || o.queued {
			// The lock, or a place in its queue, may be ours.
			inFlight = true
		}
		if o.held {
			validUntil := start.Add(cfg.ttl - drift(cfg.ttl))
			if err := ctxerr.From(ctx); err != nil {
				c.giveBack(ctx, releaseCall{k, tok}, o.calls)
				return nil, err
			}
			if time.Until(validUntil) > 0 {
				l, err := c.newLease(holdCtx, name, k, tok, o.fence, cfg, q, a.r, start, validUntil)
				if err != nil {
					c.giveBack(ctx, releaseCall{k, tok}, o.calls)
					return nil, err
				}
				return l, nil
			}
			// Too late to use: the transport keeps the grant for the
			// next attempt to confirm, or gives it back.
			inFlight, err = true, errLateReply
			c.tr.lateGrant(ctx, releaseCall{k, tok}, o)
		}
		if err := ctxerr.From(ctx); err != nil {
			return fail(err)
		}
		if err != nil && !retryable(err) {
			return fail(fmt.Errorf("redislock: obtain %q: %w", name, err))
		}
		if o.down {
			if down.IsZero() {
				down = start
			} else if d := time.Since(down); d >= unreachableFor {
				return fail(fmt.Errorf("redislock: obtain %q: cannot connect to Redis for %v: %w", name, d.Round(time.Millisecond), err))
			}
		} else {
			down = time.Time{}
		}
		if !wait {
			if err != nil {
				return fail(fmt.Errorf("redislock: obtain %q: %w", name, err))
			}
			return fail(fmt.Errorf("redislock: %q is held by another token: %w", name, lock.ErrNotAcquired))
		}
		ctx = a.wait(ctx)

		var d time.Duration
		switch {
		case err != nil:
			d, backoff = jitter(backoff), min(2*backoff, maxBackoff)
		case t == nil:
			// Subscribe, then try again at once: a release published
			// before the server registered the subscription is missed.
			if t, err = c.hub.subscribe(ctx, k.lock); err == nil {
				continue
			}
			if errors.Is(err, lock.ErrClosed) {
				return fail(err)
			}
			if ctx.Err() != nil {
				return fail(ctxerr.From(ctx))
			}
			d, backoff = jitter(backoff), min(2*backoff, maxBackoff)
		default:
			backoff = minBackoff
			d = maxWait // also for a key without TTL
			if o.retryIn >= 0 {
				// Wake just after the key expires if nobody releases it.
				d = min(d, o.retryIn+jitter(2*time.Millisecond))
			}
		}
		for {
			if err := c.sleep(ctx, d, wake); err != nil {
				return fail(err)
			}
			if closed(wake) {
				if d := c.tr.wakeDelay(); d > 0 {
					if err := c.sleep(ctx, d, nil); err != nil {
						return fail(err)
					}
				}
			}
			if !closed(wake) || !c.hub.handedElsewhere(t, tok.String()) {
				break
			}
			// The lock went to a waiter ahead in the queue: try
			// again when its reservation runs out, unless its
			// release wakes us first.
			wake = c.hub.wakeChan(t)
			d = reserved + jitter(2*time.Millisecond)
		}
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
