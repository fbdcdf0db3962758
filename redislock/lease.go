package redislock

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/codomyrmex/concurrency/internal/lease"
)

// errKeyGone is the reason of a lease lost because its key is gone or
// owned by another token; lease.Expired and lease.ErrMaxHold give the
// others. The errors the package reports wrap the reason in an error that
// wraps lock.ErrLockLost.
var errKeyGone = errors.New("the key expired, was deleted or was taken over")

// A Lease is one holding of a lock, from a successful Obtain until Release
// or until it is lost: of a mutex, of weight of a Semaphore, or of an
// RWMutex for reading or writing (each holder has its own lease, with its
// own token, key deadline in Redis, validity and fence). What this
// documentation says of the lock's key holds for a semaphore's or RW
// lock's hold of the lease's token: its deadline in Redis, renewed,
// released or lost. Its methods are safe for concurrent use.
//
// The lease is valid, by the local clock, until its validity runs out:
// Validity counts down from the key's TTL as last set, minus a drift
// margin, starting *before* the request that set it was sent, on the
// monotonic clock, so it never outlasts the key on a server whose clock
// runs at the same rate. That request is the acquire or the last confirmed
// renewal; for a lock that a release handed to a waiting Obtain, it is the
// waiter's last queue refresh, and the TTL is the queue entry's lifetime
// (3s, or the lease TTL if shorter) until the first renewal sets the full
// TTL. A lease with a watchdog (the default) is renewed every renewal
// interval (the first time after half its validity if that is sooner); a
// lease with WithTTL only when Extend is called, except that one handed
// over by a release is extended once, at once, to its full TTL.
//
// The lease ends when it is released, when its holder's context (the one
// given to Obtain) ends, when the Client is closed, after WithMaxHold, or
// when it is lost: a renewal finds the key gone or owned by another token,
// or no renewal is confirmed before the validity runs out. Then Done is
// closed, the lease's Context is cancelled, and Err says why: an error
// wrapping lock.ErrLockLost when it was lost.
//
// Always call Release, even after the lease was lost: until then, a
// mutex's lease keeps its place at the head of its Client's local FIFO, so other
// goroutines of the Client waiting for the same lock go on waiting (other
// Clients and processes do not). A lease that the package ended itself
// (holder's context, WithMaxHold, Close) gives the place back at once.
//
// A lease does not make the holder's work exclusive by itself: see the
// package documentation on what a Redis lock cannot promise, and Fence.
type Lease struct {
	c      *Client
	k      keys   // a mutex's keys, which t points at
	t      target // what the lease holds
	weight int64  // the weight it holds: 1 but for a semaphore
	cfg    config // the lease's
	token  token  // the token that holds the lock
	first  string // the acquisition's first token, which token points at unless a Redlock attempt replaced it
	fence  int64
	q      *localQueue // a mutex's turn in the local FIFO; nil for the other targets

	core     lease.State                 // its name, recorder, context, validity and end
	dequeued atomic.Bool                 // the local FIFO place has been given back
	role     atomic.Int32                // an RW lock's write lease: writing, downgrading or reading (see Downgrade)
	holdStop atomic.Pointer[func() bool] // stops the call of finish when the holder's context ends; nil if it cannot end

	sched schedule // the renewer's, guarded by its mutex
}

// backend names the package in the errors of its leases.
var backend = lease.NewBackend("redislock")

// Name returns the name of the lock.
func (l *Lease) Name() string { return l.core.Name() }

// Fence returns the lease's fencing token: a number that the lock's
// acquisitions increase strictly, one per grant (renewals and retried
// acquires do not change it). Pass it with every write to the protected
// resource, which must reject a write whose token is lower than one it has
// already accepted; see FencedSet. The counter lives in Redis, in a key
// that never expires (see the package documentation), and is monotonic as
// long as Redis does not lose writes (AOF with appendfsync always, no
// failover to a lagging replica). A Redlock lease has no fencing token:
// Fence returns 0, which FencedSet refuses.
func (l *Lease) Fence() int64 { return l.fence }

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

// Extend resets the key's TTL to the lease's TTL now, and the validity with
// it. The call is bounded by ctx and by the current validity. If the key is
// gone or owned by another token, the lease is lost (Done closes) and the
// error wraps lock.ErrLockLost and lock.ErrNotHeld; Extend never takes a
// free key again. On a transport or context error the lease is unchanged
// and its watchdog, if any, keeps trying.
func (l *Lease) Extend(ctx context.Context) error {
	return l.core.Extend(ctx, l.extend)
}

