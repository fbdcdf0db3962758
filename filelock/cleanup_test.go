//go:build linux

package filelock_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/filelock"
	"github.com/codomyrmex/concurrency/lock"
)

// exists fails unless the file at path exists as want says.
func exists(t *testing.T, path string, want bool) {
	t.Helper()
	_, err := os.Lstat(path)
	if got := err == nil; got != want || err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("%s exists: %v (%v), want %v", path, got, err, want)
	}
}

func TestCleanup(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	l := openLock(t, path, filelock.WithCleanup())
	l2 := openLock(t, path, filelock.WithCleanup())
	ctx := context.Background()
	for range 3 {
		if err := l.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		exists(t, path, true)
		notAcquired(t, "TryLock through another Lock", l2.TryLock())
		l.Unlock()
		exists(t, path, false)
		if err := l2.TryLock(); err != nil {
			t.Fatal(err)
		}
		exists(t, path, true)
		l2.Unlock()
		exists(t, path, false)
	}
	// Shared holds recreate the file but do not remove it.
	if err := l.RLock(ctx); err != nil {
		t.Fatal(err)
	}
	if err := l2.TryRLock(); err != nil {
		t.Fatal(err)
	}
	l.RUnlock()
	l2.RUnlock()
	exists(t, path, true)

	// All Locks on a path in a process agree on WithCleanup.
	if _, err := filelock.New(path); !errors.Is(err, lock.ErrInvalidArgument) {
		t.Errorf("New without WithCleanup = %v, want lock.ErrInvalidArgument", err)
	}
	other := newLock(t)
	if _, err := filelock.New(other.Path(), filelock.WithCleanup()); !errors.Is(err, lock.ErrInvalidArgument) {
		t.Errorf("New with WithCleanup = %v, want lock.ErrInvalidArgument", err)
	}
}

// The unlink race: A holds, B has opened the file and waits, A removes the
// file and releases it, B locks the removed file, C creates a new file. With
// WithCleanup, B sees its file was removed and moves to the new one, so B
// and C never both hold the lock.
func TestCleanupNoSplitHolders(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	a := openLock(t, path, filelock.WithCleanup())
	ctx := context.Background()
	if err := a.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	b := startHelper(t, "serve", path, "-cleanup")
	b.Send("lock")
	time.Sleep(100 * time.Millisecond) // B opens the file and waits
	a.Unlock()
	b.expect(t, "locked")
	exists(t, path, true)
	if code := startHelper(t, "try", path, "-cleanup").wait(t); code != exitNotAcquired {
		t.Fatalf("C: exit %d, want %d (not acquired) while B holds", code, exitNotAcquired)
	}
	notAcquired(t, "A's TryLock while B holds", a.TryLock())
	b.Send("unlock")
	if _, err := b.Expect("", helperTimeout); err != nil {
		t.Fatal(err)
	}
	exists(t, path, false)
	if code := b.wait(t); code != 0 {
		t.Fatalf("B exited with %d", code)
	}
	if err := a.TryLock(); err != nil {
		t.Fatal(err)
	}
	a.Unlock()
}

// Goroutines exclude each other while the file is removed and recreated
// under them, through one Lock or several, and the race detector sees the
// order (this test must be clean under -race).
func TestNoRaceCleanupGoroutines(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	shared := openLock(t, path, filelock.WithCleanup())
	var (
		counter int
		wg      sync.WaitGroup
	)
	const goroutines, rounds = 8, 100
	for i := range goroutines {
		l := shared
		if i%2 == 1 {
			l = openLock(t, path, filelock.WithCleanup())
		}
		wg.Go(func() {
			for j := range rounds {
				if j%4 == 0 {
					if err := l.RLock(context.Background()); err != nil {
						t.Error(err)
						return
					}
					_ = counter
					l.RUnlock()
					continue
				}
				if err := l.Lock(context.Background()); err != nil {
					t.Error(err)
					return
				}
				counter++
				l.Unlock()
			}
		})
	}
	wg.Wait()
	if want := goroutines * rounds * 3 / 4; counter != want {
		t.Fatalf("counter = %d, want %d", counter, want)
	}
}
