package redislock

import (
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

// LockKind returns "redislock" (lockotel.KindRedis), the lock.kind under
// which the Mutex records its telemetry; package manager reports a
// registered Mutex under the same kind.
func (m *Mutex) LockKind() string { return lockotel.KindRedis }
