package telemetry

import (
	"context"
	"fmt"
	"time"

	"github.com/codomyrmex/concurrency/internal/clock"
	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/lock"
	"go.opentelemetry.io/otel"
)

// A Mutex is a [lock.Mutex] that records its acquisitions under a name,
// in the scope of package lock with lock.kind "mutex". It has the methods and
// the contract of lock.Mutex. Make one with [NewMutex]: the zero Mutex is
// not usable.
//
// Lock first tries the mutex without waiting; only if that fails does it
// start a span and time the wait.
type Mutex struct {
	mu    *lock.Mutex
	r     *lockotel.Recorder // nil: telemetry off
	since clock.Stamp        // when the current hold began; zero if not timed
}

var _ lock.Locker = (*Mutex)(nil)

// NewMutex returns mu instrumented under name, the lock.name of its
// telemetry; a nil mu means a new lock.Mutex. Use the returned Mutex, not
// mu, for every Lock and Unlock. Errors creating the instruments go to
// otel.Handle; the instruments that could not be created record nothing.
// An empty name goes to otel.Handle too, as an error wrapping
// lock.ErrInvalidArgument; the Mutex works, recorded under the name "".
func NewMutex(name string, mu *lock.Mutex, opts ...Option) *Mutex {
	if mu == nil {
		mu = new(lock.Mutex)
	}
	return &Mutex{mu: mu, r: recorder("NewMutex", lockotel.ScopeLock, lockotel.KindMutex, name, opts)}
}

// recorder returns the recorder of the lock called name, made by the
// constructor ctor.
func recorder(ctor, scope, kind, name string, opts []Option) *lockotel.Recorder {
	return instrumentation(ctor, scope, name, opts).Recorder(kind, name, "")
}

// instrumentation returns the instrumentation of scope for the lock called
// name, made by the constructor ctor. Errors, which a constructor cannot
// return, go to otel.Handle.
func instrumentation(ctor, scope, name string, opts []Option) *lockotel.Instrumentation {
	if name == "" {
		otel.Handle(fmt.Errorf("telemetry: %s: empty lock name: %w", ctor, lock.ErrInvalidArgument))
	}
	var p lockotel.Providers
	for _, o := range opts {
		o.apply(&p)
	}
	in, err := lockotel.New(scope, p)
	if err != nil {
		otel.Handle(err)
	}
	return in
}

// Lock locks m; see lock.Mutex.Lock.
func (m *Mutex) Lock(ctx context.Context) error {
	if m.r == nil {
		return m.mu.Lock(ctx)
	}
	if ctx.Err() == nil && m.mu.TryLock() {
		m.r.Acquired(ctx, 1)
		if m.r.HoldTimed(ctx) {
			m.since = clock.Now()
		}
		return nil
	}
	return m.lockSlow(ctx)
}

func (m *Mutex) lockSlow(ctx context.Context) error {
	_, t, err := m.r.WaitFor(ctx, 1, true, m.mu.Lock)
	if err == nil {
		m.since = t
	}
	return err
}

// TryLock locks m if it is free and nobody waits; see lock.Mutex.TryLock.
// A failed TryLock is not recorded.
func (m *Mutex) TryLock() bool {
	if !m.mu.TryLock() {
		return false
	}
	if m.r != nil {
		ctx := context.Background()
		m.r.Acquired(ctx, 1)
		if m.r.HoldTimed(ctx) {
			m.since = clock.Now()
		}
	}
	return true
}

// Unlock unlocks m; see lock.Mutex.Unlock.
func (m *Mutex) Unlock() {
	if m.r == nil {
		m.mu.Unlock()
		return
	}
	held := time.Duration(-1)
	if m.since != 0 {
		held = m.since.Until(clock.Now())
		m.since = 0
	}
	m.mu.Unlock()
	m.r.Released(context.Background(), 1, held)
}

// Unwrap returns the instrumented lock, for its Locked and Waiters methods.
func (m *Mutex) Unwrap() *lock.Mutex { return m.mu }
