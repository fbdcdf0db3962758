package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
	"github.com/codomyrmex/concurrency/lock"
)

// Obtain acquires the lock called name and returns its lease, waiting while
// another holder has it. The options override the Client's defaults for
// this lease.
//
// ctx bounds both the wait and the hold: if ctx ends before Obtain returns,
// Obtain fails with an error satisfying errors.Is(err, ctx.Err()) and
// errors.Is(err, context.Cause(ctx)), and the caller holds nothing: its key
// is deleted (its etcd lease revoked) in the background, so the waiters
// behind it move up. If ctx ends while the lease is held, the lease ends:
// it is released and its Done channel closes. To bound only the wait, pass
// a context derived from context.WithoutCancel, or use a Mutex.
//
// Obtain grants an etcd lease, puts a key attached to it under the lock's
// prefix, and holds the lock once its key is the oldest there: callers are
// served in the order their keys were created (FIFO), across Clients and
// processes. A caller that is not first watches only the key just before
// its own, so a release wakes one waiter, and nobody polls. After every
// wait, one linearizable read confirms that the caller's key still exists
// and that none older does. A waiter whose etcd lease ends while it waits
// (its renewals failed for longer than the TTL) starts again with a new
// one, at the back of the queue.
//
// An etcd call that fails because the cluster is unavailable, has no
// leader, timed out or is overloaded is retried with jittered backoff (from
// 10ms, doubling up to 1s) until ctx ends; the etcd client itself waits
// for a connection while none is ready. Against a cluster that cannot be
// reached, only ctx bounds Obtain: give it a deadline. Any other error
// reply (permission denied, say) or a closed etcd client fails the call at
// once.
//
// Errors: lock.ErrInvalidArgument for a bad name or option, lock.ErrClosed
// once the Client is closed, a *lock.TooManyWaitersError when the bound of
// WithMaxWaiters refuses the call, the context's error, and the etcd
// client's errors (wrapped) for the failures above.
func (c *Client) Obtain(ctx context.Context, name string, opts ...Option) (*Lease, error) {
	return c.obtain(ctx, ctx, name, true, opts)
}

// TryObtain is Obtain without waiting: it makes one attempt and fails with
// an error wrapping lock.ErrNotAcquired if another holder has the lock or
// an older waiter is queued for it (its key is then deleted at once). A
// failed etcd call is returned as it is. ctx bounds the attempt and the
// hold, as for Obtain. It costs three etcd writes whether it succeeds or
// not: the lease's grant, the key's put, and the revocation that releases
// it or gives up.
func (c *Client) TryObtain(ctx context.Context, name string, opts ...Option) (*Lease, error) {
	return c.obtain(ctx, ctx, name, false, opts)
}

