package filelock

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/codomyrmex/concurrency/lock"
)

// MaxNameLen is the longest name accepted by [ValidateName] and [NewNamed].
const MaxNameLen = 128

// nameSuffix is appended to a lock name to form its file name.
const nameSuffix = ".lock"

// ValidateName reports whether name can name a lock of [NewNamed]. A valid
// name is 1 to [MaxNameLen] bytes of ASCII letters, digits, '.', '_' and
// '-', and does not start with '.'. So it never contains a path separator
// or NUL, is never "." or "..", and its lock file lies directly inside the
// lock directory. The error wraps [lock.ErrInvalidArgument].
//
// To lock an arbitrary key, derive a valid name from it, for example the hex
// encoding of a hash of the key.
func ValidateName(name string) error {
	switch {
	case name == "":
		return invalidName(name, "empty")
	case len(name) > MaxNameLen:
		return invalidName(name, fmt.Sprintf("longer than %d bytes", MaxNameLen))
	case name[0] == '.':
		return invalidName(name, "starts with '.'")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return invalidName(name, fmt.Sprintf("byte %#02x at offset %d is not one of [A-Za-z0-9._-]", c, i))
		}
	}
	return nil
}

func invalidName(name, why string) error {
	if len(name) > MaxNameLen {
		name = name[:MaxNameLen] + "..."
	}
	return fmt.Errorf("filelock: invalid lock name %q: %s: %w", name, why, lock.ErrInvalidArgument)
}

// checkPath refuses an empty path, and one with a NUL byte, which no
// system call can take; what names the path in messages.
func checkPath(what, path string) error {
	switch {
	case path == "":
		return fmt.Errorf("filelock: empty %s: %w", what, lock.ErrInvalidArgument)
	case strings.IndexByte(path, 0) >= 0:
		return fmt.Errorf("filelock: %s %q contains a NUL byte: %w", what, path, lock.ErrInvalidArgument)
	}
	return nil
}

// DefaultDir returns the directory in which [NewNamed] keeps lock files
// unless [WithDir] is given: "codomyrmex-locks" under $XDG_RUNTIME_DIR when
// that is set to an absolute path (a per-user tmpfs on most Linux systems,
// cleared at logout), otherwise "codomyrmex/locks" under
// [os.UserCacheDir]. It does not create the directory; NewNamed does, with
// mode 0700, and requires it to be private: owned by the effective user and
// with no permissions for group or others.
func DefaultDir() (string, error) {
	if d := os.Getenv("XDG_RUNTIME_DIR"); filepath.IsAbs(d) {
		return filepath.Join(d, "codomyrmex-locks"), nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("filelock: no default lock directory: %w", err)
	}
	return filepath.Join(d, "codomyrmex", "locks"), nil
}

// A fileID identifies a file (an inode) on the host.
type fileID struct{ dev, ino uint64 }
