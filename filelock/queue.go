package filelock

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"unsafe"

	"github.com/codomyrmex/concurrency/internal/race"
	"github.com/codomyrmex/concurrency/internal/waitq"
	"github.com/codomyrmex/concurrency/lock"
)

// maxReaders is the capacity of a file's in-process queue: a shared hold
// takes one token and an exclusive hold takes all of them.
const maxReaders = 1 << 30

// errWouldBlock is returned by the try operations of a file.
var errWouldBlock = fmt.Errorf("filelock: would block: %w", lock.ErrNotAcquired)

// A fileKey identifies the state shared by Locks in this process: the file
// (inode), or with WithCleanup, whose file changes, the absolute path.
type fileKey struct {
	id   fileID
	path string
}

// A file is the state shared by every Lock on one file in this process: one
// descriptor and its kernel lock, and the FIFO queue that admits holders in
// front of it.
//
// Only admitted callers touch the kernel lock and the descriptor, so two
// goroutines never both hold the file, and at most one goroutine at a time
// waits for the kernel lock: an exclusive holder-to-be, or the first shared
// one.
type file struct {
	key  fileKey
	sys  sysFile // the descriptor and its kernel lock
	refs int     // Locks using this file; guarded by files.mu

	// q admits holders in FIFO order: a shared hold takes 1 token, an
	// exclusive one takes maxReaders.
	q waitq.Queue
	// gate is a mutex held by the shared holder-to-be that waits for the
	// kernel lock, so that the others wait behind it.
	gate waitq.Queue
	// mu guards readers, the number of shared holds in this process. The
	// kernel shared lock is held while readers > 0.
	mu      sync.Mutex
	readers int

	// waiters counts the goroutines in Lock or RLock, through any Lock on
	// the file, that found it busy and wait (see Lock.take).
	waiters waitq.Bound

	// Addresses for race annotations (see admit), used as sync.RWMutex
	// uses its semaphores: rsem orders a writer before the next holder,
	// wsem orders readers before the next writer.
	rsem, wsem byte
}

// files maps each open file to its shared state.
var files struct {
	mu sync.Mutex
	m  map[fileKey]*file
}

// register returns the shared state for the file opened as s, whose
// identity is id, taking over s or closing it if the file is already open
// in this process.
func register(s sysFile, id fileID) (*file, error) {
	abs, err := filepath.Abs(s.path)
	if err != nil {
		s.close()
		return nil, fmt.Errorf("filelock: %s: %w", s.path, err)
	}
	key, other := fileKey{id: id}, fileKey{path: abs}
	if s.cleanup {
		key, other = other, key
	}
	files.mu.Lock()
	defer files.mu.Unlock()
	if files.m[other] != nil {
		s.close()
		return nil, fmt.Errorf("filelock: %s: file already open in this process with a different WithCleanup: %w",
			s.path, lock.ErrInvalidArgument)
	}
	if f := files.m[key]; f != nil {
		if f.sys.ofd != s.ofd {
			s.close()
			return nil, fmt.Errorf("filelock: %s: file already open with the other backend in this process (see WithOFD): %w",
				s.path, lock.ErrInvalidArgument)
		}
		f.refs++
		return f, s.close()
	}
	if files.m == nil {
		files.m = make(map[fileKey]*file)
	}
	f := &file{key: key, sys: s, refs: 1}
	files.m[key] = f
	return f, nil
}

// unregister drops one reference to f, closing it with the last one.
func (f *file) unregister() error {
	files.mu.Lock()
	defer files.mu.Unlock()
	if f.refs--; f.refs > 0 {
		return nil
	}
	delete(files.m, f.key)
	return f.sys.close()
}

// take takes f in mode m, waiting until ctx is done.
func (f *file) take(ctx context.Context, m mode) error {
	if m == exclusive {
		return f.lock(ctx)
	}
	return f.rlock(ctx)
}

// tryTake takes f in mode m if that needs no wait.
func (f *file) tryTake(m mode) error {
	if m == exclusive {
		return f.tryLock()
	}
	return f.tryRLock()
}

// lock takes f exclusively, waiting until ctx is done.
func (f *file) lock(ctx context.Context) error {
	if err := f.admit(ctx, exclusive); err != nil {
		return err
	}
	if err := f.sys.lock(ctx, exclusive); err != nil {
		f.leave(exclusive)
		return err
	}
	return nil
}

// tryLock takes f exclusively if that needs no wait.
func (f *file) tryLock() error {
	if !f.tryAdmit(exclusive) {
		return errWouldBlock
	}
	if ok, err := f.sys.try(exclusive); !ok {
		f.leave(exclusive)
		if err == nil {
			err = errWouldBlock
		}
		return err
	}
	return nil
}

