package redislock

import (
	"context"
	"fmt"

	"github.com/codomyrmex/concurrency/lock"
)

// MaxSemaphoreSize bounds a semaphore's size and the weights taken of it:
// 2^53-1, the largest integer that the script's Lua numbers hold exactly.
const MaxSemaphoreSize = 1<<53 - 1

// kindSemaphore is the lock.kind of a semaphore's telemetry.
const kindSemaphore = "redissemaphore"

// A Semaphore is a weighted semaphore kept in Redis: leases take shares
// of its size, and the weight they hold together never exceeds it (on a
// single deployment, within the limits of a Redis lock: see the package
// documentation). Each lease is the Lease of one holder, with its own
// token, its own expiry in Redis, a watchdog, a lost-lease signal and a
// fencing token, as a mutex's lease has. Waiters are served in FIFO order
// with head-of-line blocking, across goroutines, Clients and processes:
// a request that does not fit stops those behind it, so a large one is
// never starved by small ones. See the package documentation, section
// Semaphores, for the protocol and its keys.
//
// A Semaphore is safe for concurrent use. Its methods report a bad name,
// size or option given to NewSemaphore.
type Semaphore struct {
	c    *Client
	t    semTarget
	spec spec  // the acquisitions': name, target, options and recorder
	err  error // a bad name, size or option, reported by every call
}

// NewSemaphore returns the semaphore called name, of the given size (1 to
// MaxSemaphoreSize). The options override the Client's defaults for its
// leases; a bad name, size or option is reported by its methods.
//
// The size lives in Redis with the semaphore: the first call to reach
// Redis stores the size its Semaphore was made with (or last resized to),
// and from then on the stored size governs every grant, whatever size
// another Semaphore of the name was made with; Stat reports it, and only
// Resize changes it. On a Redlock, where each Semaphore computes its
// quorum from its own size, every Client must use the size stored (see
// NewRedlock).
func (c *Client) NewSemaphore(name string, size int64, opts ...Option) *Semaphore {
	cfg, err := c.config(opts)
	if err == nil {
		err = checkName(name)
	}
	if err == nil {
		err = checkSize(name, size)
	}
	s := &Semaphore{c: c, err: err}
	s.t.name, s.t.k = name, newSemKeys(cfg.base(name, "sem"))
	s.t.setSize(size)
	s.spec = spec{name: name, t: &s.t, local: s.t.k.sem, cfg: cfg, rec: c.semRecs.Get(name)}
	return s
}

// checkSize reports a semaphore size out of range.
func checkSize(name string, size int64) error {
	if size < 1 || size > MaxSemaphoreSize {
		return fmt.Errorf("redislock: size %d of semaphore %q is not between 1 and %d: %w", size, name, int64(MaxSemaphoreSize), lock.ErrInvalidArgument)
	}
	return nil
}

// Name returns the name of the semaphore.
func (s *Semaphore) Name() string { return s.t.name }

// Acquire takes n of the semaphore's weight and returns the lease that
// holds it, waiting while it does not fit or others wait before it.
//
// A call that cannot take its weight at once queues in Redis, behind the
// waiters that came before it, whatever their Client or process: each
// waiting call has its own place in the queue (goroutines of one Client
// do not queue locally, unlike a mutex's), and a release, a renewal or
// the end of a holder's lease grants the waiters at the head of the
// queue for as long as their weight fits, with one message to each one's
// Client. A waiter whose weight does not fit stops those behind it. The
// wait and its bounds are those of Client.Obtain: ctx bounds the wait and
// the hold (the lease ends when ctx does), the queue entry is refreshed
// every third of its lifetime, Redis errors are retried with backoff.
//
// It fails with an error wrapping lock.ErrInvalidArgument for n below 1
// or above MaxSemaphoreSize, for n above the size stored in Redis (the
// error names both; also when a Resize shrinks the semaphore below n
// while the call waits), and for a bad name, size or option given to
// NewSemaphore; with the errors of Client.Obtain otherwise.
func (s *Semaphore) Acquire(ctx context.Context, n int64) (*Lease, error) {
	return s.take(ctx, ctx, n, true)
}

