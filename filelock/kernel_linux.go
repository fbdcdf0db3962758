package filelock

import (
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// try takes the kernel lock in mode m if it is free. It reports false with
// a nil error if the lock is held elsewhere.
func (s *sysFile) try(m mode) (bool, error) {
	var err error
	for {
		if s.ofd {
			lk := unix.Flock_t{Type: unix.F_RDLCK, Whence: io.SeekStart}
			if m == exclusive {
				lk.Type = unix.F_WRLCK
			}
			err = unix.FcntlFlock(uintptr(s.fd), unix.F_OFD_SETLK, &lk)
		} else {
			how := unix.LOCK_SH | unix.LOCK_NB
			if m == exclusive {
				how = unix.LOCK_EX | unix.LOCK_NB
			}
			err = unix.Flock(s.fd, how)
		}
		if err != unix.EINTR {
			break
		}
	}
	switch {
	case err == nil:
		return true, nil
	case err == unix.EWOULDBLOCK, s.ofd && err == unix.EACCES:
		return false, nil
	}
	return false, s.lockError(err)
}

// lockError describes a failure to lock, as ErrNotSupported where the
// filesystem or kernel cannot lock this way.
func (s *sysFile) lockError(err error) error {
	switch err {
	case unix.ENOLCK, unix.EOPNOTSUPP, unix.EINVAL:
		return fmt.Errorf("filelock: lock %s: %w: %w", s.path, ErrNotSupported, err)
	}
	return &os.PathError{Op: "filelock: lock", Path: s.path, Err: err}
}

// unlock releases the kernel lock and wakes waiters in other processes.
func (s *sysFile) unlock() {
	var err error
	for {
		if s.ofd {
			lk := unix.Flock_t{Type: unix.F_UNLCK, Whence: io.SeekStart}
			err = unix.FcntlFlock(uintptr(s.fd), unix.F_OFD_SETLK, &lk)
		} else {
			err = unix.Flock(s.fd, unix.LOCK_UN)
		}
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		// Only a bad descriptor makes unlocking fail.
		panic("filelock: unlock " + s.path + ": " + err.Error())
	}
	s.signal()
}

// signal makes an inotify event on the file, for waiters in other processes
// (see watcher): a one-byte read (IN_ACCESS), or, if the file is empty, an
// open and close of it (IN_CLOSE_NOWRITE).
func (s *sysFile) signal() {
	var b [1]byte
	for {
		n, err := unix.Pread(s.fd, b[:], 0)
		if n == 1 {
			return
		}
		if err != unix.EINTR {
			break
		}
	}
	if fd, err := retry(func() (int, error) {
		return unix.Open(s.procPath, unix.O_RDONLY|unix.O_CLOEXEC|unix.O_NONBLOCK|unix.O_NOCTTY, 0)
	}); err == nil {
		unix.Close(fd)
	}
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

// remove removes the file, which the caller holds exclusively. Failure
// only leaves the file in place.
func (s *sysFile) remove() { unix.Unlink(s.path) }

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
