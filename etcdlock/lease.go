package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
	"github.com/codomyrmex/concurrency/lock"
)

// Reasons a lease ends before its holder releases it. The errors the
// package reports wrap them in an error that wraps lock.ErrLockLost.
var (
	errKeyGone   = errors.New("the lock's key was deleted")
	errLeaseGone = errors.New("etcd no longer has the lease (it expired or was revoked)")
	errExpired   = errors.New("the lease's TTL ran out")
	errMaxHold   = errors.New("held past the maximum hold time")
	errReleased  = fmt.Errorf("etcdlock: lease released: %w", lock.ErrNotHeld)
	errAbandoned = errors.New("etcdlock: acquisition abandoned")
)

// A Lease is one holding of a lock, from a successful Obtain until Release
// or until it is lost. Its methods are safe for concurrent use.
//
// Each acquisition has its own etcd lease, to which its key is attached.
// The Lease is valid, by the local clock, until its validity runs out:
// Validity counts down from the etcd lease's TTL minus a drift margin,
// starting *before* the request that granted or last renewed the etcd
// lease was sent, on the monotonic clock, so it never outlasts the etcd
// lease on a cluster whose clocks run at the same rate. A lease with a
// watchdog (the default) renews the etcd lease every renewal interval; a
// lease with WithTTL only when Extend is called.
//
// The lease ends when it is released, when its holder's context (the one
// given to Obtain) ends, when the Client is closed, after WithMaxHold, or
// when it is lost: its key is deleted (seen by a watch on it, within about
// a round trip), etcd answers a renewal that the etcd lease is gone, or no
// renewal is confirmed before the validity runs out. Then Done is closed,
// the lease's Context is cancelled, and Err says why: an error wrapping
// lock.ErrLockLost when it was lost. A lease that ends for any reason but
// Release revokes its etcd lease, so that the next waiter need not wait
// for the TTL.
//
// A lease does not make the holder's work exclusive by itself: see the
// package documentation, IsOwner and Fence.
type Lease struct {
	c    *Client
	name string
	dir  string // the lock's key prefix
	key  string // dir + the etcd lease ID in hex
	id   clientv3.LeaseID
	cfg  config
	rec  recorder

	// Set before heldCh is closed, read-only after.
	fence   int64     // the key's create revision
	seenRev int64     // a revision at which the key was seen to hold the lock
	granted time.Time // when the lock was seen to be held

	ctx    context.Context // cancelled, with the reason, when the lease ends
	cancel context.CancelCauseFunc
	heldCh chan struct{} // closed when the lock is granted
	stop   chan struct{} // closed by Release: the goroutine must return
	exited chan struct{} // closed when the goroutine has returned

	mu         sync.Mutex
	validUntil time.Time // monotonic
	ended      bool      // the lease has ended; ctx is cancelled
	released   bool      // Release has been called

	releaseRec sync.Once // records the end of the hold
}

// Name returns the name of the lock.
func (l *Lease) Name() string { return l.name }

// Key returns the lease's key in etcd: the lock's prefix followed by the
// etcd lease ID in 16 hexadecimal digits.
func (l *Lease) Key() string { return l.key }

// Fence returns the lease's fencing token: the create revision of its key
// in etcd. The lock's holders hold it in the order of their tokens (FIFO),
// so the tokens of one lock increase strictly from holder to holder; a
// revision is never issued twice by a cluster, across leader changes and
// restarts, as long as the cluster keeps its data. Pass it with every
// write to the protected resource, which must reject a token lower than
// one it has already accepted; for state kept in the same etcd cluster,
// use IsOwner instead.
func (l *Lease) Fence() int64 { return l.fence }

// IsOwner returns the comparison that holds in an etcd transaction if and
// only if this lease's key still exists as it was created, that is, while
// the lease holds the lock:
//
//	cli.Txn(ctx).If(lease.IsOwner()).Then(clientv3.OpPut(k, v)).Commit()
//
// commits the put only if the lease has not been lost, atomically with
// the check (resp.Succeeded says which). A holder that was paused past its
// lease, and whose lock another holder has taken since, cannot write with
// it.
func (l *Lease) IsOwner() clientv3.Cmp {
	return clientv3.Compare(clientv3.CreateRevision(l.key), "=", l.fence)
}

