package filelock

import "errors"

// Errors specific to file locks. Errors returned by this package wrap them,
// or the sentinels of package lock, with detail; test with errors.Is.
//
// A TryLock or TryRLock that would have to wait returns an error wrapping
// [lock.ErrNotAcquired]. Bad input (an unsafe name, conflicting options)
// wraps [lock.ErrInvalidArgument]. A call on a closed Lock wraps
// [lock.ErrClosed]. A Lock or RLock refused by the bound of
// [WithMaxWaiters] is a *[lock.TooManyWaitersError], which wraps
// [lock.ErrTooManyWaiters].
var (
	// ErrNotSupported reports a platform, filesystem or locking backend on
	// which this package cannot lock reliably: any platform but Linux,
	// network and user-space filesystems (NFS, SMB/CIFS, FUSE, 9P, Ceph,
	// AFS) unless [WithNetworkFS] is given, or a kernel without
	// open-file-description locks when [WithOFD] is given.
	ErrNotSupported = errors.New("filelock: not supported")

	// ErrUnsafe reports a lock file or directory refused by the security
	// checks: a symbolic link, not a regular file (or directory), owned by
	// another user, or writable by group or others.
	ErrUnsafe = errors.New("filelock: unsafe lock file")
)
