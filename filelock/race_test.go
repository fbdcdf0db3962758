//go:build linux && race

package filelock_test

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/codomyrmex/concurrency/internal/proctest"
)

// The race annotations do not order shared holds: two readers writing one
// variable are reported. (TestNoRaceGoroutines checks that exclusive holds
// are ordered.)
func TestRaceSharedHolds(t *testing.T) {
	t.Parallel()
	cmd := proctest.Command("racereaders", filepath.Join(t.TempDir(), "lock"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if !strings.Contains(stderr.String(), "WARNING: DATA RACE") {
		t.Fatalf("no race reported (%v); stderr:\n%s", err, stderr.String())
	}
}