// Done returns a channel that is closed when the lease ends, for whatever
// reason. Err tells the reason.
func (l *Lease) Done() <-chan struct{} { return l.ctx.Done() }

// Err returns nil while the lease is held. Once Done is closed it returns
// why the lease ended: an error wrapping lock.ErrLockLost if it was lost or
// reached its maximum hold time, one wrapping lock.ErrNotHeld after
// Release, lock.ErrClosed after Client.Close, or the cause of the holder's
// context.
func (l *Lease) Err() error {
	if l.ctx.Err() == nil {
		return nil
	}
	return context.Cause(l.ctx)
}

// Context returns a context for the critical section: it carries the values
// of the context given to Obtain and is cancelled when the lease ends, with
// the reason (see Err) as its cause.
func (l *Lease) Context() context.Context { return l.ctx }

// Validity returns how long the lease is still certainly held by the local
// clock, or 0 once it has ended or its validity has run out.
func (l *Lease) Validity() time.Duration {
	if l.ctx.Err() != nil {
		return 0
	}
	return max(0, l.remaining())
}

// Extend renews the etcd lease to its full TTL now (KeepAliveOnce), and the
// validity with it. The call is bounded by ctx and by the current
// validity. If etcd no longer has the etcd lease, the lease is lost (Done
// closes) and the error wraps lock.ErrLockLost and lock.ErrNotHeld. On a
// transport or context error the lease is unchanged and its watchdog, if
// any, keeps trying.
func (l *Lease) Extend(ctx context.Context) error {
	if err := l.Err(); err != nil {
		return fmt.Errorf("etcdlock: extend %q: %w: %w", l.name, lock.ErrNotHeld, err)
	}
	if err := ctxerr.From(ctx); err != nil {
		return err
	}
	if err := l.keepAlive(ctx); err != nil {
		if errors.Is(err, errLeaseGone) {
			l.end(l.lost(errLeaseGone))
			return fmt.Errorf("etcdlock: extend %q: %w: %w", l.name, lock.ErrNotHeld, l.Err())
		}
		if cerr := ctxerr.From(ctx); cerr != nil {
			return cerr
		}
		return fmt.Errorf("etcdlock: extend %q: %w", l.name, err)
	}
	return nil
}

// keepAlive renews the etcd lease once, within the lease's validity, and
// moves the validity on success, measured from before the request was
// sent. It returns an error wrapping errLeaseGone if etcd no longer has
// the etcd lease.
func (l *Lease) keepAlive(ctx context.Context) error {
	l.mu.Lock()
	until := l.validUntil
	l.mu.Unlock()
	ctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	start := time.Now()
	resp, err := l.c.cli.KeepAliveOnce(ctx, l.id)
	switch {
	case errors.Is(err, rpctypes.ErrLeaseNotFound):
		return fmt.Errorf("%w: %w", errLeaseGone, err)
	case err != nil:
		return err
	}
	l.extendTo(start, resp.TTL)
	return nil
}

// extendTo moves the validity to ttl seconds (less the drift margin) after
// start, when a request sent at start set the etcd lease's TTL to ttl.
func (l *Lease) extendTo(start time.Time, ttl int64) {
	d := time.Duration(ttl) * time.Second
	v := start.Add(d - drift(d))
	l.mu.Lock()
	if v.After(l.validUntil) {
		l.validUntil = v
	}
	l.mu.Unlock()
}

