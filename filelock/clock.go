package filelock

import "time"

// A stamp is a reading of the monotonic clock: nanoseconds since the
// package was initialized, plus one. Zero means the clock was not read.
// Reading only the monotonic clock costs about half of time.Now.
type stamp int64

var epoch = time.Now()

func now() stamp { return stamp(time.Since(epoch)) + 1 }

// until returns the time from s to e, or -1 if either was not read.
func (s stamp) until(e stamp) time.Duration {
	if s == 0 || e == 0 {
		return -1
	}
	return time.Duration(e - s)
}
