package lockotel

import (
	"context"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"
)

// Attribute keys. lock.* are this module's own (there are no semantic
// conventions for locks); error.type is the semantic-convention key.
const (
	AttrName      = attribute.Key("lock.name")
	AttrKind      = attribute.Key("lock.kind")
	AttrMode      = attribute.Key("lock.mode")
	AttrOutcome   = attribute.Key("lock.outcome")
	AttrErrorType = attribute.Key("error.type")
)

// Values of lock.kind. A span is named "acquire " followed by the kind.
const (
	KindMutex     = "mutex"
	KindRWMutex   = "rwmutex"
	KindSemaphore = "semaphore"
	KindFile      = "filelock"
	KindRedis     = "redislock"
	KindLocker    = "locker" // a lock.Locker of unknown kind
)

// Values of lock.mode, for locks with a read and a write side.
const (
	ModeRead  = "read"
	ModeWrite = "write"
)

// A Recorder records the events of one lock (one name, kind and mode)
// through an [Instrumentation]. Lock implementations call it: [Recorder.Acquired]
// after an acquisition that did not wait, [Recorder.Begin] and [Wait.End]
// around one that did, [Recorder.Failed] for one that failed without
// waiting, and [Recorder.Released] on release. Remote locks also call
// [Recorder.Renewed] and [Recorder.Lost].
//
// All methods are safe for concurrent use, allocate nothing on success and
// do nothing on a nil Recorder, which is what [Instrumentation.Recorder]
// returns when the instrumentation is off.
type Recorder struct {
	in       *Instrumentation
	attrs    []attribute.KeyValue // name, kind and mode
	kind     string
	span     atomic.Pointer[spanStart]  // built on the first wait
	base     options                    // attrs
	acquired options                    // attrs, outcome acquired
	failed   atomic.Pointer[failedSets] // built on the first failure
}

// options are the pre-built measurement options of one attribute set. They
// are kept as slices so that passing them allocates nothing.
type options struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

func newOptions(kv ...attribute.KeyValue) options {
	o := metric.WithAttributeSet(attribute.NewSet(kv...))
	return options{add: []metric.AddOption{o}, rec: []metric.RecordOption{o}}
}

// spanStart is the name and the start options of the recorder's spans.
type spanStart struct {
	name string
	opts []trace.SpanStartOption
}

func (r *Recorder) spanStart() *spanStart {
	if st := r.span.Load(); st != nil {
		return st
	}
	st := &spanStart{
		name: "acquire " + r.kind,
		opts: []trace.SpanStartOption{
			trace.WithSpanKind(trace.SpanKindInternal),
			trace.WithAttributes(r.attrs...),
		},
	}
	if !r.span.CompareAndSwap(nil, st) {
		st = r.span.Load()
	}
	return st
}

// failedSets are the measurement options of the failure classes.
type failedSets [numClasses]options

// Recorder returns the recorder of the lock called name, of the given kind
// (one of the Kind constants, or another short lowercase word) and mode
// ("" for a lock with a single mode). It returns nil if in is off.
func (in *Instrumentation) Recorder(kind, name, mode string) *Recorder {
	if in.off {
		return nil
	}
	attrs := []attribute.KeyValue{AttrName.String(name), AttrKind.String(kind)}
	if mode != "" {
		attrs = append(attrs, AttrMode.String(mode))
	}
	r := &Recorder{
		in:    in,
		attrs: attrs,
		kind:  kind,
		base:  newOptions(attrs...),
	}
	r.acquired = r.outcomeOption(classNone)
	return r
}

func (r *Recorder) outcomeOption(c errClass) options {
	kv := append(r.attrs[:len(r.attrs):len(r.attrs)], AttrOutcome.String(classOutcome[c]))
	if c != classNone {
		kv = append(kv, AttrErrorType.String(classErrorType[c]))
	}
	return newOptions(kv...)
}

// resultOption returns the measurement option for the outcome of err.
func (r *Recorder) resultOption(err error) options {
	c := classify(err)
	if c == classNone {
		return r.acquired
	}
	sets := r.failed.Load()
	if sets == nil {
		sets = new(failedSets)
		for c := classNone + 1; c < numClasses; c++ {
			sets[c] = r.outcomeOption(c)
		}
		if !r.failed.CompareAndSwap(nil, sets) {
			sets = r.failed.Load()
		}
	}
	return sets[c]
}

// HoldTimed reports whether the hold duration is recorded, so that a lock
// reads the clock on its uncontended path only when it is needed.
func (r *Recorder) HoldTimed(ctx context.Context) bool {
	return r != nil && r.in.holdDuration.Enabled(ctx)
}

