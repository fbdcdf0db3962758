package redislock

import (
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/codomyrmex/concurrency/internal/lockotel"
)

// ScopeName is the OpenTelemetry instrumentation scope of the package: its
// import path. Its version is the module's.
const ScopeName = "github.com/codomyrmex/concurrency/redislock"

// WithTracerProvider sets the provider of the tracer for the Client's
// spans. A nil provider is ignored. The default is the global provider, as
// returned by otel.GetTracerProvider when the Client is made. It takes
// effect only when given to New or NewRedlock; Obtain, TryObtain and
// NewMutex ignore it.
//
// Every acquisition is a span "acquire redislock" from the call to its
// outcome, with the lock's name and kind as attributes, whether it waits or
// not: an uncontended one too, since it goes over the network. One that has
// to wait (the lock is held elsewhere, or by another goroutine of the
// Client) has the event "lock contended" and counts as a contention. The
// Redis calls of the acquisition run under the span's context, so a
// go-redis client instrumented with OpenTelemetry makes its command spans
// children of it; the package starts no span per Redis command itself, nor
// for renewals and releases. A lease lost while held is the event "lease
// lost" on the span in the context the lease was obtained with, and a
// failed renewal "lease renewal failed".
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.otel.SetTracer(tp) })
}

// WithMeterProvider sets the provider of the meter for the Client's
// metrics: the module's lock instruments, listed in package telemetry
// (acquisitions by outcome, waits and
// holds, waiters and holders, lease renewals by outcome and leases lost).
// A nil provider is ignored. The default is the global provider, as
// returned by otel.GetMeterProvider when the Client is made. It takes
// effect only when given to New or NewRedlock.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.otel.SetMeter(mp) })
}

// instrumentation returns the Client's instrumentation; errors creating
// instruments go to otel.Handle.
func instrumentation(cfg config) *lockotel.Instrumentation {
	in, err := lockotel.New(ScopeName, cfg.otel)
	if err != nil {
		otel.Handle(err)
	}
	return in
}

// maxRecorders bounds the recorders a Client keeps for reuse, one per lock
// name; a name beyond them gets a new recorder for every acquisition.
const maxRecorders = 1024

// recorder returns the telemetry recorder of the lock called name, or nil
// if telemetry is off.
func (c *Client) recorder(name string) *lockotel.Recorder {
	if c.in.Off() {
		return nil
	}
	c.mu.Lock()
	r := c.recs[name]
	c.mu.Unlock()
	if r != nil {
		return r
	}
	r = c.in.Recorder(lockotel.KindRedis, name, "")
	c.mu.Lock()
	if len(c.recs) < maxRecorders {
		c.recs[name] = r
	}
	c.mu.Unlock()
	return r
}

// LockKind returns "redislock" (lockotel.KindRedis), the lock.kind under
// which the Mutex records its telemetry; package manager reports a
// registered Mutex under the same kind.
func (m *Mutex) LockKind() string { return lockotel.KindRedis }
