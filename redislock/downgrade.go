package redislock

import (
	"context"
	"fmt"

	"github.com/codomyrmex/concurrency/lock"
)

// The roles of an RW lock's write lease (Lease.role).
const (
	writing int32 = iota
	downgrading
	reading
)

// Downgrade turns a write lease of an RWMutex into a read lease,
// atomically: no writer can take the lock in between. The lease keeps its
// token, fencing token, context and Done channel, and its watchdog;
// release it as before. Its write phase ends, so the readers that waited
// in it enter at once, and the next writer's turn comes, to wait for all
// of them. The call is bounded by ctx and by the lease's validity.
//
// Downgrade of any other lease (a read lease, one downgraded already, a
// mutex's or a semaphore's) is an error wrapping lock.ErrInvalidArgument,
// and changes nothing. If the lease has ended, or the server no longer
// has it (the lease is then lost: Done closes), the error wraps
// lock.ErrNotHeld. On a transport or context error the outcome is
// unknown: the lease is still held, for writing or for reading, and
// counts as a write lease. Call Downgrade again; it succeeds if the first
// call took effect.
func (l *Lease) Downgrade(ctx context.Context) error {
	if side, ok := l.t.(*rwSide); !ok || side.op != opWrite {
		return fmt.Errorf("redislock: downgrade of %q: not a write lease of an RWMutex: %w", l.Name(), lock.ErrInvalidArgument)
	}
	if !l.role.CompareAndSwap(writing, downgrading) {
		return fmt.Errorf("redislock: downgrade of %q: downgraded already: %w", l.Name(), lock.ErrInvalidArgument)
	}
	if err := l.core.Renew(ctx, "downgrade", l.downgrade); err != nil {
		l.role.Store(writing)
		return err
	}
	l.role.Store(reading)
	return nil
}

// downgrade runs the downgrade for Downgrade, under interruptible, so that
// it returns when ctx is cancelled. It returns errKeyGone if the token no
// longer holds the lock. A token that the server no longer has as its
// writer may be its reader already, after a downgrade whose outcome was
// unknown: a renewal, which succeeds for a reader, tells.
func (l *Lease) downgrade(ctx context.Context) (gone, err error) {
	var ok bool
	err = l.c.interruptible(ctx, func(ctx context.Context) (err error) {
		if ok, err = l.renew(ctx, opDowngrade); err == nil && !ok {
			ok, err = l.renew(ctx, nil)
		}
		return err
	}, nil)
	if err == nil && !ok {
		return errKeyGone, nil
	}
	return nil, err
}