// A spec is what an acquisition needs to know about its lock: the name,
// its key prefix, the lease configuration and the lock's telemetry
// recorder.
type spec struct {
	name string
	dir  string
	cfg  config
	rec  recorder
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
	dir, err := cfg.dir(name)
	if err != nil {
		return spec{}, err
	}
	return spec{name: name, dir: dir, cfg: cfg, rec: c.recs.Get(name)}, nil
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
	if err := ctxerr.From(ctx); err != nil {
		return nil, err
	}
	if c.group.Context().Err() != nil {
		return nil, errClosed
	}
	if wait {
		if !c.joinWaiters(s.name, s.cfg.maxWaiters) {
			return nil, &lock.TooManyWaitersError{Lock: "etcdlock " + strconv.Quote(s.name), Max: s.cfg.maxWaiters}
		}
		defer c.leaveWaiters(s.name)
	}
	backoff := minBackoff
	for {
		l, err := c.attempt(ctx, holdCtx, s, wait, a)
		if err == nil {
			return l, nil
		}
		if !wait || !retryable(err) {
			if errors.Is(err, lock.ErrNotAcquired) || errors.Is(err, lock.ErrClosed) || ctx.Err() != nil {
				return nil, err
			}
			return nil, fmt.Errorf("etcdlock: obtain %q: %w", s.name, err)
		}
		if errors.Is(err, errRequeue) {
			backoff = minBackoff
		}
		if err := c.sleep(ctx, jitter(backoff)); err != nil {
			return nil, err
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// attempt takes the lock with a new etcd lease, waiting for its turn if
// wait is set. A failed attempt leaves no key behind: its etcd lease is
// revoked in the background.
func (c *Client) attempt(ctx, holdCtx context.Context, s *spec, wait bool, a *acqRec) (*Lease, error) {
	start := time.Now() // before sending: the validity never outlasts the etcd lease
	g, err := c.cli.Grant(ctx, int64(s.cfg.TTL/time.Second))
	if err != nil {
		if cerr := ctxerr.From(ctx); cerr != nil {
			return nil, cerr
		}
		return nil, err
	}
	l, err := c.newLease(holdCtx, s, g, start)
	if err != nil {
		c.revoke(ctx, g.ID)
		return nil, err
	}
	// The wait ends with ctx or with the lease (lost, Client closed, or
	// holdCtx done).
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	stop := context.AfterFunc(l.Context(), func() { cancel(l.Err()) })
	defer stop()

	seen, err := c.take(wctx, l, wait, a)
	if err == nil {
		if l.core.Remaining() <= 0 {
			err = fmt.Errorf("%w: its validity ran out as it was granted", errRequeue)
		} else if l.Err() == nil {
			l.seenRev = seen
			l.core.Hold(time.Now())
			close(l.heldCh)
			return l, nil
		}
	}
	if l.core.End(errAbandoned) {
		c.revokeAsync(ctx, l.id)
	}
	switch cause := l.Err(); {
	case ctx.Err() != nil:
		return nil, ctxerr.From(ctx)
	case errors.Is(cause, lock.ErrClosed):
		return nil, errClosed
	case errors.Is(cause, lock.ErrLockLost):
		return nil, fmt.Errorf("%w: %w", errRequeue, cause)
	case err == nil:
		// The lease ended as it was granted.
		return nil, fmt.Errorf("%w: %w", errRequeue, cause)
	}
	return nil, err
}

// take puts l's key and, if wait is set, waits for its turn. It returns the
// revision at which the key was seen to hold the lock, and sets l.fence.
func (c *Client) take(ctx context.Context, l *Lease, wait bool, a *acqRec) (int64, error) {
	backoff := minBackoff
	for {
		rev, first, seen, err := c.enqueue(ctx, l)
		if err == nil {
			l.fence = rev
			if first {
				return seen, nil
			}
			if !wait {
				return 0, fmt.Errorf("etcdlock: %q is held or awaited by another lease: %w", l.Name(), lock.ErrNotAcquired)
			}
			a.wait(ctx)
			return c.waitTurn(ctx, l, rev)
		}
		if cerr := ctxerr.From(ctx); cerr != nil {
			return 0, cerr
		}
		if errors.Is(err, rpctypes.ErrLeaseNotFound) {
			return 0, fmt.Errorf("%w: %w", errRequeue, err)
		}
		if !wait || !retryable(err) {
			return 0, err
		}
		// The put may have been applied: retrying it with the same key
		// is safe (see enqueue).
		if err := c.sleep(ctx, jitter(backoff)); err != nil {
			return 0, err
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// newLease starts the goroutine of the lease of a new acquisition, whose
// etcd lease g was granted by a request sent at start.
func (c *Client) newLease(holdCtx context.Context, s *spec, g *clientv3.LeaseGrantResponse, start time.Time) (*Lease, error) {
	l := &Lease{
		c: c, dir: s.dir, key: s.dir + fmt.Sprintf("%016x", int64(g.ID)),
		id: g.ID, cfg: s.cfg, heldCh: make(chan struct{}),
	}
	l.core.Start(holdCtx, backend, s.name, s.rec)
	l.core.Watch()
	l.core.ValidFrom(start, time.Duration(g.TTL)*time.Second)
	if !c.group.Track() {
		l.core.End(errClosed)
		return nil, errClosed
	}
	go l.run()
	return l, nil
}
