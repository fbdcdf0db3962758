package check

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
)

// A Store holds the value of the counter oracle outside the lock under
// test: in memory, in a file, or on a separate server. Its operations are
// plain loads and stores, not atomic increments, so that two critical
// sections running at once lose an update.
type Store interface {
	Load() (int64, error)
	Store(v int64) error
}

// Increment is the body of a critical section guarded by the lock under
// test: it loads the value, yields the processor to widen the window for a
// concurrent section, and stores the value plus one.
func Increment(s Store) error {
	v, err := s.Load()
	if err != nil {
		return err
	}
	runtime.Gosched()
	return s.Store(v + 1)
}

// A CountError reports a counter whose final value is not the number of
// critical sections that ran.
type CountError struct{ Got, Want int64 }

func (e *CountError) Error() string {
	if e.Got < e.Want {
		return fmt.Sprintf("check: counter is %d after %d critical sections (lost updates: %d)", e.Got, e.Want, e.Want-e.Got)
	}
	return fmt.Sprintf("check: counter is %d after only %d critical sections", e.Got, e.Want)
}

// CheckCount returns nil if s holds exactly sections, the number of
// critical sections that ran [Increment] on it, and a *CountError if not.
func CheckCount(s Store, sections int64) error {
	v, err := s.Load()
	if err != nil {
		return err
	}
	if v != sections {
		return &CountError{Got: v, Want: sections}
	}
	return nil
}

// LostUpdates returns the number of updates a *CountError in err reports
// lost, or 0.
func LostUpdates(err error) int64 {
	if ce, ok := errors.AsType[*CountError](err); ok && ce.Got < ce.Want {
		return ce.Want - ce.Got
	}
	return 0
}

// A MemStore is a Store in a plain variable. Its accesses are deliberately
// unsynchronized: under the race detector, two critical sections that
// overlap are reported as a data race, in addition to the lost update. The
// zero value holds 0.
type MemStore struct{ v int64 }

// Load returns the value.
func (m *MemStore) Load() (int64, error) { return m.v, nil }

// Store sets the value.
func (m *MemStore) Store(v int64) error { m.v = v; return nil }

// A FileStore is a Store in a file shared by several processes: the value
// is 8 little-endian bytes at offset 0, and an empty file holds 0.
type FileStore struct{ f *os.File }

// OpenFileStore opens the store at path, creating an empty one (mode 0600)
// if it does not exist.
func OpenFileStore(path string) (*FileStore, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("check: open file store: %w", err)
	}
	return &FileStore{f: f}, nil
}

// Load reads the value.
func (s *FileStore) Load() (int64, error) {
	var b [8]byte
	n, err := s.f.ReadAt(b[:], 0)
	switch {
	case n == 0 && err == io.EOF:
		return 0, nil
	case n < len(b):
		return 0, fmt.Errorf("check: read file store: %d bytes: %w", n, err)
	}
	return int64(binary.LittleEndian.Uint64(b[:])), nil
}

// Store writes the value.
func (s *FileStore) Store(v int64) error {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(v))
	if _, err := s.f.WriteAt(b[:], 0); err != nil {
		return fmt.Errorf("check: write file store: %w", err)
	}
	return nil
}

// Close closes the file.
func (s *FileStore) Close() error { return s.f.Close() }
