//go:build !race

package race

import "unsafe"

// Enabled reports whether the race detector is on.
const Enabled = false

// Acquire is a no-op without the race detector.
func Acquire(addr unsafe.Pointer) {}

// Release is a no-op without the race detector.
func Release(addr unsafe.Pointer) {}

// ReleaseMerge is a no-op without the race detector.
func ReleaseMerge(addr unsafe.Pointer) {}

// Disable is a no-op without the race detector.
func Disable() {}

// Enable is a no-op without the race detector.
func Enable() {}
