//go:build race

package race

import (
	"runtime"
	"unsafe"
)

// Enabled reports whether the race detector is on.
const Enabled = true

// Acquire records that the caller synchronizes after the last Release or
// ReleaseMerge on addr.
func Acquire(addr unsafe.Pointer) { runtime.RaceAcquire(addr) }

// Release records a release on addr that replaces earlier ones.
func Release(addr unsafe.Pointer) { runtime.RaceRelease(addr) }

// ReleaseMerge records a release on addr that joins earlier ones, for many
// releasers (readers) towards one acquirer (a writer).
func ReleaseMerge(addr unsafe.Pointer) { runtime.RaceReleaseMerge(addr) }

// Disable stops the detector from seeing the calling goroutine's memory
// accesses and synchronization until the matching Enable.
func Disable() { runtime.RaceDisable() }

// Enable undoes one Disable.
func Enable() { runtime.RaceEnable() }
