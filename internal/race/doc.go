// Package race tells the race detector about the happens-before edges of the
// module's own primitives.
//
// The primitives are built on atomics, a mutex and channels, which the
// detector does see, but those internals order callers that the primitive
// does not order (two readers of a reader/writer lock, say), which would hide
// real races in user code. So each primitive runs its internals between
// Disable and Enable and states its real edges with Acquire, Release and
// ReleaseMerge on an address of its own, as package sync does.
//
// Without the race build tag every function is a no-op and Enabled is false,
// so calls guarded by "if race.Enabled" compile away.
package race
