package check_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/codomyrmex/concurrency/internal/check"
)

// fenced is what Fence and FileFence have in common.
type fenced interface{ Write(token int64) error }

func testFence(t *testing.T, stale, fresh fenced) {
	t.Helper()
	for _, tok := range []int64{1, 2, 2, 5} {
		if err := fresh.Write(tok); err != nil {
			t.Fatalf("Write(%d) = %v", tok, err)
		}
	}
	// A paused holder of token 3 wakes up after token 5 was granted.
	err := stale.Write(3)
	if !errors.Is(err, check.ErrStaleToken) {
		t.Fatalf("stale Write(3) = %v, want ErrStaleToken", err)
	}
	t.Log(err)
	if err := fresh.Write(6); err != nil {
		t.Fatal(err)
	}
}

func TestFence(t *testing.T) {
	var f check.Fence
	testFence(t, &f, &f)
	if st := f.Stats(); st != (check.FenceStats{Highest: 6, Accepted: 5, Rejected: 1}) {
		t.Fatalf("Stats = %+v", st)
	}
}

// TestFileFence fences writers holding separate handles, as separate
// processes do.
func TestFileFence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fence")
	a, err := check.OpenFileFence(path)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := check.OpenFileFence(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	testFence(t, b, a)
	st, err := b.Stats()
	if err != nil || st != (check.FenceStats{Highest: 6, Accepted: 5, Rejected: 1}) {
		t.Fatalf("Stats = %+v, %v", st, err)
	}
}
