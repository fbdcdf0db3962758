//go:build linux

package filelock

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestRemoteFS(t *testing.T) {
	t.Parallel()
	for magic, want := range map[uint32]string{
		unix.NFS_SUPER_MAGIC:   "NFS",
		unix.CIFS_SUPER_MAGIC:  "SMB/CIFS",
		unix.SMB2_SUPER_MAGIC:  "SMB/CIFS",
		unix.FUSE_SUPER_MAGIC:  "FUSE",
		unix.V9FS_MAGIC:        "9P",
		unix.EXT4_SUPER_MAGIC:  "",
		unix.TMPFS_MAGIC:       "",
		unix.XFS_SUPER_MAGIC:   "",
		unix.BTRFS_SUPER_MAGIC: "",
	} {
		if got := remoteFS(magic); got != want {
			t.Errorf("remoteFS(%#x) = %q, want %q", magic, got, want)
		}
	}
}

// Without inotify instances to spare, waits poll: they still acquire when
// the holder releases without making an event, and still honour their
// context. Not parallel: it takes the process's watchers away.
func TestPollingFallback(t *testing.T) {
	watchers.mu.Lock()
	idle, created := watchers.idle, watchers.created
	watchers.idle, watchers.created = nil, maxWatchers
	watchers.mu.Unlock()
	defer func() {
		watchers.mu.Lock()
		watchers.idle, watchers.created = idle, created
		watchers.mu.Unlock()
	}()

	path := filepath.Join(t.TempDir(), "lock")
	l, err := New(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatal(err)
	}

	// By 300 ms polls are 50-100 ms apart; the deadline must not wait for
	// the next one. Lateness is compared with that of a bare <-ctx.Done(),
	// three times, for a busy machine.
	late := func(wait func(context.Context) error) time.Duration {
		const timeout = 300 * time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		start := time.Now()
		if err := wait(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("wait = %v, want context.DeadlineExceeded", err)
		}
		return time.Since(start) - timeout
	}
	for try := 1; ; try++ {
		bare := late(func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() })
		got := late(l.Lock)
		if got <= bare+10*time.Millisecond {
			break
		}
		if try == 3 {
			t.Errorf("Lock returned %v after its deadline, <-ctx.Done() %v", got, bare)
			break
		}
	}

	got := make(chan error)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		got <- l.RLock(ctx)
	}()
	time.Sleep(50 * time.Millisecond)
	// A release that makes no inotify event: only a poll can see it.
	if err := unix.Flock(fd, unix.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	l.RUnlock()
}
