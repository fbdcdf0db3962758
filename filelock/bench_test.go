//go:build linux

package filelock_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/codomyrmex/concurrency/filelock"
	"golang.org/x/sys/unix"
)

func BenchmarkLockUnlock(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []filelock.Option
	}{
		{"flock", nil},
		{"ofd", []filelock.Option{filelock.WithOFD()}},
		{"cleanup", []filelock.Option{filelock.WithCleanup()}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l, err := filelock.New(filepath.Join(b.TempDir(), "lock"), bc.opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := l.Lock(ctx); err != nil {
					b.Fatal(err)
				}
				l.Unlock()
			}
		})
	}
}

func BenchmarkRLockRUnlock(b *testing.B) {
	l, err := filelock.New(filepath.Join(b.TempDir(), "lock"))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := l.RLock(ctx); err != nil {
			b.Fatal(err)
		}
		l.RUnlock()
	}
}

// The floor: flock(2) lock and unlock on a kept descriptor.
func BenchmarkRawFlock(b *testing.B) {
	fd, err := unix.Open(filepath.Join(b.TempDir(), "lock"), unix.O_RDWR|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		b.Fatal(err)
	}
	defer unix.Close(fd)
	b.ReportAllocs()
	for b.Loop() {
		unix.Flock(fd, unix.LOCK_EX|unix.LOCK_NB)
		unix.Flock(fd, unix.LOCK_UN)
	}
}

// BenchmarkLockUnlockTelemetry: an uncontended Lock and Unlock with
// telemetry off (the no-op providers), with the global providers and no
// SDK (the default), and with an SDK that records.
func BenchmarkLockUnlockTelemetry(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts func(b *testing.B) []filelock.Option
	}{
		{"off", func(*testing.B) []filelock.Option { return noopOpts }},
		{"global", func(*testing.B) []filelock.Option { return nil }},
		{"sdk", func(b *testing.B) []filelock.Option { return newSDK(b).opts }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			l, err := filelock.New(filepath.Join(b.TempDir(), "lock"), bc.opts(b)...)
			if err != nil {
				b.Fatal(err)
			}
			defer l.Close()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := l.Lock(ctx); err != nil {
					b.Fatal(err)
				}
				l.Unlock()
			}
		})
	}
}
