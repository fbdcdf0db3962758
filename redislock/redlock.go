package redislock

import (
	"fmt"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/lock"
)

// NewRedlock returns a Client that keeps each lock on a majority of
// independent Redis servers, following the Redlock algorithm: an acquire
// runs the obtain script on every server in parallel, each bounded by the
// lease's validity, and succeeds when a quorum (len(rdbs)/2 + 1) granted it
// and the validity, counted from before the requests were sent, has not
// run out; otherwise the servers that granted it are released at once.
// Renewals and releases go to every server and need a quorum too, so a
// lease survives the loss of a minority of the servers. Waiters are
// notified through a subscription on the first server, and fall back to
// timed re-checks while it is down.
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
