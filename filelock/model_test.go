//go:build linux

package filelock_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/codomyrmex/concurrency/filelock"
	"github.com/codomyrmex/concurrency/lock"
	"golang.org/x/sys/unix"
)

// lockModel is what a sequence of non-blocking operations on two Locks of
// one file, and a flock(2) descriptor of its own (another process, in
// effect), should leave behind.
type lockModel struct {
	excl   int    // Lock holding exclusively: 0 none, 1 or 2
	shared [3]int // shared holds per Lock (index 1, 2)
	ext    int    // the other descriptor: 0 none, 1 shared, 2 exclusive
}

func (m *lockModel) readers() int { return m.shared[1] + m.shared[2] }

// Non-blocking operations, checked step by step against lockModel.
func FuzzTryOps(f *testing.F) {
	f.Add([]byte{0, 1, 4, 1, 5})
	f.Add([]byte{2, 3, 0, 6, 7, 0, 4})
	f.Add([]byte{2, 8, 9, 6, 8, 0, 9, 0})
	f.Add([]byte{10, 2, 0, 9, 2, 3, 8, 6, 7, 8})
	f.Add([]byte{4, 5, 6, 7, 0, 0, 1, 4})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, ops []byte) {
		if len(ops) > 200 {
			ops = ops[:200]
		}
		path := filepath.Join(dir, "lock")
		l := [3]*filelock.Lock{nil, openLock(t, path), openLock(t, path)}
		fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fd)
		var m lockModel
		// check compares an attempt's outcome with the model's.
		check := func(op string, err error, want bool) {
			t.Helper()
			switch {
			case want && err != nil:
				t.Fatalf("%s = %v, want success (model %+v)", op, err, m)
			case !want && !errors.Is(err, lock.ErrNotAcquired):
				t.Fatalf("%s = %v, want lock.ErrNotAcquired (model %+v)", op, err, m)
			}
		}
		panics := func(f func()) (p bool) {
			defer func() { p = recover() != nil }()
			f()
			return false
		}
		for _, op := range ops {
			i := 1 + int(op&1) // which Lock
			switch op % 12 {
			case 0, 1:
				want := m.excl == 0 && m.readers() == 0 && m.ext == 0
				check("TryLock", l[i].TryLock(), want)
				if want {
					m.excl = i
				}
			case 2, 3:
				want := m.excl == 0 && m.ext != 2
				check("TryRLock", l[i].TryRLock(), want)
				if want {
					m.shared[i]++
				}
			case 4, 5:
				if p := panics(l[i].Unlock); p != (m.excl != i) {
					t.Fatalf("Unlock of Lock %d panicked: %v (model %+v)", i, p, m)
				}
				if m.excl == i {
					m.excl = 0
				}
			case 6, 7:
				if p := panics(l[i].RUnlock); p != (m.shared[i] == 0) {
					t.Fatalf("RUnlock of Lock %d panicked: %v (model %+v)", i, p, m)
				}
				if m.shared[i] > 0 {
					m.shared[i]--
				}
			case 8, 10: // the other descriptor: exclusive, or shared
				how, mode := unix.LOCK_EX, 2
				if op%12 == 10 {
					how, mode = unix.LOCK_SH, 1
				}
				// A flock conversion on the other descriptor: it may
				// lose its shared lock when it fails, so model only
				// attempts from no lock.
				if m.ext != 0 {
					continue
				}
				want := m.excl == 0 && (mode == 1 || m.readers() == 0)
				err := unix.Flock(fd, how|unix.LOCK_NB)
				if (err == nil) != want {
					t.Fatalf("other descriptor flock(%d) = %v, want success %v (model %+v)", how, err, want, m)
				}
				if want {
					m.ext = mode
				}
			case 9, 11:
				unix.Flock(fd, unix.LOCK_UN)
				m.ext = 0
			}
		}
		// Release what is held, so the Locks can be closed.
		if m.excl != 0 {
			l[m.excl].Unlock()
		}
		for i := 1; i <= 2; i++ {
			for range m.shared[i] {
				l[i].RUnlock()
			}
		}
	})
}
