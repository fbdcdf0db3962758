package etcdlock

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/codomyrmex/concurrency/internal/lease"
)

// Reasons a lease ends before its holder releases it, besides those of
// internal/lease (lease.Expired and lease.ErrMaxHold). The errors the
// package reports wrap them in an error that wraps lock.ErrLockLost.
var (
	errKeyGone   = errors.New("the lock's key was deleted")
	errLeaseGone = errors.New("etcd no longer has the lease (it expired or was revoked)")
	errAbandoned = errors.New("etcdlock: acquisition abandoned")
)

// backend names the package in the errors of its leases.
var backend = lease.NewBackend("etcdlock")

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
	c   *Client
	dir string // the lock's key prefix
	key string // dir + the etcd lease ID in hex
	id  clientv3.LeaseID
	cfg config

	// Set before heldCh is closed, read-only after.
	fence   int64 // the key's create revision
	seenRev int64 // a revision at which the key was seen to hold the lock

	heldCh chan struct{} // closed when the lock is granted
	core   lease.State   // its name, recorder, context, validity and end
}

// Name returns the name of the lock.
func (l *Lease) Name() string { return l.core.Name() }

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
func (l *Lease) Done() <-chan struct{} { return l.core.Done() }

// Err returns nil while the lease is held. Once Done is closed it returns
// why the lease ended: an error wrapping lock.ErrLockLost if it was lost or
// reached its maximum hold time, one wrapping lock.ErrNotHeld after
// Release, lock.ErrClosed after Client.Close, or the cause of the holder's
// context.
func (l *Lease) Err() error { return l.core.Err() }

// Context returns a context for the critical section: it carries the values
// of the context given to Obtain and is cancelled when the lease ends, with
// the reason (see Err) as its cause.
func (l *Lease) Context() context.Context { return l.core.Context() }

// Validity returns how long the lease is still certainly held by the local
// clock, or 0 once it has ended or its validity has run out.
func (l *Lease) Validity() time.Duration { return l.core.Validity() }

// Extend renews the etcd lease to its full TTL now (KeepAliveOnce), and the
// validity with it. The call is bounded by ctx and by the current
// validity. If etcd no longer has the etcd lease, the lease is lost (Done
// closes) and the error wraps lock.ErrLockLost and lock.ErrNotHeld. On a
// transport or context error the lease is unchanged and its watchdog, if
// any, keeps trying.
func (l *Lease) Extend(ctx context.Context) error {
	return l.core.Extend(ctx, l.extend)
}

// extend renews the etcd lease for Extend. It returns errLeaseGone if
// etcd no longer has it.
func (l *Lease) extend(ctx context.Context) (gone, err error) {
	err = l.keepAlive(ctx)
	if errors.Is(err, errLeaseGone) {
		return errLeaseGone, nil
	}
	return nil, err
}

// keepAlive renews the etcd lease once, within the lease's validity, and
// moves the validity on success, measured from before the request was
// sent. It returns an error wrapping errLeaseGone if etcd no longer has
// the etcd lease.
func (l *Lease) keepAlive(ctx context.Context) error {
	ctx, cancel := l.core.WithValidity(ctx)
	defer cancel()
	start := time.Now()
	resp, err := l.c.cli.KeepAliveOnce(ctx, l.id)
	switch {
	case errors.Is(err, rpctypes.ErrLeaseNotFound):
		return fmt.Errorf("%w: %w", errLeaseGone, err)
	case err != nil:
		return err
	}
	l.core.ValidFrom(start, time.Duration(resp.TTL)*time.Second)
	return nil
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
	return l.core.Release(ctx, l.revoke, l.revokeLater, nil, true)
}

// revoke revokes the etcd lease for Release. It returns errLeaseGone if
// etcd no longer has it because it expired.
func (l *Lease) revoke(ctx context.Context) (gone, err error) {
	_, err = l.c.cli.Revoke(ctx, l.id)
	switch {
	case errors.Is(err, rpctypes.ErrLeaseNotFound) && l.core.Remaining() > 0:
		// The etcd lease cannot have expired before the validity
		// runs out, so it was revoked: by this call, whose reply
		// was lost and which the etcd client sent again.
		return nil, nil
	case errors.Is(err, rpctypes.ErrLeaseNotFound):
		return errLeaseGone, nil
	}
	return nil, err
}

// revokeLater revokes the etcd lease in the background (see
// Client.revokeAsync).
func (l *Lease) revokeLater(ctx context.Context) {
	l.c.revokeAsync(ctx, l.id)
}

// finish ends the lease with cause on the package's own initiative and
// revokes its etcd lease; a lease that was held is recorded as released.
func (l *Lease) finish(cause error) {
	if !l.core.End(cause) {
		return
	}
	l.c.revoke(l.Context(), l.id)
	l.core.RecordRelease(context.WithoutCancel(l.Context()))
}