// Acquired records an acquisition of weight n (1 for a lock, the tokens for
// a semaphore) that did not have to wait. It starts no span.
func (r *Recorder) Acquired(ctx context.Context, n int64) {
	if r == nil {
		return
	}
	r.in.acquisitions.Add(ctx, 1, r.acquired.add...)
	r.in.holders.Add(ctx, n, r.base.add...)
}

// Failed records an acquisition that failed without waiting, for example
// because its context was done before the call.
func (r *Recorder) Failed(ctx context.Context, err error) {
	if r == nil {
		return
	}
	r.in.acquisitions.Add(ctx, 1, r.resultOption(err).add...)
}

// A Wait is an acquisition in progress that had to wait, from
// [Recorder.Begin] or [Recorder.BeginCall] to [Wait.End].
type Wait struct {
	r    *Recorder
	n    int64
	span trace.Span
}

// Begin records the start of a wait for weight n: it counts a contention
// and a waiter and starts the span "acquire {kind}". The returned context
// carries the span; pass it to the waiting call so that its own spans (a
// network round trip) become children. End the wait with [Wait.End].
func (r *Recorder) Begin(ctx context.Context, n int64) (context.Context, Wait) {
	if r == nil {
		return ctx, Wait{}
	}
	r.in.contentions.Add(ctx, 1, r.base.add...)
	return r.BeginCall(ctx, n)
}

// BeginCall is Begin for an acquisition that may or may not wait, such as
// one that goes over the network or one of a lock that cannot be tried
// without waiting: it counts a waiter and starts the span, but no
// contention.
func (r *Recorder) BeginCall(ctx context.Context, n int64) (context.Context, Wait) {
	if r == nil {
		return ctx, Wait{}
	}
	r.in.waiters.Add(ctx, 1, r.base.add...)
	st := r.spanStart()
	ctx, span := r.in.tracer.Start(ctx, st.name, st.opts...)
	return ctx, Wait{r: r, n: n, span: span}
}

// Contended counts a contention for an acquisition begun with BeginCall
// that then had to wait for another holder, and adds the event
// "lock contended" to the span in ctx, if it records.
func (r *Recorder) Contended(ctx context.Context) {
	if r == nil {
		return
	}
	r.in.contentions.Add(ctx, 1, r.base.add...)
	if span := trace.SpanFromContext(ctx); span.IsRecording() {
		span.AddEvent("lock contended", trace.WithAttributes(r.attrs...))
	}
}

// End records the result of the wait: err is the acquisition's error (nil
// if the lock is now held) and waited how long the call took. A failure
// sets the span's status to Error and its error.type attribute.
func (w Wait) End(ctx context.Context, err error, waited time.Duration) {
	r := w.r
	if r == nil {
		return
	}
	in := r.in
	opt := r.resultOption(err)
	in.waiters.Add(ctx, -1, r.base.add...)
	in.acquisitions.Add(ctx, 1, opt.add...)
	in.waitDuration.Record(ctx, waited.Seconds(), opt.rec...)
	if err == nil {
		in.holders.Add(ctx, w.n, r.base.add...)
	} else if w.span.IsRecording() {
		w.span.SetStatus(codes.Error, err.Error())
		w.span.SetAttributes(AttrErrorType.String(ErrorType(err)))
	}
	w.span.End()
}

// Released records the release of weight n after a hold of held; a
// negative held (not measured, as for shared holds) records no duration.
func (r *Recorder) Released(ctx context.Context, n int64, held time.Duration) {
	if r == nil {
		return
	}
	r.in.holders.Add(ctx, -n, r.base.add...)
	if held >= 0 {
		r.in.holdDuration.Record(ctx, held.Seconds(), r.base.rec...)
	}
}

// Renewed records a lease renewal whose error is err. A successful renewal
// has the lock's attributes only; a failed one also lock.outcome and
// error.type, and is an event "lease renewal failed" on the span in ctx, if
// it records.
func (r *Recorder) Renewed(ctx context.Context, err error) {
	if r == nil {
		return
	}
	if err == nil {
		r.in.renewals.Add(ctx, 1, r.base.add...)
		return
	}
	r.in.renewals.Add(ctx, 1, r.resultOption(err).add...)
	r.event(ctx, "lease renewal failed", err)
}

// Lost records a lease lost while held, for the reason err; it is also an
// event "lease lost" on the span in ctx, if it records.
func (r *Recorder) Lost(ctx context.Context, err error) {
	if r == nil {
		return
	}
	r.in.lost.Add(ctx, 1, r.base.add...)
	r.event(ctx, "lease lost", err)
}

func (r *Recorder) event(ctx context.Context, name string, err error) {
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	kv := append(r.attrs[:len(r.attrs):len(r.attrs)], AttrErrorType.String(ErrorType(err)))
	span.AddEvent(name, trace.WithAttributes(kv...))
}
