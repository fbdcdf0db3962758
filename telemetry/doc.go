// Package telemetry adds OpenTelemetry spans and metrics to the in-process
// locks: packages lock, sem and rw do not depend on OpenTelemetry, so
// importing them costs nothing; to observe them, wrap a lock with
// [NewMutex], [NewRWMutex] or [NewWeighted].
//
// The other packages record the same instruments themselves, each in the
// scope of its import path and with its own WithTracerProvider and
// WithMeterProvider options: manager (every lock it manages), filelock
// (lock.kind "filelock") and redislock (lock.kind "redislock").
//
// # What is recorded
//
// Spans are started only for acquisitions that have to wait: the wrappers
// first try to take the lock without blocking, and only when that fails do
// they start a span named "acquire {kind}" (for example "acquire mutex")
// with the lock name as the attribute lock.name. An uncontended acquisition
// starts no span. A failed wait sets the span status to Error and the
// attribute error.type.
//
// The values of the attributes are stable; dashboards may depend on them.
// lock.kind is "mutex", "rwmutex", "semaphore" (the wrappers), "filelock",
// "redislock", or "locker" (a lock of unknown kind in a manager); lock.mode
// is "read" or "write" for locks with two sides; lock.outcome is
// "acquired", "timeout", "canceled" or "failed"; error.type is "timeout"
// (context.DeadlineExceeded), "canceled" (context.Canceled), "not_acquired",
// "not_held", "lock_lost", "closed", "invalid_argument", "too_many_waiters"
// (the lock package's sentinels; "lock_lost" wins over "not_held"), or
// "_OTHER".
//
// Metrics, all with the attributes lock.name and lock.kind (and lock.mode
// for reader/writer locks):
//
//	lock.wait.duration   histogram, s     time from the call to the outcome of acquisitions that waited; also lock.outcome, error.type
//	lock.hold.duration   histogram, s     time from acquisition to release of exclusive holds
//	lock.acquisitions    counter          acquisition attempts by lock.outcome and error.type
//	lock.contentions     counter          acquisitions that had to wait
//	lock.waiters         up-down counter  callers waiting now
//	lock.holders         up-down counter  holders now (tokens, for a semaphore)
//	lock.lease.renewals  counter          lease renewals by lock.outcome (remote locks)
//	lock.lease.lost      counter          leases lost while held (remote locks)
//
// Durations use explicit bucket boundaries from one microsecond to ten
// seconds, in 1-2.5-5 steps. Every scope has the module's version.
//
// # Providers and cost
//
// Every constructor takes [WithTracerProvider] and [WithMeterProvider] and
// falls back to the global providers (otel.GetTracerProvider and
// otel.GetMeterProvider) for those not given, so an SDK installed later is
// picked up. When both providers are the no-op ones of
// go.opentelemetry.io/otel/trace/noop and go.opentelemetry.io/otel/metric/noop,
// the wrappers record nothing and their uncontended paths cost one
// predictable branch; with any other provider the uncontended paths start no
// span, allocate nothing and read the clock only when the hold-duration
// histogram is enabled. With the OpenTelemetry SDK (v1.47) each measurement
// costs a few hundred nanoseconds, so an instrumented uncontended Lock and
// Unlock (four measurements) takes about a microsecond.
//
// # Misuse
//
// A lock name is only a label, so a bad one does not stop the lock; a
// missing lock does, and panics:
//
//	NewWeighted with a nil *sem.Weighted           panic "telemetry: NewWeighted with a nil *sem.Weighted"
//	NewMutex or NewRWMutex with a nil lock         not misuse: the wrapper makes a new lock
//	empty name for NewMutex, NewRWMutex or         an error wrapping lock.ErrInvalidArgument goes to
//	  NewWeighted                                  otel.Handle; the wrapper records under lock.name ""
//	Unlock, RUnlock, Downgrade or Release that     panics as the wrapped lock does (for example
//	  the wrapped lock refuses                     "lock: Unlock of unlocked Mutex"), recording nothing
//	a Mutex, RWMutex or Weighted not made by its   not usable: its methods panic
//	  constructor (the zero value)
//	locking through a wrapper and unlocking        works, but the wrapper's lock.holders stays up by one
//	  through Unwrap(), or the reverse             (or goes down by one)
//
// Providers must not panic (OpenTelemetry's API and SDK promise not to): a
// panic from a provider's tracer or instrument goes on to the caller of the
// wrapper, whether or not the lock was taken by then.
package telemetry
