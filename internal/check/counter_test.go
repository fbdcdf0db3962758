package check_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"github.com/codomyrmex/concurrency/internal/check"
	"github.com/codomyrmex/concurrency/lock"
)

func TestCounterExactUnderMutex(t *testing.T) {
	var (
		mu    lock.Mutex
		store check.MemStore
		wg    sync.WaitGroup
	)
	const goroutines, sections = 8, 500
	for range goroutines {
		wg.Go(func() {
			for range sections {
				if err := mu.Lock(context.Background()); err != nil {
					t.Error(err)
					return
				}
				if err := check.Increment(&store); err != nil {
					t.Error(err)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if err := check.CheckCount(&store, goroutines*sections); err != nil {
		t.Fatal(err)
	}
}

// interleave runs the load and store of two critical sections as two
// holders of a broken lock would: both load, then both store.
func interleave(t *testing.T, a, b check.Store) {
	t.Helper()
	va, _ := a.Load()
	vb, _ := b.Load()
	if err := a.Store(va + 1); err != nil {
		t.Fatal(err)
	}
	if err := b.Store(vb + 1); err != nil {
		t.Fatal(err)
	}
}

func TestCounterReportsLostUpdate(t *testing.T) {
	var store check.MemStore
	check.Increment(&store)
	interleave(t, &store, &store)
	err := check.CheckCount(&store, 3)
	if _, ok := errors.AsType[*check.CountError](err); !ok || check.LostUpdates(err) != 1 {
		t.Fatalf("CheckCount = %v, want 1 lost update", err)
	}
	t.Log(err)
	if err := check.CheckCount(&store, 1); err == nil || check.LostUpdates(err) != 0 {
		t.Fatalf("CheckCount with too few sections = %v", err)
	}
}

// TestFileStoreAcrossHandles uses two handles on one file, as two processes
// would.
func TestFileStoreAcrossHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "counter")
	a, err := check.OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := check.OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if v, err := a.Load(); v != 0 || err != nil {
		t.Fatalf("empty store: %d, %v", v, err)
	}
	for i := range 10 {
		s := a
		if i%2 == 1 {
			s = b
		}
		if err := check.Increment(s); err != nil {
			t.Fatal(err)
		}
	}
	if err := check.CheckCount(b, 10); err != nil {
		t.Fatal(err)
	}
	interleave(t, a, b)
	if err := check.CheckCount(a, 12); check.LostUpdates(err) != 1 {
		t.Fatalf("CheckCount = %v, want 1 lost update", err)
	}
}
