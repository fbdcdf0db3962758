//go:build !unix

package harness

import "time"

// processCPU cannot tell the CPU time of the process here.
func processCPU() (time.Duration, bool) { return 0, false }
