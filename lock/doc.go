// Package lock defines the contract that every lock in this module satisfies
// ([Locker]), the sentinel errors the module reports, and [Mutex], an
// in-process mutual exclusion lock whose Lock can be cancelled.
//
// # Cancellation contract
//
// Every call in this module that can block takes a [context.Context] and
// obeys the same rules:
//
//   - If ctx is done before the call returns, the call fails with an error
//     that satisfies errors.Is(err, ctx.Err()) and carries context.Cause(ctx)
//     (errors.Is(err, context.Cause(ctx)) also holds). A ctx that is already
//     done fails the call even when the lock is free.
//   - A call that fails holds nothing. A grant that races with the
//     cancellation is handed on to the next waiter, never leaked.
//   - Cancelling the waiter at the head of a queue wakes the waiters behind
//     it that can now proceed.
//   - No goroutine, timer or context.AfterFunc outlives the call.
package lock
