package telemetry

import (
	"context"
	"time"

	"github.com/codomyrmex/concurrency/internal/clock"
	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/rw"
)

// An RWMutex is an [rw.RWMutex] that records its acquisitions under a name,
// in the scope of package rw with lock.kind "rwmutex" and lock.mode "read"
// or "write". It has the methods and the contract of rw.RWMutex. Hold
// durations are recorded for write holds only: a read hold has no owner to
// time it. Make one with [NewRWMutex]: the zero RWMutex is not usable.
type RWMutex struct {
	mu    *rw.RWMutex
	w, r  *lockotel.Recorder // nil: telemetry off
	since clock.Stamp        // when the current write hold began; zero if not timed
}

var _ lock.Locker = (*RWMutex)(nil)

// NewRWMutex returns mu instrumented under name; a nil mu means a new
// rw.RWMutex. Use the returned RWMutex, not mu, for every call. Errors
// creating the instruments, and an empty name, go to otel.Handle, as for
// [NewMutex].
func NewRWMutex(name string, mu *rw.RWMutex, opts ...Option) *RWMutex {
	if mu == nil {
		mu = new(rw.RWMutex)
	}
	in := instrumentation("NewRWMutex", lockotel.ScopeRW, name, opts)
	return &RWMutex{
		mu: mu,
		w:  in.Recorder(lockotel.KindRWMutex, name, lockotel.ModeWrite),
		r:  in.Recorder(lockotel.KindRWMutex, name, lockotel.ModeRead),
	}
}

// Lock locks m for writing; see rw.RWMutex.Lock.
func (m *RWMutex) Lock(ctx context.Context) error {
	if m.w == nil {
		return m.mu.Lock(ctx)
	}
	if ctx.Err() == nil && m.mu.TryLock() {
		m.w.Acquired(ctx, 1)
		if m.w.HoldTimed(ctx) {
			m.since = clock.Now()
		}
		return nil
	}
	_, t, err := m.w.WaitFor(ctx, 1, true, m.mu.Lock)
	if err == nil {
		m.since = t
	}
	return err
}

// TryLock locks m for writing if it is free and nobody waits; see
// rw.RWMutex.TryLock. A failed TryLock is not recorded.
func (m *RWMutex) TryLock() bool {
	if !m.mu.TryLock() {
		return false
	}
	if m.w != nil {
		ctx := context.Background()
		m.w.Acquired(ctx, 1)
		if m.w.HoldTimed(ctx) {
			m.since = clock.Now()
		}
	}
	return true
}

// Unlock unlocks m for writing; see rw.RWMutex.Unlock.
func (m *RWMutex) Unlock() {
	if m.w == nil {
		m.mu.Unlock()
		return
	}
	held := m.endHold()
	m.mu.Unlock()
	m.w.Released(context.Background(), 1, held)
}

func (m *RWMutex) endHold() time.Duration {
	if m.since == 0 {
		return -1
	}
	held := m.since.Until(clock.Now())
	m.since = 0
	return held
}

// RLock locks m for reading; see rw.RWMutex.RLock.
func (m *RWMutex) RLock(ctx context.Context) error {
	if m.r == nil {
		return m.mu.RLock(ctx)
	}
	if ctx.Err() == nil && m.mu.TryRLock() {
		m.r.Acquired(ctx, 1)
		return nil
	}
	_, _, err := m.r.WaitFor(ctx, 1, true, m.mu.RLock)
	return err
}

// TryRLock locks m for reading if no writer holds it and nobody waits; see
// rw.RWMutex.TryRLock. A failed TryRLock is not recorded.
func (m *RWMutex) TryRLock() bool {
	if !m.mu.TryRLock() {
		return false
	}
	if m.r != nil {
		m.r.Acquired(context.Background(), 1)
	}
	return true
}

// RUnlock undoes a single RLock or Downgrade; see rw.RWMutex.RUnlock.
func (m *RWMutex) RUnlock() {
	m.mu.RUnlock()
	if m.r != nil {
		m.r.Released(context.Background(), 1, -1)
	}
}

// Downgrade turns the caller's write lock into a read lock atomically; see
// rw.RWMutex.Downgrade. It is recorded as the release of the write hold and
// an uncontended read acquisition.
func (m *RWMutex) Downgrade() {
	if m.w == nil {
		m.mu.Downgrade()
		return
	}
	held := m.endHold()
	m.mu.Downgrade()
	ctx := context.Background()
	m.w.Released(ctx, 1, held)
	m.r.Acquired(ctx, 1)
}

// RLocker returns the read side of m as a lock.Locker: its Lock calls
// m.RLock and its Unlock m.RUnlock.
func (m *RWMutex) RLocker() lock.Locker { return (*rlocker)(m) }

type rlocker RWMutex

func (r *rlocker) Lock(ctx context.Context) error { return (*RWMutex)(r).RLock(ctx) }
func (r *rlocker) Unlock()                        { (*RWMutex)(r).RUnlock() }

// Unwrap returns the instrumented lock, for its Waiters method.
func (m *RWMutex) Unwrap() *rw.RWMutex { return m.mu }
