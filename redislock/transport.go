package redislock

import (
	"context"
	"time"
)

// A transport runs a Client's scripts where its locks live, and decides
// what differs between them in an acquisition: single (single.go) for one
// Redis deployment, made by New, and redlock (redlock.go) for the
// independent servers of a Redlock, made by NewRedlock. The Client picks it
// once, when it is made.
//
// The calls are synchronous: they return when the outcome is known, and a
// ctx that is cancelled before its deadline does not interrupt them (see
// Client.interruptible), except for obtain, which is interruptible itself.
// Arguments go by value so that nothing of the caller's escapes through the
// interface.
type transport interface {
	// obtain makes one attempt to take the lock, running call, and
	// returns its outcome. It returns at once, with the context's error,
	// when ctx is cancelled; what the abandoned attempt took is then
	// given back in the background.
	obtain(ctx context.Context, call acquireCall) attempt

	// extend runs call, reporting whether the token held the lock and had
	// its TTL reset.
	extend(ctx context.Context, call extendCall) (bool, error)

	// extendAll runs calls, the renewals of several leases, together, and
	// sets each one's outcome in results (of the same length).
	extendAll(ctx context.Context, calls []extendCall, results []renewal)

	// release runs call, reporting whether the token held the lock. When
	// neither is established (calls failed) the error says why.
	release(ctx context.Context, call releaseCall) (bool, error)

	// retryToken returns the token of an acquisition's next attempt, after
	// one with tok that did not become a lease.
	retryToken(tok token) token

	// lateGrant is told that attempt o, which ran rel's token and took
	// the lock, came back after the lease's validity had run out, and
	// that the acquisition goes on with another attempt.
	lateGrant(ctx context.Context, rel releaseCall, o attempt)

	// queues reports whether waiters queue in Redis, where a release hands
	// the lock to the first of them (see hub), or poll.
	queues() bool

	// query runs call on every server, under interruptible, and returns
	// the replies of those that answered and the first error of those
	// that did not (nil if all answered).
	query(ctx context.Context, call queryCall) ([][]int64, error)

	// nodes returns the number of independent servers: 1 for one
	// deployment.
	nodes() int
}

// An attempt is the outcome of one run of the obtain script by a
// transport.
type attempt struct {
	held    bool          // the token holds the lock
	fence   int64         // if held: the fencing token (0 on a Redlock)
	retryIn time.Duration // if not: when the lock may be free (the key's PTTL); negative if unknown
	// err is why the attempt failed; the token may hold the lock or a
	// place in its queue all the same.
	err    error
	queued bool // the token may wait in the lock's queue in Redis
	down   bool // err is a failure to connect to the one server there is (see unreachableFor)
	// calls, if not nil, is closed once every call of the attempt has
	// returned: a Redlock's slower servers may still answer after it.
	calls <-chan struct{}
}
