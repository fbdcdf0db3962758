//go:build linux

package manager_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/codomyrmex/concurrency/filelock"
	"github.com/codomyrmex/concurrency/internal/oteltest"
	"github.com/codomyrmex/concurrency/manager"
)

// A *filelock.Lock is tried first through its TryLock() error and
// TryRLock() error, so that waits for it count as contended, and its
// telemetry has lock.kind "filelock".
func TestFileLock(t *testing.T) {
	ctx := context.Background()
	s := oteltest.New(t)
	m := manager.New(manager.WithTracerProvider(s.TracerProvider))
	l, err := filelock.New(filepath.Join(t.TempDir(), "lock"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := m.Register("f", l); err != nil {
		t.Fatal(err)
	}
	h, err := m.Acquire(ctx, manager.Read("f"), manager.Write("f"))
	if err != nil {
		t.Fatal(err)
	}
	h.Release(ctx)
	if n := len(s.Spans.Started()); n != 0 {
		t.Fatalf("%d spans for an uncontended acquisition, want 0", n)
	}
	contendOn(t, m, "f", manager.ModeWrite, manager.ModeWrite)
	contendOn(t, m, "f", manager.ModeWrite, manager.ModeRead)
	st, _ := m.Stats("f")
	if st.Acquisitions != 5 || st.Contended != 2 || st.Holders != 0 {
		t.Errorf("stats %+v, want 5 acquisitions, 2 contended", st)
	}
	ended := s.Spans.Ended()
	if len(ended) != 2 || ended[0].Name() != "acquire filelock" || ended[1].Name() != "acquire filelock" {
		t.Errorf("spans %v, want two \"acquire filelock\"", ended)
	}
}
