// Package filelock provides reader/writer locks on files that exclude other
// processes on the host and other goroutines of the same process, with
// waits that a context can cancel.
//
// [New] locks a file at a given path; [NewNamed] locks a validated name in a
// private per-user directory ([DefaultDir]). A [Lock] satisfies
// [lock.Locker] and adds shared holds (RLock, RUnlock) and attempts that
// never wait (TryLock, TryRLock), which report "held elsewhere" as an error
// wrapping [lock.ErrNotAcquired], distinct from real failures.
//
// # Semantics
//
// Locks are flock(2) locks by default, so they exclude, and are excluded by,
// flock(1), github.com/gofrs/flock, Go's cmd/go/internal/lockedfile,
// Python's filelock and every other flock user on the same file. [WithOFD]
// selects Linux open-file-description locks instead, which flock users do
// not see. Either way the lock belongs to an open file, not to a process:
// it is not dropped when some other descriptor of the file is closed, it is
// not inherited by child processes (descriptors are close-on-exec), and the
// kernel drops it when the holder exits or is killed. A stopped holder keeps
// it: waiters time out, they never break a lock.
//
// In front of the kernel lock each process keeps, per file, one FIFO queue
// of its goroutines. So goroutines of one process never hold a file at once
// (whichever Locks they use), they are served in arrival order, and the race
// detector sees the order of their holds. Processes are not queued: when a
// lock is released, whichever waiter asks first gets it.
//
// # Waiting
//
// The kernel lock is only ever requested without blocking, so no thread
// blocks in the kernel and a wait can always be cancelled. The one goroutine
// per file that waits for another process is woken by inotify events on the
// file: a holder that exits or closes the file makes one, and Unlock makes
// one (a one-byte read). Jittered exponential backoff polling, from 1 ms to
// 50-100 ms, backs this up and replaces it where inotify is not available.
// Cancellation wakes a waiter at once. A process uses at most 16 inotify
// instances, one per file being waited for; they are created on demand and
// kept for reuse, never closed (closing one costs milliseconds), and waits
// beyond them poll.
//
// # Cancellation contract
//
// Lock and RLock follow the cancellation contract of package lock (see the
// package documentation of github.com/codomyrmex/concurrency/lock):
//
//   - If ctx is done before the call returns, the call fails with an error
//     that satisfies errors.Is(err, ctx.Err()) and carries context.Cause(ctx)
//     (errors.Is(err, context.Cause(ctx)) also holds). A ctx that is already
//     done fails the call even when the lock is free.
//   - A call that fails holds nothing. A grant that races with the
//     cancellation is handed on to the next waiter, never leaked.
//   - Cancelling the waiter at the head of a queue wakes the waiters behind
//     it that can now proceed.
//   - No goroutine, timer or context.AfterFunc outlives the call.
//
// # Security
//
// Lock files are opened with O_NOFOLLOW and O_CLOEXEC and created with mode
// 0600; the lock directory of NewNamed is created with mode 0700. A lock
// file that is a symbolic link, not a regular file, owned by another user or
// writable by group or others is refused with [ErrUnsafe]. Names are
// checked by [ValidateName], so none can leave the lock directory. Lock
// files are not removed (that would let holders of the removed file and of
// a new one overlap) unless every party uses [WithCleanup], which removes
// the file on each exclusive release and checks on every acquisition that
// the locked file is still the one at the path. The contents of lock files
// are never trusted: the holder information of [WithHolderInfo] is for
// people only.
//
// # Telemetry
//
// Each Lock records its acquisitions with the module's lock instruments
// (package telemetry lists them), in the
// scope "github.com/codomyrmex/concurrency/filelock" with lock.kind
// "filelock" and lock.mode "write" or "read", under lock.name the path
// given to New or the name given to NewNamed. The providers are those of
// [WithTracerProvider] and [WithMeterProvider], or else the global ones.
// Lock and RLock first try the file without waiting; only an acquisition
// that has to wait, because the file is held by this process or another or
// goroutines of this process wait for it, counts as contended, is timed as
// a wait and gets a span "acquire filelock" (with error.type if it fails).
// Every acquisition, release and failed call (a TryLock that would wait
// excepted) updates the acquisition, holder and hold-duration metrics; see
// package telemetry. With the no-op providers of trace/noop and
// metric/noop nothing is recorded; with the global providers and no SDK an
// uncontended Lock and Unlock allocate nothing more and cost a few
// nanoseconds more.
//
// # Misuse
//
// These mistakes are bugs in the caller and panic, changing nothing, with a
// message that names the call and the lock file, as sync does:
//
//	Unlock without an exclusive hold through the Lock   "filelock: Unlock of unlocked Lock PATH"
//	Unlock of a shared hold                             "filelock: Unlock of Lock PATH locked for reading"
//	RUnlock without a shared hold through the Lock      "filelock: RUnlock of unlocked Lock PATH"
//	RUnlock of an exclusive hold                        "filelock: RUnlock of Lock PATH locked for writing"
//	Lock or RLock with a nil Context                    "filelock: nil Context"
//
// Holds belong to the Lock they were taken through, not to a goroutine: a
// second Unlock is caught unless the Lock has been locked again meanwhile,
// and an Unlock through another Lock on the same file panics. Other
// mistakes are errors, or waits:
//
//	empty path; NUL byte in a path or WithDir; invalid name   error wrapping lock.ErrInvalidArgument
//	Locks on one file with different WithCleanup or WithOFD   error wrapping lock.ErrInvalidArgument
//	Lock, RLock, TryLock, TryRLock or Close after Close       error wrapping lock.ErrClosed
//	Close while a Lock or RLock through the Lock waits        that call fails with lock.ErrClosed
//	Close while held through the Lock                         the hold stays until Unlock or RUnlock
//	Lock while this process holds the file (an upgrade too)   waits until ctx is done: not reentrant
//	RLock while this process holds the file exclusively       waits until ctx is done: not reentrant
//
// A Lock must be made with New or NewNamed: the zero Lock is not usable.
//
// # Limits
//
// Only Linux is supported; elsewhere New and NewNamed fail with
// [ErrNotSupported]. So do lock files on NFS, SMB/CIFS, FUSE, 9P, Ceph and
// AFS unless [WithNetworkFS] is given, because locks there may not exclude
// other hosts, or may hang in the kernel. Locks never exclude processes on
// other hosts reliably.
//
// Locks are not reentrant, and shared holds are never upgraded in place.
// Without WithCleanup lock files are kept for good, so a directory of many
// short-lived names grows until someone removes files that no process can
// still be using.
package filelock

// The implementation is in layers, each in its own files, every call going
// down the list; the mode (mode.go) of a hold, exclusive or shared, is
// passed down through all of them:
//
//  1. open.go, open_linux.go: lock names and paths, the hardened open of
//     the lock file and the fstat and statfs checks of it; its identity,
//     holder information and removal.
//  2. kernel_linux.go: the kernel lock (flock(2), or OFD fcntl(2)), only
//     ever tried without blocking, EINTR retried; with WithCleanup, the
//     check after locking that the file is still the one at the path.
//  3. wait_linux.go: taking the kernel lock by waiting for other processes
//     to release it, woken by inotify or by polling.
//  4. queue.go: the state that the Locks on one file (inode) in the process
//     share: the descriptor, and the FIFO queue that admits holders to it.
//  5. lock.go: the Lock and its methods, whose acquisitions telemetry.go
//     records.
//
// unsupported.go stands in for layers 1 to 3 on other platforms.
