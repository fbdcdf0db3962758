// Package rw provides a reader/writer mutual exclusion lock whose waits can
// be cancelled through a context, that serves readers and writers in arrival
// order so that neither starves, and that a writer can atomically downgrade
// to a reader.
//
// # Cancellation contract
//
// Lock and RLock follow the module-wide contract documented in package lock:
// if ctx is done before the call returns, including before the call, it
// fails with an error that satisfies errors.Is(err, ctx.Err()) and carries
// context.Cause(ctx); the caller holds nothing; a grant that races with the
// cancellation goes to the next waiters; when a queued writer gives up, the
// readers queued behind it are admitted at once. No goroutine or timer is
// started per call.
//
// # Misuse
//
// Each of these panics, changing nothing, as sync.RWMutex does:
//
//	Unlock or Downgrade of an unlocked RWMutex      "rw: Unlock of unlocked RWMutex"
//	Unlock or Downgrade of a read-locked RWMutex    "rw: Unlock of RWMutex locked for reading"
//	RUnlock of an unlocked RWMutex                  "rw: RUnlock of unlocked RWMutex"
//	RUnlock of a write-locked RWMutex               "rw: RUnlock of RWMutex locked for writing"
//
// (Downgrade's messages name Downgrade.) A second Unlock or RUnlock is
// caught as one of these unless other goroutines hold the lock by then: an
// RWMutex does not know which goroutine holds which read lock. Recursive
// read locking is not misuse that is detected; it deadlocks once a writer
// is queued (see RWMutex).
package rw

import (
	"context"
	"unsafe"

	"github.com/codomyrmex/concurrency/internal/race"
	"github.com/codomyrmex/concurrency/internal/waitq"
	"github.com/codomyrmex/concurrency/lock"
)

// MaxReaders is the largest number of readers that can hold an RWMutex at
// once; a writer takes all MaxReaders tokens.
const MaxReaders = 1 << 30

// An RWMutex is a reader/writer mutual exclusion lock. It can be held by any
// number of readers or by a single writer. The zero value is an unlocked
// mutex. An RWMutex must not be copied after first use.
//
// Waiters are served strictly in arrival order: a reader that arrives while
// a writer waits queues behind that writer (so readers cannot starve
// writers), and a writer that arrives behind readers waits only for the
// readers ahead of it (so writers cannot starve readers). Consecutive queued
// readers are admitted together. As with sync.RWMutex, recursive read
// locking is prohibited: an RLock by a reader that already holds the read
// lock waits behind any queued writer, which waits for that reader.
//
// In the terminology of the Go memory model, the n'th call to Unlock
// synchronizes before the m'th call to Lock for any n < m, just as for
// lock.Mutex; for any call to RLock there exists an n such that the n'th
// call to Unlock synchronizes before that call to RLock, and the matching
// call to RUnlock synchronizes before the n+1'th call to Lock. Downgrade
// synchronizes like Unlock towards readers.
type RWMutex struct {
	_ noCopy
	q waitq.Queue
}

// Lock locks rw for writing, waiting in FIFO order for earlier readers and
// writers. It returns nil when rw is write-locked by the caller; otherwise
// the caller holds nothing (see the package documentation). If it would
// have to wait behind as many waiters as SetMaxWaiters allows, it fails at
// once with a *lock.TooManyWaitersError.
func (rw *RWMutex) Lock(ctx context.Context) error {
	if err := rw.q.Acquire(ctx, MaxReaders, MaxReaders); err != nil {
		return rw.acquireError(err)
	}
	if race.Enabled {
		race.Acquire(rw.readerSync())
		race.Acquire(rw.writerSync())
	}
	return nil
}

// TryLock locks rw for writing if it is free and nobody is queued, and
// reports whether it did.
func (rw *RWMutex) TryLock() bool {
	ok := rw.q.TryAcquire(MaxReaders, MaxReaders)
	if race.Enabled && ok {
		race.Acquire(rw.readerSync())
		race.Acquire(rw.writerSync())
	}
	return ok
}

// Unlock unlocks rw for writing and admits the waiters at the front of the
// queue: one writer, or all the readers before the next queued writer. It
// panics if rw is not locked for writing.
func (rw *RWMutex) Unlock() {
	if race.Enabled {
		race.Release(rw.readerSync())
	}
	if !rw.q.Release(MaxReaders, MaxReaders) {
		rw.misuse("Unlock")
	}
}

