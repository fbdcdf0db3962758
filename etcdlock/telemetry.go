package etcdlock

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/codomyrmex/concurrency/internal/lockotel"
)

// This file is the package's only use of the module's telemetry engine.

// ScopeName is the OpenTelemetry instrumentation scope of the package: its
// import path. The version is the module's, as for every package's scope.
const ScopeName = "github.com/codomyrmex/concurrency/etcdlock"

// lockKind is the lock.kind of the package's spans and metrics; a span is
// named "acquire etcdlock".
const lockKind = "etcdlock"

// telemetryConfig is the providers given to New.
type telemetryConfig = lockotel.Providers

// WithTracerProvider sets the provider of the tracer for the Client's
// spans. A nil provider is ignored. The default is the global provider, as
// returned by otel.GetTracerProvider when the Client is made. It takes
// effect only when given to New.
//
// Every acquisition is a span "acquire etcdlock" from the call to its
// outcome, with the lock's name and kind as attributes; one that has to
// wait for another holder has the event "lock contended" and counts as a
// contention. The etcd calls of the acquisition run under the span's
// context, so an etcd client instrumented with OpenTelemetry makes its
// spans children of it. A lease lost while held is the event "lease lost"
// on the span in the context the lease was obtained with, and a failed
// renewal "lease renewal failed".
func WithTracerProvider(tp trace.TracerProvider) Option {
	return optionFunc(func(c *config) { c.telemetry.SetTracer(tp) })
}

// WithMeterProvider sets the provider of the meter for the Client's
// metrics: those of every lock of the module (acquisitions by outcome, waits and
// holds, waiters and holders, lease renewals by outcome and leases lost).
// A nil provider is ignored. The default is the global provider, as
// returned by otel.GetMeterProvider when the Client is made. It takes
// effect only when given to New.
func WithMeterProvider(mp metric.MeterProvider) Option {
	return optionFunc(func(c *config) { c.telemetry.SetMeter(mp) })
}

// recorder is the telemetry of one lock name; nil records nothing.
type recorder = *lockotel.Recorder

// recorders are a Client's recorders, by lock name.
type recorders = *lockotel.Recorders

// newRecorders returns the recorders of a Client whose telemetry goes to
// tc; errors creating the instruments go to otel.Handle.
func newRecorders(tc telemetryConfig) recorders {
	return lockotel.NewHandled(ScopeName, tc).Recorders(lockKind)
}

// LockKind returns "etcdlock", the lock.kind under which the Mutex records
// its telemetry; package manager reports a registered Mutex under the same
// kind.
func (m *Mutex) LockKind() string { return lockKind }

// An acqRec records one acquisition: every one goes over the network, so
// each is a span from the call to its outcome; one that has to wait for
// another holder also counts a contention and is an event on that span. Its
// zero value records nothing.
type acqRec struct {
	r       recorder
	start   time.Time
	waiting bool
	w       lockotel.Wait
}

// startAcqRec starts recording an acquisition; the returned context carries
// its span, so that the calls it makes become children.
func startAcqRec(ctx context.Context, r recorder) (context.Context, acqRec) {
	if r == nil {
		return ctx, acqRec{}
	}
	ctx, w := r.BeginCall(ctx, 1)
	return ctx, acqRec{r: r, start: time.Now(), w: w}
}

// wait marks the acquisition as contended, once.
func (a *acqRec) wait(ctx context.Context) {
	if a.r == nil || a.waiting {
		return
	}
	a.waiting = true
	a.r.Contended(ctx)
}

// done records the outcome: err is nil if the lock is now held.
func (a *acqRec) done(ctx context.Context, err error) {
	a.w.End(ctx, err, time.Since(a.start))
}