// unlock releases an exclusive hold, removing the file first with
// WithCleanup.
func (f *file) unlock() {
	if f.sys.cleanup {
		f.sys.remove()
	}
	f.sys.unlock()
	f.leave(exclusive)
}

// rlock takes a shared hold on f, waiting until ctx is done.
func (f *file) rlock(ctx context.Context) error {
	if err := f.admit(ctx, shared); err != nil {
		return err
	}
	if f.joinReaders() {
		return nil
	}
	if err := f.enterGate(ctx); err != nil {
		f.leave(shared)
		return err
	}
	var err error
	if !f.joinReaders() {
		// readers is 0 and stays 0 while we hold the gate.
		if err = f.sys.lock(ctx, shared); err == nil {
			f.mu.Lock()
			f.readers = 1
			f.mu.Unlock()
		}
	}
	f.leaveGate()
	if err != nil {
		f.leave(shared)
	}
	return err
}

// tryRLock takes a shared hold on f if that needs no wait.
func (f *file) tryRLock() error {
	if !f.tryAdmit(shared) {
		return errWouldBlock
	}
	if f.joinReaders() {
		return nil
	}
	if !f.tryEnterGate() {
		// Another reader is waiting for the kernel lock.
		f.leave(shared)
		return errWouldBlock
	}
	var err error
	if !f.joinReaders() {
		var ok bool
		if ok, err = f.sys.try(shared); ok {
			f.mu.Lock()
			f.readers = 1
			f.mu.Unlock()
		} else if err == nil {
			err = errWouldBlock
		}
	}
	f.leaveGate()
	if err != nil {
		f.leave(shared)
	}
	return err
}

// runlock releases a shared hold, and the kernel lock with the last one.
func (f *file) runlock() {
	f.mu.Lock()
	if f.readers--; f.readers == 0 {
		f.sys.unlock()
	}
	f.mu.Unlock()
	f.leave(shared)
}

// The queues hide their synchronization from the race detector (it would
// order readers), so the edges between holders are stated here, as
// sync.RWMutex states them: an exclusive holder is admitted after every
// earlier holder left, a shared one after every earlier exclusive one.
// They also order the goroutines that take turns with the kernel lock and
// the descriptor.

// admit waits in the queue for a turn in mode m.
func (f *file) admit(ctx context.Context, m mode) error {
	err := f.q.Acquire(ctx, tokens(m), maxReaders)
	if err == nil {
		f.admitted(m)
	}
	return err
}

// tryAdmit takes a turn in mode m if that needs no wait.
func (f *file) tryAdmit(m mode) bool {
	ok := f.q.TryAcquire(tokens(m), maxReaders)
	if ok {
		f.admitted(m)
	}
	return ok
}

func (f *file) admitted(m mode) {
	if race.Enabled {
		race.Acquire(unsafe.Pointer(&f.rsem))
		if m == exclusive {
			race.Acquire(unsafe.Pointer(&f.wsem))
		}
	}
}

// leave gives back a turn taken by admit or tryAdmit.
func (f *file) leave(m mode) {
	if race.Enabled {
		if m == exclusive {
			race.Release(unsafe.Pointer(&f.rsem))
		} else {
			race.ReleaseMerge(unsafe.Pointer(&f.wsem))
		}
	}
	f.q.Release(tokens(m), maxReaders)
}

// tokens is the share of f.q that a turn in mode m takes.
func tokens(m mode) int64 {
	if m == exclusive {
		return maxReaders
	}
	return 1
}

// enterGate locks the gate, waiting until ctx is done.
func (f *file) enterGate(ctx context.Context) error {
	err := f.gate.Acquire(ctx, 1, 1)
	if err == nil && race.Enabled {
		race.Acquire(unsafe.Pointer(&f.gate))
	}
	return err
}

// tryEnterGate locks the gate if it is free.
func (f *file) tryEnterGate() bool {
	ok := f.gate.TryAcquire(1, 1)
	if ok && race.Enabled {
		race.Acquire(unsafe.Pointer(&f.gate))
	}
	return ok
}

func (f *file) leaveGate() {
	if race.Enabled {
		race.Release(unsafe.Pointer(&f.gate))
	}
	f.gate.Release(1, 1)
}

// joinReaders adds a shared hold if the kernel shared lock is already held.
func (f *file) joinReaders() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.readers == 0 {
		return false
	}
	f.readers++
	return true
}
