package filelock

import (
	"context"
	"math/rand/v2"
	"os"
	"syscall"
	"time"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
	"golang.org/x/sys/unix"
)

// Polling intervals while waiting for the kernel lock. The n'th pause is
// drawn uniformly from [d/2, d] with d = minPause<<n capped at maxPause, so
// waits on one lock do not poll in step. With a watcher the polls are only
// a safety net for releases that make no inotify event.
const (
	minPause = time.Millisecond
	maxPause = 100 * time.Millisecond
)

// inotify events that may mean the kernel lock was released: a holder that
// closes its descriptor or exits makes IN_CLOSE_*, and an Unlock of this
// package makes IN_ACCESS (see sysFile.signal).
const watchMask = unix.IN_ACCESS | unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_CLOSE_NOWRITE

// A watcher is an inotify instance watching one lock file. It is read
// through the runtime's network poller, so a waiting goroutine holds no
// thread, and a deadline set from another goroutine wakes it.
type watcher struct {
	f   *os.File
	fd  int
	rc  syscall.RawConn
	buf [4096]byte
}

// newWatcher watches the file open as fd.
func newWatcher(fd int, procPath string) (*watcher, error) {
	ifd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	// The watch is added through /proc/self/fd, so it is on the very file
	// that is open, whatever its path now leads to.
	if _, err := unix.InotifyAddWatch(ifd, procPath, watchMask); err != nil {
		unix.Close(ifd)
		return nil, err
	}
	f := os.NewFile(uintptr(ifd), "inotify")
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := f.SetReadDeadline(time.Time{}); err != nil {
		// Not in the poller: a read could not be interrupted.
		f.Close()
		return nil, err
	}
	return &watcher{f: f, fd: ifd, rc: rc}, nil
}

// drain discards the events that arrived so far.
func (w *watcher) drain() {
	for {
		if _, err := unix.Read(w.fd, w.buf[:]); err != nil && err != unix.EINTR {
			return
		}
	}
}

// await waits until an event arrives, d passes, or interrupt is called
// after ctx is done.
func (w *watcher) await(ctx context.Context, d time.Duration) {
	w.f.SetReadDeadline(time.Now().Add(d))
	// interrupt sets a deadline in the past only after ctx is done, so if
	// ctx is not done now the deadline just set cannot override it.
	if ctx.Err() != nil {
		return
	}
	w.rc.Read(func(fd uintptr) bool {
		_, err := unix.Read(int(fd), w.buf[:])
		return err != unix.EAGAIN
	})
}

// interrupt wakes a goroutine in await.
func (w *watcher) interrupt() { w.f.SetReadDeadline(time.Unix(1, 0)) }

func (w *watcher) close() error { return w.f.Close() }

// watch returns the file's watcher, creating it on first use, or nil if
// inotify is not available (not built in, or out of instances).
func (s *sysFile) watch() *watcher {
	if s.w == nil && !s.noWatch {
		w, err := newWatcher(s.fd, s.procPath)
		s.w, s.noWatch = w, err != nil
	}
	return s.w
}

// wait takes the kernel lock, waiting until it is free or ctx is done. A
// waiter is woken by inotify events on the file and, failing those, polls
// with jittered exponential backoff. Only one goroutine at a time waits on
// a file (see file).
func (s *sysFile) wait(ctx context.Context, excl bool) error {
	w := s.watch()
	var timer *time.Timer
	if w == nil {
		timer = time.NewTimer(time.Hour)
		defer timer.Stop()
	} else if ctx.Done() != nil {
		done := make(chan struct{})
		stop := context.AfterFunc(ctx, func() {
			w.interrupt()
			close(done)
		})
		defer func() {
			if !stop() {
				<-done // the interrupt must not outlive the call
			}
		}()
	}
	d := minPause
	for {
		if w != nil {
			// Events from before this attempt say nothing new.
			w.drain()
		}
		if ok, err := s.try(excl); ok || err != nil {
			return err
		}
		if err := ctxerr.From(ctx); err != nil {
			return err
		}
		pause := d/2 + rand.N(d/2+1)
		if w != nil {
			w.await(ctx, pause)
		} else {
			timer.Reset(pause)
			select {
			case <-ctx.Done():
			case <-timer.C:
			}
		}
		d = min(2*d, maxPause)
	}
}