// RLock locks rw for reading, waiting behind any writer that holds or has
// queued for rw. It returns nil when the caller holds a read lock; otherwise
// the caller holds nothing (see the package documentation). If it would
// have to wait behind as many waiters as SetMaxWaiters allows, it fails at
// once with a *lock.TooManyWaitersError.
func (rw *RWMutex) RLock(ctx context.Context) error {
	if err := rw.q.Acquire(ctx, 1, MaxReaders); err != nil {
		return rw.acquireError(err)
	}
	if race.Enabled {
		race.Acquire(rw.readerSync())
	}
	return nil
}

// acquireError maps an error of the queue to the one Lock and RLock return.
func (rw *RWMutex) acquireError(err error) error {
	if err == waitq.ErrTooManyWaiters {
		return &lock.TooManyWaitersError{Lock: "rw.RWMutex", Max: rw.q.MaxWaiters()}
	}
	return err
}

// SetMaxWaiters bounds the goroutines waiting in Lock and RLock, readers
// and writers alike: a call that would have to wait behind n waiters fails
// at once with a *lock.TooManyWaitersError, holding nothing.
// A reader admitted at once, because no writer holds rw or is queued, never
// waits and is never refused. n ≤ 0 removes the bound (the default). It may
// be called at any time, also concurrently with Lock and RLock; waiters
// already queued are not affected, even when there are more of them than
// n. TryLock and TryRLock never wait and are not affected.
func (rw *RWMutex) SetMaxWaiters(n int) {
	rw.q.SetMaxWaiters(n)
}

// TryRLock locks rw for reading if no writer holds it and nobody is queued,
// and reports whether it did.
func (rw *RWMutex) TryRLock() bool {
	ok := rw.q.TryAcquire(1, MaxReaders)
	if race.Enabled && ok {
		race.Acquire(rw.readerSync())
	}
	return ok
}

// RUnlock undoes a single RLock (or Downgrade). It panics if rw is not
// read-locked: "rw: RUnlock of unlocked RWMutex", or "rw: RUnlock of
// RWMutex locked for writing", changing nothing.
func (rw *RWMutex) RUnlock() {
	if race.Enabled {
		race.ReleaseMerge(rw.writerSync())
	}
	if !rw.q.ReleaseBelow(1, MaxReaders, MaxReaders) {
		if rw.q.Used() >= MaxReaders {
			panic("rw: RUnlock of RWMutex locked for writing")
		}
		panic("rw: RUnlock of unlocked RWMutex")
	}
}

// Downgrade atomically turns the caller's write lock into a read lock: no
// writer can take rw in between, and the readers queued at the front are
// admitted with it. Release the read lock with RUnlock. It panics if rw is
// not locked for writing.
func (rw *RWMutex) Downgrade() {
	if race.Enabled {
		race.Release(rw.readerSync())
	}
	if !rw.q.Release(MaxReaders-1, MaxReaders) {
		rw.misuse("Downgrade")
	}
}

// misuse panics for a write-side call (Unlock or Downgrade) on rw, which
// is not locked for writing.
func (rw *RWMutex) misuse(call string) {
	if rw.q.Used() > 0 {
		panic("rw: " + call + " of RWMutex locked for reading")
	}
	panic("rw: " + call + " of unlocked RWMutex")
}

// RLocker returns the read side of rw as a lock.Locker: its Lock calls
// rw.RLock and its Unlock calls rw.RUnlock.
func (rw *RWMutex) RLocker() lock.Locker { return (*rlocker)(rw) }

type rlocker RWMutex

func (r *rlocker) Lock(ctx context.Context) error { return (*RWMutex)(r).RLock(ctx) }
func (r *rlocker) Unlock()                        { (*RWMutex)(r).RUnlock() }

// Waiters returns the number of readers and writers queued for rw.
func (rw *RWMutex) Waiters() int { return rw.q.Waiters() }

// readerSync and writerSync are the addresses on which the race detector is
// told about rw's edges, as in sync.RWMutex: readers acquire what writers
// release, and writers acquire what readers release.
func (rw *RWMutex) readerSync() unsafe.Pointer { return unsafe.Pointer(&rw.q) }
func (rw *RWMutex) writerSync() unsafe.Pointer { return unsafe.Add(unsafe.Pointer(&rw.q), 1) }

// noCopy lets go vet's copylocks check report copies of an RWMutex.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
