package telemetry

import (
	"context"

	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/sem"
)

// A Weighted is a [sem.Weighted] that records its acquisitions under a
// name, in the scope of package sem with lock.kind "semaphore". It has the
// methods and the contract of sem.Weighted. lock.holders counts the tokens
// held; hold durations are not recorded, since a Release need not match an
// Acquire. Make one with [NewWeighted]: the zero Weighted is not usable.
type Weighted struct {
	s *sem.Weighted
	r *lockotel.Recorder // nil: telemetry off
}

// NewWeighted returns s instrumented under name. Use the returned Weighted,
// not s, for every Acquire and Release. Errors creating the instruments,
// and an empty name, go to otel.Handle, as for [NewMutex]. NewWeighted
// panics if s is nil: a semaphore has no default size.
func NewWeighted(name string, s *sem.Weighted, opts ...Option) *Weighted {
	if s == nil {
		panic("telemetry: NewWeighted with a nil *sem.Weighted")
	}
	return &Weighted{s: s, r: recorder("NewWeighted", lockotel.ScopeSem, lockotel.KindSemaphore, name, opts)}
}

// Acquire acquires the semaphore with a weight of n; see
// sem.Weighted.Acquire.
func (s *Weighted) Acquire(ctx context.Context, n int64) error {
	if s.r == nil {
		return s.s.Acquire(ctx, n)
	}
	if ctx.Err() == nil && n > 0 && s.s.TryAcquire(n) {
		s.r.Acquired(ctx, n)
		return nil
	}
	if n <= 0 || n > s.s.Size() { // fails or succeeds at once (barring a racing Resize)
		err := s.s.Acquire(ctx, n)
		if err != nil {
			s.r.Failed(ctx, err)
		} else {
			s.r.Acquired(ctx, n)
		}
		return err
	}
	_, _, err := s.r.WaitFor(ctx, n, true, func(ctx context.Context) error { return s.s.Acquire(ctx, n) })
	return err
}

// TryAcquire acquires the semaphore with a weight of n if it can without
// waiting; see sem.Weighted.TryAcquire. A failed TryAcquire is not
// recorded.
func (s *Weighted) TryAcquire(n int64) bool {
	if !s.s.TryAcquire(n) {
		return false
	}
	if s.r != nil {
		s.r.Acquired(context.Background(), n)
	}
	return true
}

// Release releases the semaphore with a weight of n; see
// sem.Weighted.Release.
func (s *Weighted) Release(n int64) {
	s.s.Release(n)
	if s.r != nil {
		s.r.Released(context.Background(), n, -1)
	}
}

// Unwrap returns the instrumented semaphore, for Resize, Close and the
// accessors.
func (s *Weighted) Unwrap() *sem.Weighted { return s.s }
