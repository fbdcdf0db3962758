package redislock

import (
	"math/rand/v2"
	"time"
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
)

// jitter returns a random duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// drift is the margin taken off a lease's TTL for clock drift between this
// process and the server (as in Redlock): 1% plus a millisecond.
func drift(ttl time.Duration) time.Duration {
	return ttl/100 + time.Millisecond
}
