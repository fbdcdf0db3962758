package redislock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
	"github.com/codomyrmex/concurrency/lock"
)

// Reasons a lease ends before its holder releases it. The errors the
// package reports wrap them in an error that wraps lock.ErrLockLost.
var (
	errKeyGone  = errors.New("the key expired, was deleted or was taken over")
	errExpired  = errors.New("the lease's TTL ran out")
	errMaxHold  = errors.New("held past the maximum hold time")
	errReleased = fmt.Errorf("redislock: lease released: %w", lock.ErrNotHeld)
)

// A Lease is one holding of a lock, from a successful Obtain until Release
// or until it is lost. Its methods are safe for concurrent use.
//
// The lease is valid, by the local clock, until its validity runs out:
// Validity counts down from the TTL minus a drift margin, starting *before*
// the acquire or the last confirmed renewal was sent, on the monotonic
// clock, so it never outlasts the key on a server whose clock runs at the
// same rate. A lease with a watchdog (the default) renews the key every
// renewal interval; a lease with WithTTL only when Extend is called.
//
// The lease ends when it is released, when its holder's context (the one
// given to Obtain) ends, when the Client is closed, after WithMaxHold, or
// when it is lost: a renewal finds the key gone or owned by another token,
// or no renewal is confirmed before the validity runs out. Then Done is
// closed, the lease's Context is cancelled, and Err says why: an error
// wrapping lock.ErrLockLost when it was lost.
//
// Always call Release, even after the lease was lost: until then, the
// lease keeps its place at the head of its Client's local FIFO, so other
// goroutines of the Client waiting for the same lock go on waiting (other
// Clients and processes do not). A lease that the package ended itself
// (holder's context, WithMaxHold, Close) gives the place back at once.
//
// A lease does not make the holder's work exclusive by itself: see the
// package documentation on what a Redis lock cannot promise, and Fence.
type Lease struct {
	c       *Client
	spec    // the lock: its name, keys, configuration and recorder
	token   token
	fence   int64
	q       *localQueue // its turn in the local FIFO
	granted time.Time   // when the acquire that granted it was sent

	ctx    context.Context // cancelled, with the reason, when the lease ends
	cancel context.CancelCauseFunc
	stop   chan struct{} // closed by Release: the goroutine must return
	exited chan struct{} // closed when the goroutine has returned

	mu         sync.Mutex
	validUntil time.Time // monotonic
	ended      bool      // the lease has ended; ctx is cancelled
	released   bool      // Release has been called
	dequeued   bool      // the local FIFO place has been given back
}

// newLease starts the goroutine of the lease that a's current token holds,
// with fence, granted by the attempt sent at granted and valid until
// validUntil. The lease takes over a's turn in the local FIFO. It fails
// with errClosed if the Client is closed.
func newLease(a *acquisition, fence int64, granted, validUntil time.Time) (*Lease, error) {
	c := a.c
	l := &Lease{
		c: c, spec: a.s, token: a.token, fence: fence, q: a.q,
		granted: granted, validUntil: validUntil,
		stop: make(chan struct{}), exited: make(chan struct{}),
	}
	l.ctx, l.cancel = context.WithCancelCause(a.holdCtx)
	if !c.track() {
		l.cancel(errClosed)
		return nil, errClosed
	}
	go l.run()
	return l, nil
}

// Name returns the name of the lock.
func (l *Lease) Name() string { return l.name }

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
	l.mu.Lock()
	defer l.mu.Unlock()
	return max(0, time.Until(l.validUntil))
}

// Extend resets the key's TTL to the lease's TTL now, and the validity with
// it. The call is bounded by ctx and by the current validity. If the key is
// gone or owned by another token, the lease is lost (Done closes) and the
// error wraps lock.ErrLockLost and lock.ErrNotHeld; Extend never takes a
// free key again. On a transport or context error the lease is unchanged
// and its watchdog, if any, keeps trying.
func (l *Lease) Extend(ctx context.Context) error {
	if err := l.Err(); err != nil {
		return fmt.Errorf("redislock: extend %q: %w: %w", l.name, lock.ErrNotHeld, err)
	}
	if err := ctxerr.From(ctx); err != nil {
		return err
	}
	var ok bool
	err := l.c.interruptible(ctx, func(ctx context.Context) (err error) {
		ok, err = l.renew(ctx)
		return err
	}, nil)
	if err != nil {
		if cerr := ctxerr.From(ctx); cerr != nil {
			return cerr
		}
		return fmt.Errorf("redislock: extend %q: %w", l.name, err)
	}
	if !ok {
		l.end(l.lost(errKeyGone))
		return fmt.Errorf("redislock: extend %q: %w: %w", l.name, lock.ErrNotHeld, l.Err())
	}
	return nil
}

