//go:build !linux

package filelock

import (
	"context"
	"fmt"
	"runtime"
)

// sysFile stands in for the lock file layers (open_linux.go,
// kernel_linux.go and wait_linux.go) where locking is not supported:
// openSys fails, so no file is ever registered and its methods are never
// called.
type sysFile struct {
	ofd, cleanup bool
	path         string
}

func openSys(dir, name string, private bool, c *config) (sysFile, fileID, error) {
	return sysFile{}, fileID{}, fmt.Errorf("filelock: %s/%s: %w", runtime.GOOS, runtime.GOARCH, ErrNotSupported)
}

func (s *sysFile) try(m mode) (bool, error)               { return false, ErrNotSupported }
func (s *sysFile) lock(ctx context.Context, m mode) error { return ErrNotSupported }
func (s *sysFile) unlock()                                {}
func (s *sysFile) remove()                                {}
func (s *sysFile) setHolder(purpose string)               {}
func (s *sysFile) clearHolder()                           {}
func (s *sysFile) close() error                           { return nil }