// Release revokes the lease's etcd lease, which deletes its key and so
// wakes the next waiter, stops the lease's goroutine and ends the lease.
// The etcd call is bounded by ctx; Release then waits for the goroutine to
// return unless ctx ends first (Client.Close waits for it in any case).
//
// It returns nil if the lease was held until released. If the lease had
// already ended (lost, its context done, the Client closed), or its
// validity had run out and etcd no longer had the etcd lease, the error
// wraps lock.ErrNotHeld and the reason, such as lock.ErrLockLost: the
// critical section may not have been exclusive. (While the validity lasts,
// an etcd lease that is not found was revoked by this very call, which the
// etcd client sent again after losing the reply.) A second Release returns an error wrapping lock.ErrNotHeld.
// On a transport or context error the outcome is unknown: the revocation
// is tried once more in the background (for up to a second, Close waits
// for it), and failing that the etcd lease expires with its TTL. The lease
// has ended either way.
//
// ctx may be the lease's Context, or a context derived from it: Release
// cancels it by ending the lease, and then carries on as under
// context.WithoutCancel(ctx) for at most a second (less if ctx has an
// earlier deadline), so that the release succeeds. A ctx that is done
// before Release is called ends the lease all the same, revoking in the
// background, and the error satisfies errors.Is(err, ctx.Err()).
func (l *Lease) Release(ctx context.Context) error {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return fmt.Errorf("etcdlock: release %q: %w: already released", l.name, lock.ErrNotHeld)
	}
	l.released = true
	l.mu.Unlock()
	close(l.stop)
	early := ctx.Err() != nil // done before the call, not by ending the lease
	var err error
	switch {
	case !l.end(errReleased):
		err = fmt.Errorf("etcdlock: release %q: %w: %w", l.name, lock.ErrNotHeld, l.Err())
	case early:
		l.c.revokeAsync(ctx, l.id)
		err = fmt.Errorf("etcdlock: release %q: %w", l.name, ctxerr.From(ctx))
	default:
		if ctx.Err() != nil && context.Cause(ctx) == errReleased {
			// ctx is the lease's Context, or derived from it, and
			// ending the lease cancelled it.
			deadline := time.Now().Add(cleanupTimeout)
			if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
				deadline = d
			}
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(context.WithoutCancel(ctx), deadline)
			defer cancel()
		}
		_, err = l.c.cli.Revoke(ctx, l.id)
		switch {
		case errors.Is(err, rpctypes.ErrLeaseNotFound) && l.remaining() > 0:
			// The etcd lease cannot have expired before the validity
			// runs out, so it was revoked: by this call, whose reply
			// was lost and which the etcd client sent again.
			err = nil
		case errors.Is(err, rpctypes.ErrLeaseNotFound):
			err = fmt.Errorf("etcdlock: release %q: %w: %w", l.name, lock.ErrNotHeld, l.lost(errLeaseGone))
		case err != nil:
			// Try once more in the background, so that the next
			// holder need not wait for the TTL.
			l.c.revokeAsync(ctx, l.id)
			if cerr := ctxerr.From(ctx); cerr != nil {
				err = cerr
			}
			err = fmt.Errorf("etcdlock: release %q: %w", l.name, err)
		}
	}
	l.recordRelease(ctx)
	select {
	case <-l.exited:
	case <-ctx.Done():
	}
	return err
}

// end ends the lease with cause, unless it has ended already; it reports
// whether it did.
func (l *Lease) end(cause error) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ended {
		return false
	}
	l.ended = true
	l.cancel(cause)
	l.recordEnd(cause)
	return true
}

// finish ends the lease with cause on the package's own initiative and
// revokes its etcd lease; a lease that was held is recorded as released.
func (l *Lease) finish(cause error) {
	if !l.end(cause) {
		return
	}
	l.c.revoke(l.ctx, l.id)
	l.recordRelease(context.WithoutCancel(l.ctx))
}

// isHeld reports whether the lock was granted to l.
func (l *Lease) isHeld() bool {
	select {
	case <-l.heldCh:
		return true
	default:
		return false
	}
}

// lost returns the error of a lease lost for reason.
func (l *Lease) lost(reason error) error {
	return fmt.Errorf("etcdlock: lease on %q: %w: %w", l.name, lock.ErrLockLost, reason)
}

// remaining returns the time left until the validity runs out.
func (l *Lease) remaining() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Until(l.validUntil)
}
