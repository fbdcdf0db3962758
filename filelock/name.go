package filelock

import (
	"fmt"
	"os"
	"path/filepath"

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

// NewNamed returns a Lock on the file name+".lock" in a private lock
// directory ([DefaultDir], or the one given with [WithDir]), creating the
// directory and the file as needed. WithDir("") means the default. The name
// must pass [ValidateName], and a directory given with WithDir must not
// contain a NUL byte; otherwise the error wraps [lock.ErrInvalidArgument].
// Otherwise it behaves as [New].
func NewNamed(name string, opts ...Option) (*Lock, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	c := newConfig(opts)
	private := c.dir == ""
	if private {
		d, err := DefaultDir()
		if err != nil {
			return nil, err
		}
		c.dir = d
	} else if err := checkPath("lock directory", c.dir); err != nil {
		return nil, err
	}
	return newLock(c.dir, name+nameSuffix, private, &c, name)
}
