//go:build unix

package check

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// A FileFence is a [Fence] kept in a file, so that writers in several
// processes are fenced by one resource. Each operation holds flock(2) on
// the file while it compares and updates the three counters of
// [FenceStats], stored as little-endian 64-bit integers, and a mutex, since
// flock(2) does not exclude goroutines sharing the file.
type FileFence struct {
	mu sync.Mutex
	f  *os.File
}

// OpenFileFence opens the fence at path, creating one that has seen no
// token (mode 0600) if it does not exist.
func OpenFileFence(path string) (*FileFence, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("check: open file fence: %w", err)
	}
	return &FileFence{f: f}, nil
}

// Close closes the file.
func (f *FileFence) Close() error { return f.f.Close() }

// Write performs a write fenced with token, as [Fence.Write] does.
func (f *FileFence) Write(token int64) error {
	var werr error
	err := f.locked(func(st *FenceStats) { werr = st.write(token) }, true)
	if err != nil {
		return err
	}
	return werr
}

// Stats returns what the resource has seen so far.
func (f *FileFence) Stats() (FenceStats, error) {
	var st FenceStats
	err := f.locked(func(s *FenceStats) { st = *s }, false)
	return st, err
}

// locked runs fn on the stats under flock(2), writing them back if update.
func (f *FileFence) locked(fn func(*FenceStats), update bool) (err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fd := int(f.f.Fd())
	if err := flock(fd, unix.LOCK_EX); err != nil {
		return err
	}
	defer func() {
		if uerr := flock(fd, unix.LOCK_UN); err == nil {
			err = uerr
		}
	}()
	var b [24]byte
	if n, err := f.f.ReadAt(b[:], 0); n != 0 && n != len(b) || err != nil && err != io.EOF {
		return fmt.Errorf("check: read file fence: %d bytes: %v", n, err)
	}
	st := FenceStats{
		Highest:  int64(binary.LittleEndian.Uint64(b[0:])),
		Accepted: int64(binary.LittleEndian.Uint64(b[8:])),
		Rejected: int64(binary.LittleEndian.Uint64(b[16:])),
	}
	fn(&st)
	if !update {
		return nil
	}
	binary.LittleEndian.PutUint64(b[0:], uint64(st.Highest))
	binary.LittleEndian.PutUint64(b[8:], uint64(st.Accepted))
	binary.LittleEndian.PutUint64(b[16:], uint64(st.Rejected))
	if _, err := f.f.WriteAt(b[:], 0); err != nil {
		return fmt.Errorf("check: write file fence: %w", err)
	}
	return nil
}

// flock calls flock(2), retrying on EINTR.
func flock(fd, how int) error {
	for {
		err := unix.Flock(fd, how)
		if err != unix.EINTR {
			if err != nil {
				return fmt.Errorf("check: flock: %w", err)
			}
			return nil
		}
	}
}
