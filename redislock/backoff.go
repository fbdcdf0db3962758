package redislock

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/lock"
)

// Timing of waits that no notification ends.
const (
	// minBackoff and maxBackoff bound the jittered exponential backoff
	// after a failed Redis call.
	minBackoff = 10 * time.Millisecond
	maxBackoff = time.Second
	// unreachableFor bounds how long an acquire goes on trying a server
	// that it cannot connect to (see Obtain): longer than a restart or the
	// second for which go-redis answers with its last dial error without
	// dialing, once dials have failed often.
	unreachableFor = 2 * time.Second
)

// queueEntry is the lifetime of a waiter's entry in a lock's queue (see
// lua/lock.lua), or the lease TTL if shorter: an entry dies that long
// after the request that set it unless a refresh pushes its deadline back,
// and a lock handed to a waiter that does not take it up passes on at that
// deadline. A waiter refreshes its entry three times per lifetime, so a
// live waiter's entry never dies while one refresh is lost or late.
const queueEntry = 3 * time.Second

// jitter returns a random duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// transientReplies are the error replies of a server that is starting,
// busy, failing over or full, after which an acquire may succeed later.
var transientReplies = []string{"LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "NOREPLICAS", "OOM"}

// retryable reports whether an acquire that failed with err may succeed if
// tried again: transport errors and transient error replies. Other error
// replies (NOPERM, WRONGTYPE, a script error), a closed go-redis client
// and a weight above a semaphore's size will not go away by waiting.
func retryable(err error) bool {
	if errors.Is(err, redis.ErrClosed) || errors.Is(err, lock.ErrInvalidArgument) {
		return false
	}
	var reply redis.Error
	if !errors.As(err, &reply) {
		return true
	}
	for _, p := range transientReplies {
		if redis.HasErrorPrefix(err, p) {
			return true
		}
	}
	return false
}
