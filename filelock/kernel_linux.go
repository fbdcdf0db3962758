package filelock

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// tryFD takes the kernel lock on the descriptor of s in mode m if it is
// free. It reports false with a nil error if the lock is held elsewhere.
func (s *sysFile) tryFD(m mode) (bool, error) {
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

// maxReopen bounds the files try tries in one call, should others keep
// removing and recreating the file.
const maxReopen = 8

// try takes the kernel lock in mode m if it is free, reporting false with
// a nil error if it is held elsewhere. With WithCleanup it takes the lock
// of the file now at the path (see current).
func (s *sysFile) try(m mode) (bool, error) {
	for range maxReopen {
		ok, err := s.tryFD(m)
		if !ok || err != nil {
			return false, err
		}
		if ok, err = s.current(); ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// current reports whether the file just locked is still the one at its
// path. Only with WithCleanup can it not be: then current releases the
// kernel lock and opens the file now at the path (creating it if needed).
func (s *sysFile) current() (bool, error) {
	if !s.cleanup {
		return true, nil
	}
	stale, err := s.stale()
	if err == nil && !stale {
		return true, nil
	}
	s.unlock()
	if err != nil {
		return false, err
	}
	return false, s.reopen()
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
