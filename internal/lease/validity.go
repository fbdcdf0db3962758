package lease

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Reasons a lease is lost that every backend has; see State.Lost.
var (
	// ErrMaxHold is the reason of a lease held past its maximum hold time.
	ErrMaxHold = errors.New("held past the maximum hold time")
	errExpired = errors.New("the lease's TTL ran out")
)

// Expired returns the reason of a lease whose validity ran out: renewErr,
// the error of the last renewal if it failed (and none succeeded since),
// or nil.
func Expired(renewErr error) error {
	if renewErr != nil {
		return fmt.Errorf("no renewal confirmed before the lease's validity ran out: %w", renewErr)
	}
	return errExpired
}

// drift is the margin taken off a lease's TTL for clock drift between this
// process and the server (as in Redlock): 1% plus a millisecond.
func drift(ttl time.Duration) time.Duration {
	return ttl/100 + time.Millisecond
}

// ValidUntil returns when a lease whose TTL was set to ttl by a request
// sent at start stops being certainly held, by the local clock: ttl after
// start, less a margin for clock drift. Measured from before the request
// was sent, on the monotonic clock, it never outlasts the lock on a
// server whose clock runs at the same rate.
func ValidUntil(start time.Time, ttl time.Duration) time.Time {
	return start.Add(ttl - drift(ttl))
}

// ValidFrom moves the validity on to ValidUntil(start, ttl), after a
// request sent at start (a grant or a renewal) set the lease's TTL to ttl.
// It never moves the validity back.
func (s *State) ValidFrom(start time.Time, ttl time.Duration) {
	v := ValidUntil(start, ttl)
	s.mu.Lock()
	if v.After(s.validUntil) {
		s.validUntil = v
	}
	s.mu.Unlock()
}

// Remaining returns the time left until the validity runs out, negative
// once it has.
func (s *State) Remaining() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return time.Until(s.validUntil)
}

// Validity returns how long the lease is still certainly held by the local
// clock, or 0 once it has ended or its validity has run out.
func (s *State) Validity() time.Duration {
	if s.ctx.Err() != nil {
		return 0
	}
	return max(0, s.Remaining())
}

// WithValidity returns ctx bounded by the current validity, for a renewal:
// one that is not answered before the lease's validity runs out is too
// late.
func (s *State) WithValidity(ctx context.Context) (context.Context, context.CancelFunc) {
	s.mu.Lock()
	until := s.validUntil
	s.mu.Unlock()
	return context.WithDeadline(ctx, until)
}

// UntilNext returns the time until the lease's next event: the end of its
// validity, or renewAt or maxHoldAt if not zero and earlier.
func (s *State) UntilNext(renewAt, maxHoldAt time.Time) time.Duration {
	d := s.Remaining()
	if !renewAt.IsZero() {
		d = min(d, time.Until(renewAt))
	}
	if !maxHoldAt.IsZero() {
		d = min(d, time.Until(maxHoldAt))
	}
	return d
}
