// Package lockotel is the OpenTelemetry engine of every lock in the module:
// the instruments of one instrumentation scope ([Instrumentation]), the
// recorder of one lock ([Recorder]) with the one sequence that records an
// acquisition that waits ([Recorder.Wait]), the recorders of many locks
// kept by name ([Recorders]), and the stable values of the attributes
// (lock.kind, lock.mode, lock.outcome, error.type).
//
// The instrumented packages (telemetry's wrappers, filelock, redislock,
// etcdlock, manager) each take WithTracerProvider and WithMeterProvider
// options of their own, which set [Providers] with [Providers.SetTracer]
// and [Providers.SetMeter], and pass the providers here; users never
// import this package.
package lockotel
