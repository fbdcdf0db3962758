//go:build linux

package filelock

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/codomyrmex/concurrency/lock"
)

// A path or a directory with a NUL byte is invalid.
func TestNULInPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for name, f := range map[string]func() (*Lock, error){
		"New":              func() (*Lock, error) { return New(filepath.Join(dir, "a\x00b")) },
		"NewNamed":         func() (*Lock, error) { return NewNamed("a\x00b", WithDir(dir)) },
		"NewNamed WithDir": func() (*Lock, error) { return NewNamed("a", WithDir(dir+"/x\x00y")) },
	} {
		l, err := f()
		if !errors.Is(err, lock.ErrInvalidArgument) {
			t.Errorf("%s: %v, want lock.ErrInvalidArgument", name, err)
		}
		if l != nil {
			l.Close()
		}
	}
}
