// Package check holds the oracles of the reliability suite: checkers that
// every primitive of the module (in-process, file and Redis locks) can feed
// from a real concurrent run and that report a violation precisely.
//
//   - Hold intervals ([Interval], [Exclusive], [WithinCapacity]): each hold
//     is stamped with [Now], a monotonic clock shared by every process on the
//     host; no two exclusive holds may overlap and the weight held at any
//     instant may not exceed a capacity. An [IntervalLog] lets each process
//     write its holds to its own file; [ReadIntervalLogs] merges them.
//   - A counter oracle ([Store], [Increment], [CheckCount]): a deliberately
//     non-atomic read-modify-write of a value outside the lock under test,
//     once per critical section; a lost update shows as a short count.
//   - Linearizability ([History], [CheckMutex], [CheckSemaphore]): acquire and
//     release operations recorded from a real run are checked with porcupine
//     against a sequential mutex or semaphore model. Failed acquires hold
//     nothing; ambiguous ones may or may not have taken effect.
//   - Fencing ([Fence], [FileFence]): a simulated protected resource that
//     rejects writes carrying a token lower than the highest it has seen.
//
// Every checker is safe for concurrent use unless its documentation says
// otherwise, and none of them starts a goroutine that outlives a call.
package check