// extend renews the lease for Extend: under interruptible, so that it
// returns when ctx is cancelled. It returns errKeyGone if the token no
// longer holds the key.
func (l *Lease) extend(ctx context.Context) (gone, err error) {
	var ok bool
	err = l.c.interruptible(ctx, func(ctx context.Context) (err error) {
		ok, err = l.renew(ctx, nil)
		return err
	}, nil)
	if err == nil && !ok {
		return errKeyGone, nil
	}
	return nil, err
}

// renew runs the lease's renewal once (or, with op opDowngrade, its
// downgrade), within the lease's validity, and moves the validity on
// success. It reports whether the token still held the key.
func (l *Lease) renew(ctx context.Context, op any) (bool, error) {
	ctx, cancel := l.core.WithValidity(ctx)
	defer cancel()
	start := time.Now()
	call := l.extendCall()
	call.op = op
	if ok, err := l.c.tr.extend(ctx, call); !ok {
		return false, err
	}
	l.core.ValidFrom(start, l.cfg.TTL)
	return true, nil
}

// extendCall is the extend script's call for the lease's token.
func (l *Lease) extendCall() extendCall {
	return extendCall{t: l.t, token: l.token, ttl: l.cfg.ttlArg}
}

// Release deletes the lock if the lease still holds it, or hands it to the
// next waiter queued for it, and ends the lease; a semaphore's or RW
// lock's lease gives its weight or its hold back, granting the waiters
// that then get in. The Redis call is bounded by ctx.
//
// It returns nil if the lease was held until released. If the lease had
// already ended (lost, its context done, the Client closed) or the key
// turned out to be gone, the error wraps lock.ErrNotHeld and the reason,
// such as lock.ErrLockLost: the critical section may not have been
// exclusive. A second Release returns an error wrapping lock.ErrNotHeld.
// On a transport or context error the outcome is unknown: the release is
// tried once more in the background (for up to a second, Close waits for
// it), and failing that the key expires with its TTL. The lease has ended
// either way.
//
// ctx may be the lease's Context, or a context derived from it: Release
// cancels it by ending the lease, and then carries on as under
// context.WithoutCancel(ctx) for at most a second (less if ctx has an
// earlier deadline), so that the release succeeds. A ctx that is done
// before Release is called ends the lease all the same, without a Redis
// call in the caller's goroutine: the key is released in the background as
// after a transport error, and the error satisfies errors.Is(err,
// ctx.Err()).
func (l *Lease) Release(ctx context.Context) error {
	return l.core.Release(ctx, l.releaseKey, l.releaseLater, l.retire, false)
}

// releaseKey releases the key for Release, under interruptible for a ctx
// that can be cancelled. It returns errKeyGone if the token no longer held
// it.
func (l *Lease) releaseKey(ctx context.Context) (gone, err error) {
	ok, err := l.c.releaseInterruptible(ctx, l.releaseCall())
	if err == nil && !ok {
		return errKeyGone, nil
	}
	return nil, err
}

// releaseLater releases the key in the background (see
// Client.releaseLater).
func (l *Lease) releaseLater(ctx context.Context) {
	l.c.releaseLater(ctx, l.releaseCall())
}

// finish ends the lease with cause on the package's own initiative (holder
// context, Close, maximum hold), then releases the key and the local FIFO
// place in the background: whoever ends the lease cleans up after it.
func (l *Lease) finish(cause error) {
	if !l.core.End(cause) {
		return
	}
	l.stopHold()
	l.c.renewer.remove(l)
	l.c.group.Go(l.cleanup)
}

// cleanup releases the key and the local FIFO place of a lease that the
// package ended, and records the end of the hold.
func (l *Lease) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), lease.CleanupTimeout)
	_, _ = l.c.tr.release(ctx, l.releaseCall())
	cancel()
	l.dequeue()
	l.core.RecordRelease(ctx)
}

// retire takes a released lease off the renewer and the holder's context,
// and gives its local FIFO place back.
func (l *Lease) retire() {
	l.stopHold()
	l.c.renewer.remove(l)
	l.dequeue()
}

// stopHold stops watching the holder's context, if the lease does: the
// lease has ended.
func (l *Lease) stopHold() {
	if stop := l.holdStop.Load(); stop != nil {
		(*stop)()
	}
}

// dequeue gives a mutex's local FIFO place back, once. A lost lease keeps
// it until Release, so that goroutines of this process never overlap.
func (l *Lease) dequeue() {
	if l.q != nil && l.dequeued.CompareAndSwap(false, true) {
		l.q.mu.Unlock()
		l.c.unqueue(l.k.lock, l.q)
	}
}

// releaseCall is the release script's call for the lease's token.
func (l *Lease) releaseCall() releaseCall {
	return releaseCall{t: l.t, token: l.token}
}
