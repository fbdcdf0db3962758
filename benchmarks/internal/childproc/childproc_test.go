package childproc

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestStartStop starts sleep(1) as a server that is ready at once, and
// stops it by its PID: the process is gone and its directory removed.
func TestStartStop(t *testing.T) {
	p, err := Start(context.Background(), Spec{
		Bin:          "sleep",
		Ports:        2,
		Args:         func(string, []int) []string { return []string{"30"} },
		Ready:        func(context.Context, []int) error { return nil },
		StartTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Ports) != 2 || p.Ports[0] == p.Ports[1] {
		t.Fatalf("ports %v", p.Ports)
	}
	pid := p.PID()
	p.Stop()
	if err := syscall.Kill(pid, 0); err == nil {
		t.Fatalf("process %d still there after Stop", pid)
	}
	if _, err := os.Stat(p.Dir); !os.IsNotExist(err) {
		t.Fatalf("directory %s left behind: %v", p.Dir, err)
	}
}

// TestStartFails: a server that exits, or never gets ready, fails Start
// with its log, and a missing command is ErrNotInstalled.
func TestStartFails(t *testing.T) {
	_, err := Start(context.Background(), Spec{
		Bin: "sh", Ports: 1,
		Args: func(_ string, ports []int) []string {
			return []string{"-c", "echo port " + strconv.Itoa(ports[0]) + " taken >&2; exit 1"}
		},
		Ready:        func(context.Context, []int) error { return errors.New("not yet") },
		StartTimeout: time.Second,
	})
	if err == nil || !strings.Contains(err.Error(), "taken") {
		t.Fatalf("exiting server: %v, want its log in the error", err)
	}
	_, err = Start(context.Background(), Spec{
		Bin: "sleep", Ports: 1,
		Args:         func(string, []int) []string { return []string{"30"} },
		Ready:        func(context.Context, []int) error { return errors.New("not yet") },
		StartTimeout: 50 * time.Millisecond,
	})
	if err == nil {
		t.Fatal("a server that never got ready started")
	}
	if _, err := Start(context.Background(), Spec{Bin: "no-such-server-here"}); !errors.Is(err, ErrNotInstalled) {
		t.Fatalf("missing command: %v, want ErrNotInstalled", err)
	}
}