// renew runs the extend script once, within the lease's validity, and
// moves the validity on success. It reports whether the token still held
// the key.
func (l *Lease) renew(ctx context.Context) (bool, error) {
	l.mu.Lock()
	until := l.validUntil
	l.mu.Unlock()
	ctx, cancel := context.WithDeadline(ctx, until)
	defer cancel()
	start := time.Now()
	if ok, err := l.c.tr.extend(ctx, extendCall{keys: l.k, token: l.token, ttl: l.cfg.ttlArg}); !ok {
		return false, err
	}
	l.mu.Lock()
	if v := start.Add(l.cfg.ttl - drift(l.cfg.ttl)); v.After(l.validUntil) {
		l.validUntil = v
	}
	l.mu.Unlock()
	return true, nil
}

// Release deletes the lock if the lease still holds it, waking the next
// waiter, stops the lease's goroutine and ends the lease. The Redis call is
// bounded by ctx; Release then waits for the goroutine to return unless ctx
// ends first (Client.Close waits for it in any case).
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
	return l.release(ctx, true)
}

// release is Release, which waits for the lease's goroutine only if
// waitExit is set (Mutex.Unlock does not).
func (l *Lease) release(ctx context.Context, waitExit bool) error {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return fmt.Errorf("redislock: release %q: %w: already released", l.name, lock.ErrNotHeld)
	}
	l.released = true
	l.mu.Unlock()
	close(l.stop)
	early := ctx.Err() != nil // done before the call, not by ending the lease
	var err error
	switch {
	case !l.end(errReleased):
		err = fmt.Errorf("redislock: release %q: %w: %w", l.name, lock.ErrNotHeld, l.Err())
	case early:
		l.c.releaseLater(ctx, l.releaseCall())
		err = fmt.Errorf("redislock: release %q: %w", l.name, ctxerr.From(ctx))
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
		var ok bool
		ok, err = l.c.releaseInterruptible(ctx, l.releaseCall())
		switch {
		case err != nil:
			// Try once more in the background, so that the next
			// holder need not wait for the TTL.
			l.c.releaseLater(ctx, l.releaseCall())
			if cerr := ctxerr.From(ctx); cerr != nil {
				err = cerr
			}
			err = fmt.Errorf("redislock: release %q: %w", l.name, err)
		case !ok:
			err = fmt.Errorf("redislock: release %q: %w: %w", l.name, lock.ErrNotHeld, l.lost(errKeyGone))
		}
	}
	l.dequeue()
	l.rec.Released(ctx, 1, time.Since(l.granted))
	if waitExit {
		select {
		case <-l.exited:
		case <-ctx.Done():
		}
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

// finish ends the lease with cause on the package's own initiative (holder
// context, Close, maximum hold), releasing the key and the local FIFO place.
func (l *Lease) finish(cause error) {
	if !l.end(cause) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
	_, _ = l.c.tr.release(ctx, l.releaseCall())
	cancel()
	l.dequeue()
	l.rec.Released(ctx, 1, time.Since(l.granted))
}

// dequeue gives the local FIFO place back, once. A lost lease keeps it
// until Release, so that goroutines of this process never overlap.
func (l *Lease) dequeue() {
	l.mu.Lock()
	done := l.dequeued
	l.dequeued = true
	l.mu.Unlock()
	if !done {
		l.q.mu.Unlock()
		l.c.unqueue(l.k.lock, l.q)
	}
}

// releaseCall is the release script's call for the lease's token.
func (l *Lease) releaseCall() releaseCall {
	return releaseCall{keys: l.k, token: l.token}
}

// lost returns the error of a lease lost for reason.
func (l *Lease) lost(reason error) error {
	return fmt.Errorf("redislock: lease on %q: %w: %w", l.name, lock.ErrLockLost, reason)
}

// remaining returns the time left until the validity runs out.
func (l *Lease) remaining() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	return time.Until(l.validUntil)
}
