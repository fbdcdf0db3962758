package lease

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/lock"
)

// A State is what every lease keeps, whatever its backend: the context
// that is cancelled, with the reason, when the lease ends; the validity,
// by the local monotonic clock; the time the hold began; and whether the
// lease has ended, been released and had the end of its hold recorded.
// For a backend that runs a goroutine per lease (see Watch), it also stops
// that goroutine on Release. Its methods are safe for concurrent use.
//
// A backend's Lease holds a State (start it with Start) and delegates its
// Done, Err, Context, Validity, Extend and Release to it.
type State struct {
	b      *Backend
	name   string             // the lock's
	rec    *lockotel.Recorder // nil if telemetry is off
	weight int64              // the weight held, for telemetry; 0 means 1

	ctx    context.Context // cancelled, with the reason, when the lease ends
	cancel context.CancelCauseFunc
	stop   chan struct{} // closed by Release: the goroutine must return; nil without Watch
	exited chan struct{} // closed when the goroutine has returned; nil without Watch

	mu         sync.Mutex
	validUntil time.Time // monotonic
	granted    time.Time // when the hold began; zero until Hold
	ended      bool      // the lease has ended; ctx is cancelled
	released   bool      // Release has been called
	recorded   bool      // the end of the hold has been recorded
}

// Start starts s, the state of a lease of b on the lock called name whose
// telemetry goes to rec (nil for none). The lease's context carries the
// values of holdCtx and ends with it. The lease is not held until Hold,
// and has no validity until ValidFrom.
func (s *State) Start(holdCtx context.Context, b *Backend, name string, rec *lockotel.Recorder) {
	s.b, s.name, s.rec = b, name, rec
	s.ctx, s.cancel = context.WithCancelCause(holdCtx)
}

// Watch prepares s for a goroutine of its own that watches the lease
// (renews it, ends it): Release closes Stopped, and waits for the
// goroutine's Exit if asked to. Call it after Start and before the
// goroutine starts. A backend whose leases have no goroutine each does not
// call it.
func (s *State) Watch() {
	s.stop, s.exited = make(chan struct{}), make(chan struct{})
}

// Weigh sets the weight that the lease holds (a semaphore's share), with
// which the end of its hold is recorded; it is 1 unless set. Call it after
// Start and before Hold.
func (s *State) Weigh(n int64) { s.weight = n }

// Name returns the name of the lock.
func (s *State) Name() string { return s.name }

// Hold records that the lock is held, since granted: from now on a loss,
// a renewal and the release are recorded.
func (s *State) Hold(granted time.Time) {
	s.mu.Lock()
	s.granted = granted
	s.mu.Unlock()
}

// Granted returns when the hold began, or zero before Hold.
func (s *State) Granted() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.granted
}

// Done returns a channel that is closed when the lease ends.
func (s *State) Done() <-chan struct{} { return s.ctx.Done() }

// Err returns nil while the lease lasts, and the cause of its end after.
func (s *State) Err() error {
	if s.ctx.Err() == nil {
		return nil
	}
	return context.Cause(s.ctx)
}

// Context returns the lease's context: it carries the values of the
// context given to Start and is cancelled, with the cause, when the lease
// ends.
func (s *State) Context() context.Context { return s.ctx }

// Stopped returns a channel that Release closes: the lease's goroutine
// must return. It is nil without Watch.
func (s *State) Stopped() <-chan struct{} { return s.stop }

// Exit tells Release that the lease's goroutine has returned; the
// goroutine (see Watch) calls it as it returns.
func (s *State) Exit() { close(s.exited) }

// End ends the lease with cause, unless it has ended already; it reports
// whether it did. If the lock was held and cause wraps lock.ErrLockLost,
// End records the loss, also as an event on the holder's span (the one in
// the context given to Start).
func (s *State) End(cause error) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return false
	}
	s.ended = true
	s.cancel(cause)
	if s.rec != nil && !s.granted.IsZero() && errors.Is(cause, lock.ErrLockLost) {
		s.rec.Lost(context.WithoutCancel(s.ctx), cause)
	}
	return true
}

// Lost returns the error of a lease lost for reason, which wraps
// lock.ErrLockLost and reason.
func (s *State) Lost(reason error) error {
	return fmt.Errorf("%s: lease on %q: %w: %w", s.b.name, s.name, lock.ErrLockLost, reason)
}

// RecordRenewal records a renewal of the held lock, whose error is err;
// renewals before Hold are not recorded.
func (s *State) RecordRenewal(err error) {
	if s.rec != nil && !s.Granted().IsZero() {
		s.rec.Renewed(s.ctx, err)
	}
}

// RecordRelease records the end of the hold, once, if the lock was held.
func (s *State) RecordRelease(ctx context.Context) {
	if s.rec == nil {
		return
	}
	s.mu.Lock()
	granted := s.granted
	record := !granted.IsZero() && !s.recorded
	if record {
		s.recorded = true
	}
	s.mu.Unlock()
	if record {
		s.rec.Released(ctx, max(s.weight, 1), time.Since(granted))
	}
}
