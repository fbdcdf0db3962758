package redislock

import (
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/lock"
)

// NewRedlock returns a Client that keeps each lock on a majority of
// independent Redis servers, following the Redlock algorithm: an acquire
// runs the obtain script on every server in parallel and succeeds when a
// quorum (len(rdbs)/2 + 1) granted it and the validity, counted from before
// the requests were sent, has not run out. It returns as soon as the
// outcome is known: a quorum granted, too few servers are left to make one,
// or, while the outcome is open, after a per-node timeout small against
// the TTL (a twentieth of it, between 10ms and 50ms), so that a silent
// server costs nobody more than that. The calls still in flight carry on in
// the background until the validity runs out, so that the lock lands on
// every server that answers. A failed attempt is given back in the
// background (at once, and again once every server has answered), and the
// next attempt uses a new token, after a random delay when contenders
// split the servers between them. Renewals and releases go to every server
// and need a quorum too, so a lease survives the loss, or the silence, of a
// minority of the servers. Waiters are notified through a subscription on
// the first server, and fall back to timed re-checks while it is down.
//
// Use an odd number of servers, at least three, that share nothing: no
// replication between them, and restarts delayed by more than the longest
// TTL or with AOF fsync always, or a restarted server can hand a lock out
// again. Redlock buys availability, not correctness: it is still an
// efficiency lock under process pauses and clock jumps (see the package
// documentation), and it has no fencing token, because counters on
// independent servers do not form one sequence: Fence returns 0 for its
// leases.
//
// The servers must be distinct go-redis clients, each as New requires.
func NewRedlock(rdbs []redis.UniversalClient, opts ...Option) (*Client, error) {
	if len(rdbs) == 0 {
		return nil, fmt.Errorf("redislock: Redlock with no servers: %w", lock.ErrInvalidArgument)
	}
	return newClient(append([]redis.UniversalClient(nil), rdbs...), opts)
}
