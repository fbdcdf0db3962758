package filelock

// A mode is the kind of a hold on a lock file, which every layer is told:
// exclusive (Lock, TryLock) or shared (RLock, TryRLock).
type mode uint8

const (
	exclusive mode = iota // excludes every other hold
	shared                // excludes exclusive holds only
)
