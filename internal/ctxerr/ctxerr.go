// Package ctxerr builds the error that every blocking call in the module
// returns when its context ends first.
package ctxerr

import "context"

// From returns an error for a done ctx that satisfies
// errors.Is(err, ctx.Err()) and errors.Is(err, context.Cause(ctx)).
// It returns nil while ctx is not done.
func From(ctx context.Context) error {
	err := ctx.Err()
	if err == nil {
		return nil
	}
	cause := context.Cause(ctx)
	if cause == nil || cause == err {
		return err
	}
	return &causeError{err: err, cause: cause}
}

// causeError carries both the context's error (Canceled or
// DeadlineExceeded) and the cause the canceller gave.
type causeError struct {
	err, cause error
}

func (e *causeError) Error() string { return e.err.Error() + ": " + e.cause.Error() }

func (e *causeError) Unwrap() []error { return []error{e.err, e.cause} }
