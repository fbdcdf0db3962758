// Package sem provides a weighted semaphore whose waits can be cancelled
// through a context, that serves waiters first-in first-out, and that can be
// resized, inspected and closed.
//
// It is a drop-in for golang.org/x/sync/semaphore with these differences:
// a request larger than the size fails at once with an error instead of
// blocking until its context ends; a negative weight is an error, not a
// panic, in Acquire; the semaphore can grow and shrink ([Weighted.Resize]),
// be shut down ([Weighted.Close]) and report its size, free tokens and queue
// length.
//
// # Cancellation contract
//
// Acquire follows the module-wide contract documented in package lock: if ctx
// is done before Acquire returns, including before the call, it fails with an
// error that satisfies errors.Is(err, ctx.Err()) and carries
// context.Cause(ctx); the caller holds nothing; tokens granted to a waiter
// whose ctx ended at the same moment go to the next waiters; cancelling the
// waiter at the head of the queue wakes those behind it that now fit. No
// goroutine or timer is started per call.
//
// # Bad input and misuse
//
//	Acquire(ctx, n) with n > Size()      error wrapping ErrTooLarge: "sem: weight 5 exceeds size 3: ..."
//	Acquire(ctx, n) with n < 0           error wrapping lock.ErrInvalidArgument
//	TryAcquire(n) with n < 0 or > size   false
//	Release(n) with n < 0                panic "sem: Release(-1): negative weight"
//	Release(n) of more than is held      panic "sem: Release(3) with 2 held"
//	NewWeighted or Resize with size < 0  panic "sem: size -1 out of range [0, MaxSize]"
//	Acquire or TryAcquire after Close    ErrClosed, false
//
// A semaphore does not track who holds its weight, so a second Release is
// caught only when it releases more than is held in all.
package sem

import (
	"context"
	"fmt"
	"unsafe"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
	"github.com/codomyrmex/concurrency/internal/race"
	"github.com/codomyrmex/concurrency/internal/waitq"
	"github.com/codomyrmex/concurrency/lock"
)

// MaxSize is the largest size a Weighted supports.
const MaxSize = waitq.MaxCapacity

var (
	// ErrClosed is returned by Acquire once the semaphore is closed. It
	// wraps lock.ErrClosed.
	ErrClosed = fmt.Errorf("sem: %w", lock.ErrClosed)

	// ErrTooLarge reports a weight larger than the semaphore's size. Acquire
	// returns an error that wraps it and names both numbers, also to a
	// waiter whose weight no longer fits after Resize shrank the size. It
	// wraps lock.ErrInvalidArgument.
	ErrTooLarge = fmt.Errorf("sem: weight exceeds size: %w", lock.ErrInvalidArgument)
)

// tooLarge is the error of a weight n that exceeds the size.
type tooLarge struct{ n, size int64 }

func (e *tooLarge) Error() string {
	return fmt.Sprintf("sem: weight %d exceeds size %d: %v", e.n, e.size, lock.ErrInvalidArgument)
}

func (e *tooLarge) Unwrap() error { return ErrTooLarge }

// Weighted provides a way to bound concurrent access to a resource. Callers
// request access with a given weight.
//
// Waiters are served in FIFO order with head-of-line blocking: a waiter that
// does not fit stops those behind it, so a large request is never starved by
// a stream of small ones, and a Release wakes waiters only as far as they
// fit. TryAcquire never takes tokens while anyone is queued.
//
// In the terminology of the Go memory model, a Release synchronizes before
// any Acquire or TryAcquire that it makes possible.
//
// The zero value is a semaphore of size 0; use NewWeighted. A Weighted must
// not be copied after first use.
type Weighted struct {
	_ noCopy
	q waitq.Queue
}

// NewWeighted creates a semaphore with the given size: the combined weight
// that may be held at once. It panics if size is negative or over MaxSize.
func NewWeighted(size int64, opts ...Option) *Weighted {
	checkSize(size)
	s := new(Weighted)
	for _, o := range opts {
		o.apply(s)
	}
	s.q.SetExtra(size, 0)
	return s
}

// An Option configures a Weighted.
type Option interface{ apply(*Weighted) }

type maxWaiters int

func (n maxWaiters) apply(s *Weighted) { s.q.SetMaxWaiters(int(n)) }

// WithMaxWaiters bounds the queue of waiters: an Acquire that would have to
// wait behind n waiters fails at once with a *lock.TooManyWaitersError,
// holding nothing. It guards against unbounded growth when callers arrive faster
// than tokens are released. n ≤ 0 means no bound (the default). See
// [Weighted.SetMaxWaiters] to change the bound later.
func WithMaxWaiters(n int) Option { return maxWaiters(n) }

