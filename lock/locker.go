package lock

import "context"

// Locker is a sync.Locker whose wait honours a context.
//
// Lock blocks until the lock is held or ctx is done. It returns nil if and
// only if the caller now holds the lock. Otherwise the caller holds nothing,
// and if ctx ended the wait the error satisfies errors.Is(err, ctx.Err()) and
// errors.Is(err, context.Cause(ctx)).
//
// Unlock releases a lock held by a successful Lock. Locks that can fail to
// release (remote ones) report that failure through their own Release
// method; Unlock never blocks indefinitely.
//
// Every lock in this module satisfies Locker, so code that orders or
// instruments locks (such as a lock manager) can hold any mix of them.
type Locker interface {
	Lock(ctx context.Context) error
	Unlock()
}
