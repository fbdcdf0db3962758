package lockotel

import (
	"errors"
	"fmt"

	"github.com/codomyrmex/concurrency/lock"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"
)

// Version is the module version reported as the version of every
// instrumentation scope.
const Version = "0.1.0"

// Import paths of the instrumented packages, used as scope names.
const (
	ScopeLock    = "github.com/codomyrmex/concurrency/lock"
	ScopeSem     = "github.com/codomyrmex/concurrency/sem"
	ScopeRW      = "github.com/codomyrmex/concurrency/rw"
	ScopeManager = "github.com/codomyrmex/concurrency/manager"
	ScopeFile    = "github.com/codomyrmex/concurrency/filelock"
)

// DurationBoundaries are the explicit bucket boundaries, in seconds, of the
// wait and hold duration histograms: 1µs to 10s in 1-2.5-5 steps.
var DurationBoundaries = []float64{
	1e-6, 2.5e-6, 5e-6,
	1e-5, 2.5e-5, 5e-5,
	1e-4, 2.5e-4, 5e-4,
	1e-3, 2.5e-3, 5e-3,
	1e-2, 2.5e-2, 5e-2,
	0.1, 0.25, 0.5,
	1, 2.5, 5, 10,
}

// An Instrumentation is the tracer and the instruments of one
// instrumentation scope. Make one per instrumented package (or component)
// with [New] and a [Recorder] per lock with [Instrumentation.Recorder]. It
// is safe for concurrent use.
type Instrumentation struct {
	off    bool // both providers are no-ops: record nothing
	tracer trace.Tracer

	waitDuration metric.Float64Histogram
	holdDuration metric.Float64Histogram
	acquisitions metric.Int64Counter
	contentions  metric.Int64Counter
	waiters      metric.Int64UpDownCounter
	holders      metric.Int64UpDownCounter
	renewals     metric.Int64Counter
	lost         metric.Int64Counter
}

// Providers are where the telemetry of an instrumented package goes: the
// providers its users passed in options. A nil provider means the global
// one, as returned by otel.GetTracerProvider or otel.GetMeterProvider when
// New is called.
type Providers struct {
	Tracer trace.TracerProvider
	Meter  metric.MeterProvider
}

// SetTracer sets p.Tracer to tp, unless tp is nil: the body of every
// package's WithTracerProvider option, which ignores a nil provider.
func (p *Providers) SetTracer(tp trace.TracerProvider) {
	if tp != nil {
		p.Tracer = tp
	}
}

// SetMeter sets p.Meter to mp, unless mp is nil: the body of every
// package's WithMeterProvider option, which ignores a nil provider.
func (p *Providers) SetMeter(mp metric.MeterProvider) {
	if mp != nil {
		p.Meter = mp
	}
}

// New returns the instrumentation of the scope named scope (the import path
// of the instrumented package), with version [Version], recording through
// p. If scope is empty, or some instrument cannot be created, New returns
// the usable instrumentation together with the joined errors (for an empty
// scope, one wrapping lock.ErrInvalidArgument); the failed instruments
// record nothing.
func New(scope string, p Providers) (*Instrumentation, error) {
	var errs []error
	if scope == "" {
		errs = append(errs, fmt.Errorf("telemetry: New: empty scope name: %w", lock.ErrInvalidArgument))
	}
	if p.Tracer == nil {
		p.Tracer = otel.GetTracerProvider()
	}
	if p.Meter == nil {
		p.Meter = otel.GetMeterProvider()
	}
	_, noTraces := p.Tracer.(tracenoop.TracerProvider)
	_, noMetrics := p.Meter.(metricnoop.MeterProvider)
	in := &Instrumentation{
		off:    noTraces && noMetrics,
		tracer: p.Tracer.Tracer(scope, trace.WithInstrumentationVersion(Version)),
	}
	m := p.Meter.Meter(scope, metric.WithInstrumentationVersion(Version))
	noop := metricnoop.Meter{}
	check := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	var err error
	in.waitDuration, err = m.Float64Histogram("lock.wait.duration",
		metric.WithDescription("Time acquisitions that had to wait took, from the call to the outcome."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(DurationBoundaries...))
	check(err)
	in.holdDuration, err = m.Float64Histogram("lock.hold.duration",
		metric.WithDescription("Time a lock was held, from acquisition to release."),
		metric.WithUnit("s"), metric.WithExplicitBucketBoundaries(DurationBoundaries...))
	check(err)
	in.acquisitions, err = m.Int64Counter("lock.acquisitions",
		metric.WithDescription("Acquisition attempts, by outcome."),
		metric.WithUnit("{acquisition}"))
	check(err)
	in.contentions, err = m.Int64Counter("lock.contentions",
		metric.WithDescription("Acquisitions that had to wait."),
		metric.WithUnit("{contention}"))
	check(err)
	in.waiters, err = m.Int64UpDownCounter("lock.waiters",
		metric.WithDescription("Callers waiting to acquire."),
		metric.WithUnit("{waiter}"))
	check(err)
	in.holders, err = m.Int64UpDownCounter("lock.holders",
		metric.WithDescription("Current holders (held tokens, for a semaphore)."),
		metric.WithUnit("{holder}"))
	check(err)
	in.renewals, err = m.Int64Counter("lock.lease.renewals",
		metric.WithDescription("Lease renewals, by outcome."),
		metric.WithUnit("{renewal}"))
	check(err)
	in.lost, err = m.Int64Counter("lock.lease.lost",
		metric.WithDescription("Leases lost while held."),
		metric.WithUnit("{lease}"))
	check(err)
	// An SDK returns a usable instrument along with most errors; guard
	// against a provider that returns nil.
	if in.waitDuration == nil {
		in.waitDuration, _ = noop.Float64Histogram("")
	}
	if in.holdDuration == nil {
		in.holdDuration, _ = noop.Float64Histogram("")
	}
	for _, p := range []*metric.Int64Counter{&in.acquisitions, &in.contentions, &in.renewals, &in.lost} {
		if *p == nil {
			*p, _ = noop.Int64Counter("")
		}
	}
	for _, p := range []*metric.Int64UpDownCounter{&in.waiters, &in.holders} {
		if *p == nil {
			*p, _ = noop.Int64UpDownCounter("")
		}
	}
	return in, errors.Join(errs...)
}

// Off reports whether in records nothing at all because both of its
// providers are the no-op ones.
func (in *Instrumentation) Off() bool { return in.off }
