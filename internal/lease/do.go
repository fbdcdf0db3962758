package lease

import (
	"context"
	"errors"
	"fmt"

	"github.com/codomyrmex/concurrency/lock"
)

// Do is a backend's Do for the lock called name: it obtains a lease with
// obtain, runs fn with the lease's context and the lease, and releases the
// lease when fn returns, panics or calls runtime.Goexit, under
// context.WithoutCancel(ctx) with a timeout of CleanupTimeout. It returns
// obtain's error, or fn's joined with the release's. A nil fn is an error
// wrapping lock.ErrInvalidArgument, and obtain is not called.
func Do[L Lease](ctx context.Context, b *Backend, name string, fn func(context.Context, L) error, obtain func(context.Context) (L, error)) (err error) {
	if fn == nil {
		return fmt.Errorf("%s: Do %q with a nil function: %w", b.name, name, lock.ErrInvalidArgument)
	}
	l, err := obtain(ctx)
	if err != nil {
		return err
	}
	defer func() {
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), CleanupTimeout)
		defer cancel()
		err = errors.Join(err, l.Release(rctx))
	}()
	return fn(l.Context(), l)
}
