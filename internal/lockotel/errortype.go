package lockotel

import (
	"context"
	"errors"

	"github.com/codomyrmex/concurrency/lock"
)

// Values of the error.type attribute. Each is stable: dashboards and alerts
// may depend on it.
const (
	ErrorTypeTimeout         = "timeout"          // context.DeadlineExceeded
	ErrorTypeCanceled        = "canceled"         // context.Canceled
	ErrorTypeNotAcquired     = "not_acquired"     // lock.ErrNotAcquired
	ErrorTypeNotHeld         = "not_held"         // lock.ErrNotHeld
	ErrorTypeLockLost        = "lock_lost"        // lock.ErrLockLost
	ErrorTypeClosed          = "closed"           // lock.ErrClosed
	ErrorTypeInvalidArgument = "invalid_argument" // lock.ErrInvalidArgument
	ErrorTypeTooManyWaiters  = "too_many_waiters" // lock.ErrTooManyWaiters
	ErrorTypeOther           = "_OTHER"           // anything else
)

// Values of the lock.outcome attribute.
const (
	OutcomeAcquired = "acquired"
	OutcomeTimeout  = "timeout"
	OutcomeCanceled = "canceled"
	OutcomeFailed   = "failed"
)

// errClass enumerates the classes of error.type, indexing pre-built
// attribute sets; classNone is success.
type errClass uint8

const (
	classNone errClass = iota
	classTimeout
	classCanceled
	classNotAcquired
	classNotHeld
	classLockLost
	classClosed
	classInvalidArgument
	classTooManyWaiters
	classOther
	numClasses
)

var classErrorType = [numClasses]string{
	classTimeout:         ErrorTypeTimeout,
	classCanceled:        ErrorTypeCanceled,
	classNotAcquired:     ErrorTypeNotAcquired,
	classNotHeld:         ErrorTypeNotHeld,
	classLockLost:        ErrorTypeLockLost,
	classClosed:          ErrorTypeClosed,
	classInvalidArgument: ErrorTypeInvalidArgument,
	classTooManyWaiters:  ErrorTypeTooManyWaiters,
	classOther:           ErrorTypeOther,
}

var classOutcome = [numClasses]string{
	classNone:            OutcomeAcquired,
	classTimeout:         OutcomeTimeout,
	classCanceled:        OutcomeCanceled,
	classNotAcquired:     OutcomeFailed,
	classNotHeld:         OutcomeFailed,
	classLockLost:        OutcomeFailed,
	classClosed:          OutcomeFailed,
	classInvalidArgument: OutcomeFailed,
	classTooManyWaiters:  OutcomeFailed,
	classOther:           OutcomeFailed,
}

// classify returns the class of err. Context errors come first: an error
// that carries both a context error and a cancellation cause is a timeout
// or a cancellation.
func classify(err error) errClass {
	switch {
	case err == nil:
		return classNone
	case errors.Is(err, context.DeadlineExceeded):
		return classTimeout
	case errors.Is(err, context.Canceled):
		return classCanceled
	case errors.Is(err, lock.ErrLockLost):
		return classLockLost
	case errors.Is(err, lock.ErrNotAcquired):
		return classNotAcquired
	case errors.Is(err, lock.ErrNotHeld):
		return classNotHeld
	case errors.Is(err, lock.ErrClosed):
		return classClosed
	case errors.Is(err, lock.ErrInvalidArgument):
		return classInvalidArgument
	case errors.Is(err, lock.ErrTooManyWaiters):
		return classTooManyWaiters
	}
	return classOther
}

// ErrorType returns the value of the error.type attribute for err: "" for
// nil, "timeout" for an error wrapping context.DeadlineExceeded, "canceled"
// for context.Canceled, the ErrorType constant of the lock sentinel it
// wraps, or "_OTHER". An error that wraps lock.ErrLockLost is "lock_lost"
// even if it also wraps lock.ErrNotHeld.
func ErrorType(err error) string { return classErrorType[classify(err)] }

// Outcome returns the value of the lock.outcome attribute for the result of
// an acquisition: "acquired" for nil, "timeout", "canceled", or "failed".
func Outcome(err error) string { return classOutcome[classify(err)] }
