package manager

import (
	"github.com/codomyrmex/concurrency/internal/lockotel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// An Option configures a Manager.
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

type config struct {
	onDemand bool
	noStats  bool
	order    func(Violation)
	otel     lockotel.Providers
}

// WithOnDemand lets the Manager create locks for names that were never
// registered: each is an in-process rw.RWMutex, created on first use and
// freed (with its statistics) when nobody holds or waits for it any more.
// Without it, an unregistered name is an error. With telemetry on, the
// attribute sets of up to 4096 names are kept after their locks are freed,
// so that a name used again costs no new ones.
func WithOnDemand() Option {
	return optionFunc(func(c *config) { c.onDemand = true })
}

// WithStats turns the bookkeeping behind [Manager.Stats] on or off; it is on
// by default. On, an acquisition and its release read the monotonic clock
// once each (for hold times; waits are timed only when they happen) and
// update a few atomic counters of each lock: on a VM with a slow clock this
// is a third of the cost of an uncontended AcquireAll. Off, Stats reports
// zeros and the clock is read only for telemetry that needs it.
func WithStats(on bool) Option {
	return optionFunc(func(c *config) { c.noStats = !on })
}

// WithOrderCheck turns on the lock-order checker, a debugging aid in the
// spirit of go-deadlock: before a goroutine that holds locks of the Manager
// acquires more, each requested name that does not sort after every name
// that goroutine holds is reported to report (from the acquiring goroutine,
// before it waits). A Violation with Inversion set means that locks have
// also been taken in the opposite order, a deadlock waiting to happen.
//
// The checker identifies goroutines by parsing runtime.Stack and remembers
// every pair of names ever held together, so it costs microseconds per
// acquisition and memory that grows with the pairs; use it in tests and
// debugging. A Held released by another goroutine than the one that
// acquired it can make it report false positives. Off (the default) it
// costs nothing.
func WithOrderCheck(report func(Violation)) Option {
	return optionFunc(func(c *config) { c.order = report })
}

// WithTracerProvider sets the provider of the tracer for the Manager's
// spans. A nil provider is ignored. The default is the global provider.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.otel.SetTracer(tp) })
}

// WithMeterProvider sets the provider of the meter for the Manager's
// metrics. A nil provider is ignored. The default is the global provider.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.otel.SetMeter(mp) })
}
