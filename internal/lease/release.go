package lease

import (
	"context"
	"fmt"
	"time"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
	"github.com/codomyrmex/concurrency/lock"
)

// Extend is a lease's Extend: it renews the lease with renew, bounded by
// ctx, unless the lease has ended or ctx is done. renew returns an error
// if the renewal failed, and otherwise nil and, if the server no longer
// has the lease, the reason: then the lease is lost, and Extend's error
// wraps lock.ErrNotHeld and the loss. On any other failure the lease is
// unchanged, and the error is the context's if ctx has ended.
func (s *State) Extend(ctx context.Context, renew func(context.Context) (gone, err error)) error {
	return s.Renew(ctx, "extend", renew)
}

// Renew is Extend for another call that renews the lease on the server
// (a reader/writer lock's downgrade): its errors name the call what.
func (s *State) Renew(ctx context.Context, what string, renew func(context.Context) (gone, err error)) error {
	if err := s.Err(); err != nil {
		return fmt.Errorf("%s: %s %q: %w: %w", s.b.name, what, s.name, lock.ErrNotHeld, err)
	}
	if err := ctxerr.From(ctx); err != nil {
		return err
	}
	gone, err := renew(ctx)
	switch {
	case err != nil:
		if cerr := ctxerr.From(ctx); cerr != nil {
			return cerr
		}
		return fmt.Errorf("%s: %s %q: %w", s.b.name, what, s.name, err)
	case gone != nil:
		s.End(s.Lost(gone))
		return fmt.Errorf("%s: %s %q: %w: %w", s.b.name, what, s.name, lock.ErrNotHeld, s.Err())
	}
	return nil
}

// Release is a lease's Release: it ends the lease, stops its goroutine
// (see Watch), releases its lock and records the end of the hold, once; a second
// Release returns an error wrapping lock.ErrNotHeld.
//
// The lock is released on the server with release, bounded by ctx, which
// returns an error if the outcome is unknown, and otherwise nil and, if
// the lease turned out to be gone, the reason. A lease that had already
// ended is not released again: the error wraps lock.ErrNotHeld and the
// cause of its end. If ctx is done before the call, or release fails,
// later releases the lock in the background instead (for up to
// CleanupTimeout under context.WithoutCancel(ctx)), and the error is
// ctx's, or release's wrapped. ctx may be the lease's own context: ending
// the lease cancels it, and the release then carries on as under
// context.WithoutCancel(ctx) for at most CleanupTimeout (less if ctx has
// an earlier deadline).
//
// Then after, if not nil, runs, the end of the hold is recorded, and, if
// waitExit is set, Release waits for the lease's goroutine (see Watch) to
// return unless ctx ends first.
func (s *State) Release(ctx context.Context, release func(context.Context) (gone, err error), later func(context.Context), after func(), waitExit bool) error {
	s.mu.Lock()
	if s.released {
		s.mu.Unlock()
		return fmt.Errorf("%s: release %q: %w: already released", s.b.name, s.name, lock.ErrNotHeld)
	}
	s.released = true
	s.mu.Unlock()
	if s.stop != nil {
		close(s.stop)
	}
	early := ctx.Err() != nil // done before the call, not by ending the lease
	var err error
	switch {
	case !s.End(s.b.released):
		err = fmt.Errorf("%s: release %q: %w: %w", s.b.name, s.name, lock.ErrNotHeld, s.Err())
	case early:
		later(ctx)
		err = fmt.Errorf("%s: release %q: %w", s.b.name, s.name, ctxerr.From(ctx))
	default:
		if ctx.Err() != nil && context.Cause(ctx) == s.b.released {
			// ctx is the lease's Context, or derived from it, and
			// ending the lease cancelled it.
			deadline := time.Now().Add(CleanupTimeout)
			if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
				deadline = d
			}
			var cancel context.CancelFunc
			ctx, cancel = context.WithDeadline(context.WithoutCancel(ctx), deadline)
			defer cancel()
		}
		var gone error
		gone, err = release(ctx)
		switch {
		case err != nil:
			// Try once more in the background, so that the next
			// holder need not wait for the TTL.
			later(ctx)
			if cerr := ctxerr.From(ctx); cerr != nil {
				err = cerr
			}
			err = fmt.Errorf("%s: release %q: %w", s.b.name, s.name, err)
		case gone != nil:
			err = fmt.Errorf("%s: release %q: %w: %w", s.b.name, s.name, lock.ErrNotHeld, s.Lost(gone))
		}
	}
	if after != nil {
		after()
	}
	s.RecordRelease(ctx)
	if waitExit && s.exited != nil {
		select {
		case <-s.exited:
		case <-ctx.Done():
		}
	}
	return err
}
