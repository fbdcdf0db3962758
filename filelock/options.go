package filelock

import "github.com/codomyrmex/concurrency/internal/lockotel"

// An Option configures a Lock made by [New] or [NewNamed].
type Option interface {
	apply(*config)
}

type config struct {
	ofd        bool   // Linux open-file-description locks instead of flock(2)
	networkFS  bool   // allow NFS, SMB, FUSE, 9P and similar filesystems
	dir        string // directory of named locks; "" means DefaultDir
	purpose    string // holder information, written if holder is set
	holder     bool
	cleanup    bool // remove the file on exclusive release; verify on acquire
	maxWaiters int  // see WithMaxWaiters; ≤ 0 means no bound
	otel       lockotel.Providers
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

func newConfig(opts []Option) config {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	return c
}

// WithOFD locks with Linux open-file-description locks (fcntl F_OFD_SETLK
// on the whole file, Linux 3.15 and later) instead of the default flock(2).
//
// OFD locks and flock locks do not see each other on local Linux
// filesystems: a file locked with WithOFD is not excluded from flock(1),
// gofrs/flock, Go's lockedfile or Python's filelock, which all use flock.
// Use it only when every party uses OFD (or POSIX fcntl) locks. All Locks on
// one file in a process must use the same backend.
func WithOFD() Option {
	return optionFunc(func(c *config) { c.ofd = true })
}

// WithNetworkFS allows lock files on network and user-space filesystems
// (NFS, SMB/CIFS, FUSE, 9P, Ceph, AFS), which New refuses by default with
// [ErrNotSupported]. On those filesystems locking depends on the server:
// over NFS flock becomes a whole-file byte-range lock that other clients see
// only when a lock manager runs, a mount with nolock or local_lock keeps
// locks local to the host, and a missing lock manager can make the lock call
// itself hang in the kernel, beyond the reach of any context.
func WithNetworkFS() Option {
	return optionFunc(func(c *config) { c.networkFS = true })
}

// WithDir sets the directory in which [NewNamed] keeps its lock files,
// instead of [DefaultDir]. The directory is created with mode 0700 if it is
// missing, and refused with [ErrUnsafe] if it is a symbolic link, is owned by
// another user or is writable by group or others. New ignores it.
func WithDir(dir string) Option {
	return optionFunc(func(c *config) { c.dir = dir })
}

// WithHolderInfo makes each exclusive Lock write a few lines about its
// holder into the lock file while it is held: the process ID, host name,
// time of acquisition and purpose. They are for people and tools that
// inspect the file; this package never reads them, and never trusts them
// for acquisition. Unlock replaces them with the file's header again. A
// holder that dies leaves them behind, so they may be stale. Writing them
// is best effort: failures are ignored.
func WithHolderInfo(purpose string) Option {
	return optionFunc(func(c *config) { c.holder, c.purpose = true, purpose })
}

// WithCleanup makes the lock file temporary: an exclusive hold removes the
// file when it is released (just before the kernel lock goes), and every
// acquisition, after taking the kernel lock, checks that the file it locked
// is still the one at the path, and if not, opens the new one and tries
// again. Shared holds do not remove the file. So no directory fills up with
// lock files, and no two parties ever hold the lock on different files.
//
// Every party that locks the path must use WithCleanup (or do the same
// check): a flock(1) or gofrs/flock user would lock a removed file. The
// lock file must have no other path (hard link), and all Locks on a path in
// a process must agree on WithCleanup. Each exclusive cycle then creates
// and removes the file: tens of microseconds or more on a disk filesystem
// (about 100 µs on ext4 under load), against about 2 µs for a kept file.
func WithCleanup() Option {
	return optionFunc(func(c *config) { c.cleanup = true })
}

// WithMaxWaiters bounds the goroutines of this process that wait for the
// lock file: a Lock or RLock through this Lock that finds the file busy
// while n goroutines of the process already wait for it fails at once with
// a *[lock.TooManyWaitersError], holding nothing. The file is
// busy when it is held, by this process or another, or goroutines of this
// process wait for it; a call that can take the file at once is never
// refused. The waiters counted are those of every Lock on the same file in
// the process (they share one queue, see [Lock]), whether they wait in the
// process's queue or for another process; each call is checked against the
// bound of the Lock it is made through. n ≤ 0 means no bound (the
// default). TryLock and TryRLock never wait and are not affected.
func WithMaxWaiters(n int) Option {
	return optionFunc(func(c *config) { c.maxWaiters = n })
}