// TryAcquire is Acquire without waiting: it makes one attempt, and fails
// with an error wrapping lock.ErrNotAcquired if n does not fit or any
// waiter is queued (a try never overtakes the queue). It does not queue.
// ctx bounds the attempt and the hold, as for Acquire.
func (s *Semaphore) TryAcquire(ctx context.Context, n int64) (*Lease, error) {
	return s.take(ctx, ctx, n, false)
}

// take acquires n of s. ctx bounds the acquisition, holdCtx the lease.
func (s *Semaphore) take(ctx, holdCtx context.Context, n int64, wait bool) (*Lease, error) {
	if s.err != nil {
		return nil, s.err
	}
	if n < 1 || n > MaxSemaphoreSize {
		return nil, fmt.Errorf("redislock: weight %d for semaphore %q is not between 1 and %d: %w", n, s.t.name, int64(MaxSemaphoreSize), lock.ErrInvalidArgument)
	}
	sp := s.spec
	sp.weight, sp.weightArg = n, n
	return s.c.acquire(ctx, holdCtx, &sp, wait)
}

// Resize sets the size of the semaphore in Redis to size (1 to
// MaxSemaphoreSize), and from then on this Semaphore's calls pass it (see
// NewSemaphore). It revokes nothing: after a shrink below the weight
// held, nobody is granted until enough is released. Waiters that now fit
// are granted; waiters whose weight exceeds the new size fail with an
// error wrapping lock.ErrInvalidArgument that names both.
//
// On a Redlock, Resize must reach every server, or their sizes differ: it
// then fails, naming how many it reached, and the Semaphore goes on with
// the larger of the old and the new size, whose quorum is safe for both.
// Call it again until it succeeds.
//
// The call is bounded by ctx. A size out of range is an error wrapping
// lock.ErrInvalidArgument, and nothing changes.
func (s *Semaphore) Resize(ctx context.Context, size int64) error {
	if s.err != nil {
		return s.err
	}
	if err := checkSize(s.t.name, size); err != nil {
		return err
	}
	if s.c.isClosed() {
		return errClosed
	}
	old := s.t.sizeOf()
	replies, err := s.c.tr.query(ctx, queryCall{t: &s.t, op: opResize, size: size})
	n := s.c.tr.nodes()
	if len(replies) == n {
		s.t.setSize(size)
		return nil
	}
	s.t.setSize(max(old, size))
	if n == 1 {
		return fmt.Errorf("redislock: resize semaphore %q: %w", s.t.name, err)
	}
	return fmt.Errorf("redislock: resize semaphore %q to %d reached %d of %d servers: %w", s.t.name, size, len(replies), n, err)
}

// A SemaphoreStat is the state of a semaphore in Redis.
type SemaphoreStat struct {
	Size    int64 // the size stored, which governs the grants
	Held    int64 // the weight that live leases hold; -1 if unknown (a key was deleted or evicted)
	Waiting int64 // the calls queued
	Holders int64 // the live leases
}

// Stat returns the state of the semaphore in Redis, after reclaiming the
// weight of leases that ended without a release and granting the waiters
// that then fit, as every call of the semaphore's script does. The answer
// may be stale by the time it is used. On a Redlock, where waiters do not
// queue, it asks every server and returns the largest figures among the
// answers, and fails unless as many servers answer as a lease needs.
// The call is bounded by ctx.
func (s *Semaphore) Stat(ctx context.Context) (SemaphoreStat, error) {
	if s.err != nil {
		return SemaphoreStat{}, s.err
	}
	if s.c.isClosed() {
		return SemaphoreStat{}, errClosed
	}
	replies, err := s.c.tr.query(ctx, queryCall{t: &s.t, op: opStat})
	if need := s.t.quorum(s.c.tr.nodes()); len(replies) < need {
		return SemaphoreStat{}, fmt.Errorf("redislock: stat semaphore %q: %d servers answered, %d needed: %w", s.t.name, len(replies), need, err)
	}
	var st SemaphoreStat
	for i, r := range replies {
		if i == 0 || r[0] > st.Size {
			st.Size = r[0]
		}
		if i == 0 || r[1] > st.Held {
			st.Held = r[1]
		}
		st.Waiting, st.Holders = max(st.Waiting, r[2]), max(st.Holders, r[3])
	}
	return st, nil
}
