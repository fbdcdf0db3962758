package filelock

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/codomyrmex/concurrency/internal/clock"
	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/lock"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// WithTracerProvider sets the provider of the tracer for the Lock's spans.
// A nil provider is ignored. The default is the global provider, as
// returned by otel.GetTracerProvider when the Lock is made.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.otel.SetTracer(tp) })
}

// WithMeterProvider sets the provider of the meter for the Lock's metrics.
// A nil provider is ignored. The default is the global provider, as
// returned by otel.GetMeterProvider when the Lock is made.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.otel.SetMeter(mp) })
}

// recorders returns the recorders of the exclusive and the shared holds of
// the lock called name, both nil if telemetry is off. Errors creating the
// instruments go to otel.Handle.
func (c *config) recorders(name string) (write, read *lockotel.Recorder) {
	in := lockotel.NewHandled(lockotel.ScopeFile, c.otel)
	return in.Recorder(lockotel.KindFile, name, lockotel.ModeWrite),
		in.Recorder(lockotel.KindFile, name, lockotel.ModeRead)
}

// LockKind returns "filelock" ([lockotel.KindFile]), the lock.kind under
// which the Lock records its telemetry; package manager reports a
// registered Lock under the same kind.
func (l *Lock) LockKind() string { return lockotel.KindFile }

// recorder returns the recorder of l's holds in mode m.
func (l *Lock) recorder(m mode) *lockotel.Recorder {
	if m == exclusive {
		return l.recW
	}
	return l.recR
}

// take acquires f for l in mode m, waiting until ctx is done or l is
// closed, and records the acquisition. It first tries without waiting;
// only if the file is held (by this process or another) or goroutines of
// this process wait for it does the caller count as a waiter of the file
// (see WithMaxWaiters), and, with telemetry on, start a span and time the
// wait. It returns when the hold began if the hold is timed (always after
// a wait with telemetry on), and zero otherwise.
func (l *Lock) take(ctx context.Context, m mode) (clock.Stamp, error) {
	r := l.recorder(m)
	if ctx.Err() != nil {
		err := l.f.take(ctx, m) // fails at once
		r.Failed(ctx, err)
		return 0, err
	}
	since, err := l.try(ctx, m)
	if !errors.Is(err, lock.ErrNotAcquired) {
		return since, err
	}
	if !l.f.waiters.Join(l.maxWaiters) {
		err := &lock.TooManyWaitersError{Lock: "filelock " + strconv.Quote(l.path), Max: l.maxWaiters}
		r.Failed(ctx, err)
		return 0, err
	}
	defer l.f.waiters.Leave()
	if r == nil {
		return 0, l.wait(ctx, m)
	}
	_, end, err := r.WaitFor(ctx, 1, true, func(ctx context.Context) error { return l.wait(ctx, m) })
	return end, err
}

// try acquires f for l in mode m if that needs no wait, and records a
// success or a real failure; an attempt that would have to wait is not
// recorded. It returns when an exclusive hold began if the hold is timed,
// and zero otherwise.
func (l *Lock) try(ctx context.Context, m mode) (clock.Stamp, error) {
	err := l.f.tryTake(m)
	r := l.recorder(m)
	if r == nil {
		return 0, err
	}
	switch {
	case err == nil:
		r.Acquired(ctx, 1)
		if m == exclusive && r.HoldTimed(ctx) {
			return clock.Now(), nil
		}
	case !errors.Is(err, lock.ErrNotAcquired):
		r.Failed(ctx, err)
	}
	return 0, err
}

// holdTime returns how long the current exclusive hold of l has lasted,
// or -1 if it is not timed.
func (l *Lock) holdTime() time.Duration {
	if l.since == 0 {
		return -1
	}
	return l.since.Until(clock.Now())
}
