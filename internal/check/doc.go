// Package check holds the oracles of the reliability suite: checkers that
// every primitive of the module (in-process, file and Redis locks) can feed
// from a real concurrent run and that report a violation precisely.
//
//   - Hold intervals ([Interval], [Overlaps], [OverCapacity],
//     [TokenRegressions]): each hold is stamped with [Now], a monotonic clock
//     shared by every process on the host; no two exclusive holds may
//     overlap, the weight held at any instant may not exceed a capacity, and
//     fencing tokens must increase in the order of the holds. [Holds]
//     collects them in one process; an [IntervalLog] lets each process write
//     its own file, which [ReadIntervalLog] reads back, holds of killed
//     processes included.
//   - Lease grants ([Grant], [OverAdmitted], [FenceDisorders]): a lease of
//     a Redis semaphore or reader/writer lock as its holder saw it, whose
//     hold ends at its release or at the end of its validity
//     ([ValidUntil]), whichever comes first, so that a lease lost to a
//     stall counts only while it was valid; the weight such holds carry
//     at once may not exceed the size, and fencing tokens must be one per
//     grant and increase in real time, for grants held side by side too.
//     [Grants] collects them in one process.
//   - A counter oracle ([Store], [Increment], [CheckCount]): a deliberately
//     non-atomic read-modify-write of a value outside the lock under test
//     ([MemStore], [FileStore], or any other Store), once per critical
//     section; a lost update shows as a short count.
//   - Linearizability ([History], [CheckMutex], [CheckSemaphore]): acquire and
//     release operations recorded from a real run are checked with porcupine
//     against a sequential mutex or semaphore model. Failed acquires hold
//     nothing; ambiguous ones may or may not have taken effect. Processes
//     save their histories with [History.Save]; [LoadHistory] reads them
//     back for a merged check.
//   - A FIFO queue model ([FIFO], [DriveFIFO]): the sequential specification
//     of the waiter queue under lock.Mutex and sem.Weighted (grant order,
//     head-of-line blocking, cancellation, Resize, Close, the waiter bound),
//     driven step by step against the real primitive by the fuzz targets,
//     with testing/synctest settling every goroutine between steps.
//   - A phase-fair reader/writer model ([PhaseFair], [DrivePhaseFair]): the
//     sequential specification of rw.RWMutex (writers in turn, readers
//     overtaking writers not yet announced and waiting for at most one
//     write phase, cancellation, Downgrade, the waiter bound), driven the
//     same way, cancellations racing releases included.
//   - Fencing ([Fence], [FileFence]): a simulated protected resource that
//     rejects writes carrying a token lower than the highest it has seen.
//
// Every checker is safe for concurrent use unless its documentation says
// otherwise. None starts a goroutine that outlives its call, except that
// porcupine, when a check times out, returns without waiting for its
// workers, which stop on their own shortly after.
//
// The clock and [FileFence] need a Unix system; elsewhere [Now] readings of
// different processes are not comparable.
package check
