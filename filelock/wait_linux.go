package filelock

import (
	"context"
	"math/rand/v2"
	"os"
	"sync"
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

// maxWatchers bounds the inotify instances of the process, so that waits
// on many files do not use up the user's instances (128 by default); waits
// beyond it poll. Instances are kept for reuse, never closed: closing one
// that has had a watch takes milliseconds (the kernel waits for an RCU
// grace period), while removing a watch takes microseconds.
const maxWatchers = 16

// watchers is the pool of idle inotify instances.
var watchers struct {
	mu      sync.Mutex
	idle    []*watcher
	created int
}

// A watcher is an inotify instance that watches one lock file while a
// goroutine waits for it. It is read through the runtime's network poller,
// so the waiting goroutine holds no thread, and a deadline set from another
// goroutine wakes it.
type watcher struct {
	f   *os.File
	fd  int
	rc  syscall.RawConn
	wd  int // watch descriptor of the file being watched
	buf [4096]byte
}

// getWatcher returns an idle watcher watching the file that procPath (a
// /proc/self/fd link) leads to, or nil if there is none and no more may be
// created, or inotify is not available.
func getWatcher(procPath string) *watcher {
	watchers.mu.Lock()
	var w *watcher
	if n := len(watchers.idle); n > 0 {
		w = watchers.idle[n-1]
		watchers.idle = watchers.idle[:n-1]
	} else if watchers.created < maxWatchers {
		var err error
		if w, err = newWatcher(); err == nil {
			watchers.created++
		}
	}
	watchers.mu.Unlock()
	if w == nil {
		return nil
	}
	// Watching through /proc/self/fd watches the very file that is open,
	// whatever its path now leads to.
	wd, err := unix.InotifyAddWatch(w.fd, procPath, watchMask)
	if err != nil {
		w.put()
		return nil
	}
	w.wd = wd
	return w
}

// release stops watching and returns w to the pool.
func (w *watcher) release() {
	unix.InotifyRmWatch(w.fd, uint32(w.wd))
	w.put()
}

func (w *watcher) put() {
	watchers.mu.Lock()
	watchers.idle = append(watchers.idle, w)
	watchers.mu.Unlock()
}

func newWatcher() (*watcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	f := os.NewFile(uintptr(fd), "inotify")
	rc, err := f.SyscallConn()
	if err == nil {
		// This fails if the descriptor is not in the poller, where a
		// read could not be interrupted.
		err = f.SetReadDeadline(time.Time{})
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return &watcher{f: f, fd: fd, rc: rc}, nil
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

// lock takes the kernel lock in mode m, waiting until ctx is done. If ctx
// ends while the lock is being taken, the lock is released again. Only one
// goroutine at a time calls it on a file (see file).
func (s *sysFile) lock(ctx context.Context, m mode) error {
	for {
		ok, err := s.try(m)
		if err != nil {
			return err
		}
		if !ok {
			if err := s.wait(ctx, m); err != nil {
				return err
			}
			if ok, err = s.current(); err != nil {
				return err
			}
			if !ok {
				continue // the file was replaced: wait for the new one
			}
		}
		if err := ctxerr.From(ctx); err != nil {
			s.unlock()
			return err
		}
		return nil
	}
}

// wait takes the kernel lock in mode m on the descriptor of s, waiting
// until it is free or ctx is done. A waiter is woken by inotify events on
// the file and, failing those, polls with jittered exponential backoff.
func (s *sysFile) wait(ctx context.Context, m mode) error {
	w := getWatcher(s.procPath)
	var timer *time.Timer
	if w == nil {
		timer = time.NewTimer(time.Hour)
		defer timer.Stop()
	} else {
		defer w.release()
		if ctx.Done() != nil {
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
	}
	d := minPause
	for {
		if w != nil {
			// Events from before this attempt say nothing new.
			w.drain()
		}
		if ok, err := s.tryFD(m); ok || err != nil {
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
