//go:build linux

package filelock_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/codomyrmex/concurrency/filelock"
	"github.com/codomyrmex/concurrency/lock"
)

// Lock a file with a deadline, excluding other processes and goroutines.
func Example() {
	dir, _ := os.MkdirTemp("", "filelock-example")
	defer os.RemoveAll(dir)

	l, err := filelock.New(filepath.Join(dir, "state.lock"))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := l.Lock(ctx); err != nil {
		fmt.Println("not locked:", err)
		return
	}
	defer l.Unlock()
	fmt.Println("locked")
	// Output: locked
}

// Lock a name in a private lock directory. Without WithDir the directory
// is DefaultDir, under $XDG_RUNTIME_DIR.
func ExampleNewNamed() {
	dir, _ := os.MkdirTemp("", "filelock-example")
	defer os.RemoveAll(dir)

	l, err := filelock.NewNamed("nightly-backup", filelock.WithDir(filepath.Join(dir, "locks")))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()
	fmt.Println(filepath.Base(l.Path()))

	_, err = filelock.NewNamed("../etc/passwd")
	fmt.Println(errors.Is(err, lock.ErrInvalidArgument))
	// Output:
	// nightly-backup.lock
	// true
}

// TryLock tells "held elsewhere" apart from real failures.
func ExampleLock_TryLock() {
	dir, _ := os.MkdirTemp("", "filelock-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "job.lock")

	a, _ := filelock.New(path)
	defer a.Close()
	b, _ := filelock.New(path)
	defer b.Close()

	if err := a.TryLock(); err != nil {
		fmt.Println(err)
		return
	}
	err := b.TryLock()
	switch {
	case errors.Is(err, lock.ErrNotAcquired):
		fmt.Println("busy: someone else runs the job")
	case err != nil:
		fmt.Println("error:", err)
	default:
		b.Unlock()
	}
	a.Unlock()
	// Output: busy: someone else runs the job
}

// Readers share the lock; a writer excludes them.
func ExampleLock_RLock() {
	dir, _ := os.MkdirTemp("", "filelock-example")
	defer os.RemoveAll(dir)

	l, _ := filelock.New(filepath.Join(dir, "config.lock"))
	defer l.Close()
	ctx := context.Background()

	_ = l.RLock(ctx)
	_ = l.RLock(ctx) // a second reader
	fmt.Println(errors.Is(l.TryLock(), lock.ErrNotAcquired))
	l.RUnlock()
	l.RUnlock()
	fmt.Println(l.TryLock() == nil)
	l.Unlock()
	// Output:
	// true
	// true
}
