package redislock

import (
	"errors"
	"math/rand/v2"
	"time"

	"github.com/redis/go-redis/v9"
)

// Timing of waits that no notification ends.
const (
	// minBackoff and maxBackoff bound the jittered exponential backoff
	// after a failed Redis call.
	minBackoff = 10 * time.Millisecond
	maxBackoff = time.Second
	// maxWait bounds any one wait for a lock held by another token, even
	// when its TTL is longer: a safety net for a lost notification.
	maxWait = 2 * time.Second
	// unreachableFor bounds how long an acquire goes on trying a server
	// that it cannot connect to (see Obtain): longer than a restart or the
	// second for which go-redis answers with its last dial error without
	// dialing, once dials have failed often.
	unreachableFor = 2 * time.Second
)

// The wait queue (see lua/obtain.lua). A waiter renews its entry with every
// attempt, at least every maxWait, so an entry outlives a live waiter; one
// left by a waiter that died expires after queueEntry. A release hands the
// lock to the first waiter, reserving it for reserved; if that waiter is
// gone, the others take the lock when the reservation expires.
const reserved = 500 * time.Millisecond

// The scripts' arguments for the wait queue: the obtain script's ARGV[3]
// for a caller that waits and for one that does not, and the release
// script's ARGV[3].
var (
	queueEntry  = newMillis(maxWait + time.Second)
	noQueue     = newMillis(0)
	reservation = newMillis(reserved)
)

// jitter returns a random duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// transientReplies are the error replies of a server that is starting,
// busy, failing over or full, after which an acquire may succeed later.
var transientReplies = []string{"LOADING", "BUSY", "TRYAGAIN", "CLUSTERDOWN", "MASTERDOWN", "READONLY", "NOREPLICAS", "OOM"}

// retryable reports whether an acquire that failed with err may succeed if
// tried again: transport errors and transient error replies. Other error
// replies (NOPERM, WRONGTYPE, a script error) and a closed go-redis client
// will not go away by waiting.
func retryable(err error) bool {
	if errors.Is(err, redis.ErrClosed) {
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
