package filelock

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// header is written into lock files this package creates. Besides telling
// people what the file is, it makes the file non-empty, so that a release
// can wake waiters in other processes with a one-byte read (see signal).
const header = "codomyrmex/concurrency filelock: lock file, do not delete while in use\n"

// A sysFile is a lock file's descriptor and its kernel lock.
type sysFile struct {
	fd        int
	ofd       bool   // OFD locks instead of flock
	networkFS bool   // network filesystems allowed
	cleanup   bool   // see WithCleanup
	path      string // for messages, and absolute with WithCleanup
	procPath  string // /proc/self/fd/<fd>, which leads to the same file
}

// openSys opens the lock file name in dir ("" for the working directory, or
// a name that is a path) and checks that it is safe to lock. If private,
// dir must be accessible to its owner only.
func openSys(dir, name string, private bool, c *config) (sysFile, fileID, error) {
	path, dirfd := name, unix.AT_FDCWD
	if dir != "" {
		path = filepath.Join(dir, name)
		dfd, err := openDir(dir, private)
		if err != nil {
			return sysFile{}, fileID{}, err
		}
		defer unix.Close(dfd)
		dirfd = dfd
	}
	if c.cleanup {
		// The file is reopened and removed by path, maybe after the
		// working directory has changed.
		abs, err := filepath.Abs(path)
		if err != nil {
			return sysFile{}, fileID{}, fmt.Errorf("filelock: %s: %w", path, err)
		}
		path = abs
	}
	s := sysFile{ofd: c.ofd, networkFS: c.networkFS, cleanup: c.cleanup, path: path}
	id, err := s.open(dirfd, name)
	return s, id, err
}

// open opens name relative to dirfd as the descriptor of s and checks it.
// On failure it leaves no descriptor open.
func (s *sysFile) open(dirfd int, name string) (fileID, error) {
	fd, created, err := openFile(dirfd, name, s.path)
	if err != nil {
		return fileID{}, err
	}
	s.fd, s.procPath = fd, "/proc/self/fd/"+strconv.Itoa(fd)
	id, err := s.check()
	if err == nil && created {
		_, err = unix.Pwrite(fd, []byte(header), 0)
	}
	if err != nil {
		unix.Close(fd)
		return fileID{}, err
	}
	return id, nil
}

// reopen replaces the descriptor of s with one for the file now at its
// path, creating the file if needed (see WithCleanup).
func (s *sysFile) reopen() error {
	n := *s
	if _, err := n.open(unix.AT_FDCWD, s.path); err != nil {
		return err
	}
	unix.Close(s.fd)
	// Only these change: other fields are read by register meanwhile.
	s.fd, s.procPath = n.fd, n.procPath
	return nil
}

// stale reports whether the file open as s is no longer the one at its
// path: removed, or replaced.
func (s *sysFile) stale() (bool, error) {
	var st, at unix.Stat_t
	if err := unix.Fstat(s.fd, &st); err != nil {
		return false, &os.PathError{Op: "filelock: stat", Path: s.path, Err: err}
	}
	if st.Nlink == 0 {
		return true, nil
	}
	switch err := unix.Lstat(s.path, &at); err {
	case nil:
		return st.Dev != at.Dev || st.Ino != at.Ino, nil
	case unix.ENOENT:
		return true, nil
	default:
		return false, &os.PathError{Op: "filelock: lstat", Path: s.path, Err: err}
	}
}

// openDir creates dir if needed (mode 0700) and opens it, refusing a
// symbolic link, a directory of another user, or one writable by group or
// others (if private: one with any permission for them).
func openDir(dir string, private bool) (int, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return -1, fmt.Errorf("filelock: lock directory: %w", err)
	}
	fd, err := retry(func() (int, error) {
		return unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	})
	if err != nil {
		if err == unix.ELOOP || err == unix.ENOTDIR {
			return -1, fmt.Errorf("filelock: lock directory %s is not a directory or is a symbolic link: %w", dir, ErrUnsafe)
		}
		return -1, &os.PathError{Op: "filelock: open lock directory", Path: dir, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return -1, &os.PathError{Op: "filelock: stat lock directory", Path: dir, Err: err}
	}
	mask := uint32(0o022)
	if private {
		mask = 0o077
	}
	if err := checkOwner(dir, "lock directory", &st, mask); err != nil {
		unix.Close(fd)
		return -1, err
	}
	return fd, nil
}