// Acquire acquires the semaphore with a weight of n, blocking until the
// tokens are granted or ctx is done. On success it returns nil. On failure
// it holds nothing and returns the context's error (see the package
// documentation), ErrClosed, an error wrapping ErrTooLarge if n exceeds the
// size, a *lock.TooManyWaitersError if it would have to wait behind as many
// waiters as the bound allows, or an error wrapping lock.ErrInvalidArgument
// if n is negative.
//
// A weight of 0 succeeds at once (unless ctx is done or the semaphore is
// closed), even with waiters queued: it takes nothing, so it cannot overtake
// anyone.
func (s *Weighted) Acquire(ctx context.Context, n int64) error {
	if n <= 0 || n > MaxSize {
		return s.acquireOutOfRange(ctx, n)
	}
	if err := s.q.Acquire(ctx, n, 0); err != nil {
		return s.acquireError(err, n)
	}
	if race.Enabled {
		race.Acquire(unsafe.Pointer(s))
	}
	return nil
}

// acquireOutOfRange handles the weights the queue must never see: negative
// ones, weights over MaxSize (which could overflow its arithmetic) and 0.
func (s *Weighted) acquireOutOfRange(ctx context.Context, n int64) error {
	if n < 0 {
		return fmt.Errorf("sem: negative weight %d: %w", n, lock.ErrInvalidArgument)
	}
	if n > MaxSize {
		return &tooLarge{n, s.Size()}
	}
	if err := ctxerr.From(ctx); err != nil {
		return err
	}
	if s.q.Closed() {
		return ErrClosed
	}
	if race.Enabled {
		race.Acquire(unsafe.Pointer(s))
	}
	return nil
}

// acquireError maps an error of the queue to the one Acquire of weight n
// returns.
func (s *Weighted) acquireError(err error, n int64) error {
	switch err {
	case waitq.ErrClosed:
		return ErrClosed
	case waitq.ErrTooLarge:
		return &tooLarge{n, s.Size()}
	case waitq.ErrTooManyWaiters:
		return &lock.TooManyWaitersError{Lock: "sem.Weighted", Max: s.q.MaxWaiters()}
	}
	return err
}

// TryAcquire acquires the semaphore with a weight of n without blocking and
// reports whether it did. It fails if the tokens are not free, if anyone is
// queued in Acquire, if the semaphore is closed, or if n is negative.
func (s *Weighted) TryAcquire(n int64) bool {
	if n < 0 || n > MaxSize {
		return false
	}
	ok := s.q.TryAcquire(n, 0)
	if race.Enabled && ok {
		race.Acquire(unsafe.Pointer(s))
	}
	return ok
}

// Release releases the semaphore with a weight of n and grants queued
// waiters that now fit. It panics, changing nothing, if n is negative
// ("sem: Release(-1): negative weight") or more than the weight held
// ("sem: Release(3) with 2 held").
func (s *Weighted) Release(n int64) {
	if race.Enabled {
		race.ReleaseMerge(unsafe.Pointer(s))
	}
	if n < 0 || !s.q.Release(n, 0) {
		s.badRelease(n)
	}
}

func (s *Weighted) badRelease(n int64) {
	if n < 0 {
		panic(fmt.Sprintf("sem: Release(%d): negative weight", n))
	}
	panic(fmt.Sprintf("sem: Release(%d) with %d held", n, s.q.Used()))
}

// Resize sets the size of the semaphore, then grants queued waiters that now
// fit and fails those whose weight exceeds the new size with an error
// wrapping ErrTooLarge.
// Tokens already held are never revoked: after a shrink below the weight in
// use, Available is 0 and no Acquire succeeds until enough is released.
// Resize panics if size is negative or over MaxSize.
func (s *Weighted) Resize(size int64) {
	checkSize(size)
	s.q.SetExtra(size, 0)
}

// SetMaxWaiters bounds the goroutines waiting in Acquire, as WithMaxWaiters
// does: an Acquire that would have to wait behind n waiters fails at once
// with a *lock.TooManyWaitersError, holding nothing. n ≤ 0 removes the bound. It may
// be called at any time, also concurrently with Acquire; waiters already
// queued are not affected, even when there are more of them than n.
func (s *Weighted) SetMaxWaiters(n int) {
	s.q.SetMaxWaiters(n)
}

// Close shuts the semaphore down: every queued Acquire and every later one
// fails with ErrClosed and TryAcquire fails. Tokens held stay held and may
// still be released. Close is idempotent.
func (s *Weighted) Close() {
	s.q.Close()
}

// Size returns the current size of the semaphore.
func (s *Weighted) Size() int64 { return s.q.Extra() }

// Available returns the weight that could be acquired now if nobody were
// queued: the size minus the weight held, or 0 if more is held than the size
// after a shrink. The answer may be stale by the time it is used.
func (s *Weighted) Available() int64 { return max(0, s.q.Extra()-s.q.Used()) }

// Waiters returns the number of callers queued in Acquire.
func (s *Weighted) Waiters() int { return s.q.Waiters() }

func checkSize(size int64) {
	if size < 0 || size > MaxSize {
		panic(fmt.Sprintf("sem: size %d out of range [0, MaxSize]", size))
	}
}

// noCopy lets go vet's copylocks check report copies of a Weighted.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
