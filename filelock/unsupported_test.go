//go:build !linux

package filelock_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/codomyrmex/concurrency/filelock"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestNotSupported(t *testing.T) {
	if _, err := filelock.New(filepath.Join(t.TempDir(), "lock")); !errors.Is(err, filelock.ErrNotSupported) {
		t.Errorf("New = %v, want ErrNotSupported", err)
	}
	if _, err := filelock.NewNamed("x", filelock.WithDir(t.TempDir())); !errors.Is(err, filelock.ErrNotSupported) {
		t.Errorf("NewNamed = %v, want ErrNotSupported", err)
	}
}