// openFile opens name relative to dirfd for reading and writing, creating it
// with mode 0600 if it does not exist, never following a symbolic link in
// its last component. It reports whether it created the file.
func openFile(dirfd int, name, path string) (fd int, created bool, err error) {
	const flags = unix.O_RDWR | unix.O_NOFOLLOW | unix.O_CLOEXEC | unix.O_NONBLOCK | unix.O_NOCTTY
	// The file may be removed or created by others between the two opens;
	// a few rounds settle it.
	for range 8 {
		fd, err = retry(func() (int, error) {
			return unix.Openat(dirfd, name, flags|unix.O_CREAT|unix.O_EXCL, 0o600)
		})
		if err == nil {
			return fd, true, nil
		}
		if err != unix.EEXIST {
			break
		}
		fd, err = retry(func() (int, error) { return unix.Openat(dirfd, name, flags, 0) })
		if err != unix.ENOENT {
			break
		}
	}
	switch {
	case err == nil:
		return fd, false, nil
	case err == unix.ELOOP:
		return -1, false, fmt.Errorf("filelock: %s is a symbolic link: %w", path, ErrUnsafe)
	case err == unix.EISDIR:
		return -1, false, fmt.Errorf("filelock: %s is a directory: %w", path, ErrUnsafe)
	case err == unix.EACCES:
		return -1, false, fmt.Errorf("filelock: open %s: %w (a file of another user in a shared sticky directory cannot be opened under fs.protected_regular; use a private directory such as NewNamed's)", path, err)
	}
	return -1, false, &os.PathError{Op: "filelock: open", Path: path, Err: err}
}

// check verifies that s is a regular file of the effective user that group
// and others cannot write, on a filesystem where locking is reliable, and
// returns its identity.
func (s *sysFile) check() (fileID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(s.fd, &st); err != nil {
		return fileID{}, &os.PathError{Op: "filelock: stat", Path: s.path, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return fileID{}, fmt.Errorf("filelock: %s is not a regular file: %w", s.path, ErrUnsafe)
	}
	if err := checkOwner(s.path, "lock file", &st, 0o022); err != nil {
		return fileID{}, err
	}
	if !s.networkFS {
		var fs unix.Statfs_t
		if _, err := retry(func() (int, error) { return 0, unix.Fstatfs(s.fd, &fs) }); err != nil {
			return fileID{}, &os.PathError{Op: "filelock: statfs", Path: s.path, Err: err}
		}
		if name := remoteFS(uint32(fs.Type)); name != "" {
			return fileID{}, fmt.Errorf("filelock: %s is on %s, where locks may not exclude other hosts or may hang (see WithNetworkFS): %w",
				s.path, name, ErrNotSupported)
		}
	}
	if s.ofd {
		lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
		if err := unix.FcntlFlock(uintptr(s.fd), unix.F_OFD_GETLK, &lk); err != nil {
			return fileID{}, s.lockError(err)
		}
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino)}, nil
}

// checkOwner refuses a file not owned by the effective user, or with any of
// the permission bits in mask.
func checkOwner(path, what string, st *unix.Stat_t, mask uint32) error {
	if uid := os.Geteuid(); st.Uid != uint32(uid) {
		return fmt.Errorf("filelock: %s %s is owned by uid %d, not %d: %w", what, path, st.Uid, uid, ErrUnsafe)
	}
	if st.Mode&mask != 0 {
		return fmt.Errorf("filelock: %s %s has mode %#o, which gives group or others access (%#o): %w",
			what, path, st.Mode&0o7777, st.Mode&mask, ErrUnsafe)
	}
	return nil
}

// remoteFS names the filesystem type magic if locks on it are unreliable.
func remoteFS(magic uint32) string {
	switch magic {
	case unix.NFS_SUPER_MAGIC:
		return "NFS"
	case unix.SMB_SUPER_MAGIC, unix.SMB2_SUPER_MAGIC, unix.CIFS_SUPER_MAGIC:
		return "SMB/CIFS"
	case unix.FUSE_SUPER_MAGIC:
		return "FUSE"
	case unix.V9FS_MAGIC:
		return "9P"
	case unix.CEPH_SUPER_MAGIC:
		return "Ceph"
	case unix.AFS_SUPER_MAGIC:
		return "AFS"
	case unix.CODA_SUPER_MAGIC:
		return "Coda"
	}
	return ""
}

// setHolder replaces the file's contents with holder information.
func (s *sysFile) setHolder(purpose string) {
	host, _ := os.Hostname()
	info := fmt.Sprintf("%spid=%d\nhost=%q\nacquired=%s\npurpose=%q\n",
		header, os.Getpid(), host, time.Now().UTC().Format(time.RFC3339Nano), purpose)
	s.replace(info)
}

// clearHolder replaces the file's contents with the header.
func (s *sysFile) clearHolder() { s.replace(header) }

func (s *sysFile) replace(text string) {
	if _, err := unix.Pwrite(s.fd, []byte(text), 0); err == nil {
		unix.Ftruncate(s.fd, int64(len(text)))
	}
}

// remove removes the file, which the caller holds exclusively. Failure
// only leaves the file in place.
func (s *sysFile) remove() { unix.Unlink(s.path) }

// close closes the descriptor, dropping any kernel lock on it.
func (s *sysFile) close() error {
	if err := unix.Close(s.fd); err != nil {
		return &os.PathError{Op: "filelock: close", Path: s.path, Err: err}
	}
	return nil
}

// retry calls f until it fails with an error other than EINTR.
func retry(f func() (int, error)) (int, error) {
	for {
		n, err := f()
		if err != unix.EINTR {
			return n, err
		}
	}
}
