//go:build unix

package check

import "golang.org/x/sys/unix"

// Now returns the CLOCK_MONOTONIC time in nanoseconds. Readings taken by
// different processes on the same host are comparable, unlike the monotonic
// part of time.Time, and do not jump with the wall clock.
func Now() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_MONOTONIC, &ts); err != nil {
		panic("check: clock_gettime(CLOCK_MONOTONIC): " + err.Error())
	}
	return ts.Nano()
}
