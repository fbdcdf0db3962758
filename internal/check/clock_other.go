//go:build !unix

package check

import "time"

var start = time.Now()

// Now returns monotonic nanoseconds since the package was initialised. Where
// CLOCK_MONOTONIC is not available, readings of different processes are not
// comparable.
func Now() int64 { return int64(time.Since(start)) }
