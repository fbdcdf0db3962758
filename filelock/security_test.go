//go:build linux

package filelock_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/codomyrmex/concurrency/filelock"
	"github.com/codomyrmex/concurrency/lock"
	"golang.org/x/sys/unix"
)

// A symbolic link planted at the lock path is refused, and its target is
// left untouched.
func TestSymlinkRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	canary := filepath.Join(dir, "canary")
	if err := os.WriteFile(canary, []byte("precious"), 0o640); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(canary)
	link := filepath.Join(dir, "lock")
	if err := os.Symlink(canary, link); err != nil {
		t.Fatal(err)
	}
	if _, err := filelock.New(link); !errors.Is(err, filelock.ErrUnsafe) {
		t.Errorf("New(symlink) = %v, want ErrUnsafe", err)
	}
	// The same through a name in a lock directory.
	if err := os.Symlink(canary, filepath.Join(dir, "name.lock")); err != nil {
		t.Fatal(err)
	}
	if _, err := filelock.NewNamed("name", filelock.WithDir(dir)); !errors.Is(err, filelock.ErrUnsafe) {
		t.Errorf("NewNamed(planted symlink) = %v, want ErrUnsafe", err)
	}
	// A dangling symlink is not followed to create its target either.
	gone := filepath.Join(dir, "gone")
	if err := os.Symlink(gone, filepath.Join(dir, "dangling")); err != nil {
		t.Fatal(err)
	}
	if _, err := filelock.New(filepath.Join(dir, "dangling")); !errors.Is(err, filelock.ErrUnsafe) {
		t.Errorf("New(dangling symlink) = %v, want ErrUnsafe", err)
	}
	if _, err := os.Lstat(gone); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("symlink target created: %v", err)
	}
	after, _ := os.Stat(canary)
	b, _ := os.ReadFile(canary)
	if string(b) != "precious" || after.Mode() != before.Mode() || !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("canary changed: %q, %v, %v", b, after.Mode(), after.ModTime())
	}
}

func TestNotRegularRefused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{dir, fifo, "/dev/null"} {
		if _, err := filelock.New(path); !errors.Is(err, filelock.ErrUnsafe) {
			t.Errorf("New(%s) = %v, want ErrUnsafe", path, err)
		}
	}
}

func TestPermissiveFileRefused(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "lock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o620); err != nil {
		t.Fatal(err)
	}
	if _, err := filelock.New(path); !errors.Is(err, filelock.ErrUnsafe) {
		t.Errorf("New(group-writable file) = %v, want ErrUnsafe", err)
	}
}

func TestForeignOwnerRefused(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a file to another user")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "lock")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := filelock.New(path); !errors.Is(err, filelock.ErrUnsafe) {
		t.Errorf("New(file of another user) = %v, want ErrUnsafe", err)
	}
	sub := filepath.Join(dir, "sub")
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(sub, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if _, err := filelock.NewNamed("x", filelock.WithDir(sub)); !errors.Is(err, filelock.ErrUnsafe) {
		t.Errorf("NewNamed in a directory of another user = %v, want ErrUnsafe", err)
	}
}

// Files are created 0600 and directories 0700 whatever the umask.
// Not parallel: the umask belongs to the process.
func TestModes(t *testing.T) {
	for _, umask := range []int{0, 0o077, 0o022} {
		old := syscall.Umask(umask)
		dir := filepath.Join(t.TempDir(), "a", "b")
		l, err := filelock.NewNamed("x", filelock.WithDir(dir))
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Lock(context.Background()); err != nil {
			t.Fatal(err)
		}
		l.Unlock()
		l.Close()
		for path, want := range map[string]os.FileMode{
			dir:                          os.ModeDir | 0o700,
			filepath.Dir(dir):            os.ModeDir | 0o700,
			filepath.Join(dir, "x.lock"): 0o600,
		} {
			if fi, err := os.Stat(path); err != nil || fi.Mode() != want {
				t.Errorf("umask %#o: %s: mode %v (%v), want %v", umask, path, fi.Mode(), err, want)
			}
		}
	}
}

func TestDefaultDir(t *testing.T) {
	run := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", run)
	dir, err := filelock.DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(dir) != run {
		t.Fatalf("DefaultDir() = %s, want a directory in %s", dir, run)
	}
	l, err := filelock.NewNamed("deploy")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "deploy.lock"); l.Path() != want {
		t.Errorf("Path() = %s, want %s", l.Path(), want)
	}
	l.Close()
	// The default directory must be private.
	if err := os.Chmod(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	if _, err := filelock.NewNamed("deploy"); !errors.Is(err, filelock.ErrUnsafe) {
		t.Errorf("NewNamed with a group-readable default directory = %v, want ErrUnsafe", err)
	}
	// A directory that is a symbolic link is refused.
	os.Chmod(dir, 0o700)
	other := t.TempDir()
	if err := os.Symlink(other, filepath.Join(run, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := filelock.NewNamed("deploy", filelock.WithDir(filepath.Join(run, "link"))); !errors.Is(err, filelock.ErrUnsafe) {
		t.Errorf("NewNamed in a symlinked directory = %v, want ErrUnsafe", err)
	}
}

func TestValidateName(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"a", "deploy", "db-migrate_2.lock", "A.B-c_9", strings.Repeat("x", filelock.MaxNameLen)} {
		if err := filelock.ValidateName(name); err != nil {
			t.Errorf("ValidateName(%q) = %v, want nil", name, err)
		}
	}
	for _, name := range []string{"", ".", "..", ".hidden", "a/b", "../x", "a\x00b", "a b", "é", "a\\b", strings.Repeat("x", filelock.MaxNameLen+1)} {
		err := filelock.ValidateName(name)
		if !errors.Is(err, lock.ErrInvalidArgument) {
			t.Errorf("ValidateName(%q) = %v, want lock.ErrInvalidArgument", name, err)
		}
		if _, err := filelock.NewNamed(name, filelock.WithDir(t.TempDir())); !errors.Is(err, lock.ErrInvalidArgument) {
			t.Errorf("NewNamed(%q) = %v, want lock.ErrInvalidArgument", name, err)
		}
	}
	if _, err := filelock.New(""); !errors.Is(err, lock.ErrInvalidArgument) {
		t.Errorf(`New("") = %v, want lock.ErrInvalidArgument`, err)
	}
}

// No accepted name makes a lock file anywhere but directly inside the lock
// directory.
func FuzzValidateName(f *testing.F) {
	for _, s := range []string{"a", "..", "../etc/passwd", "a/b", "/abs", "x\x00y", ".lock", "a..b", "-", strings.Repeat("z", 200)} {
		f.Add(s)
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, name string) {
		if filelock.ValidateName(name) != nil {
			return
		}
		if name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") || len(name) > filelock.MaxNameLen {
			t.Fatalf("ValidateName accepted %q", name)
		}
		l, err := filelock.NewNamed(name, filelock.WithDir(dir))
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if got := filepath.Dir(l.Path()); got != dir {
			t.Fatalf("lock file %s is in %s, not in %s", l.Path(), got, dir)
		}
		if _, err := os.Lstat(filepath.Join(dir, name+".lock")); err != nil {
			t.Fatal(err)
		}
	})
}
