// Package concurrency is the root of a context-first concurrency toolkit:
// locks, semaphores and reader/writer locks that behave the same way inside
// one process, across processes on one host, and across hosts. It has no
// API of its own; import the subpackage you need, and nothing else comes
// along.
//
//   - [github.com/codomyrmex/concurrency/lock]: the [lock.Locker] contract
//     every lock satisfies, the module's sentinel errors, and a Mutex whose
//     Lock(ctx) can be cancelled.
//   - [github.com/codomyrmex/concurrency/sem]: a weighted, FIFO-fair,
//     cancellable semaphore that can be resized, closed and inspected.
//   - [github.com/codomyrmex/concurrency/rw]: a cancellable reader/writer
//     lock in which neither side starves, with an atomic Downgrade.
//   - [github.com/codomyrmex/concurrency/manager]: named locks of any kind,
//     acquired all or nothing in one canonical order, with statistics.
//   - [github.com/codomyrmex/concurrency/filelock]: reader/writer locks on
//     files between processes (flock(2) or OFD locks, Linux) that also
//     exclude goroutines of the same process.
//   - [github.com/codomyrmex/concurrency/redislock]: leases on Redis,
//     renewed by a watchdog, with a lost-lease signal, fencing tokens and
//     notified waiting; single server, Sentinel, Cluster and Redlock; a
//     mutex, a weighted semaphore and a reader/writer lock.
//   - [github.com/codomyrmex/concurrency/telemetry]: OpenTelemetry spans
//     and metrics for the in-process locks.
//
// Every call that can block takes a [context.Context]. If the context ends
// first, the call fails with an error that satisfies errors.Is(err,
// ctx.Err()), holds nothing, and leaves no goroutine or timer behind;
// package lock documents the contract in full.
package concurrency
