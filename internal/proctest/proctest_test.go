//go:build unix

package proctest_test

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/codomyrmex/concurrency/internal/proctest"
)

func TestMain(m *testing.M) {
	if name, args, ok := proctest.Helper(); ok {
		os.Exit(runHelper(name, args))
	}
	goleak.VerifyTestMain(m)
}

// runHelper runs the helpers of these tests:
//   - "echo ARGS...": prints each argument on a line, then "got LINE" for
//     each line of stdin; when stdin ends, prints "bye" to stderr and exits
//     with the status in $EXIT.
//   - "sleep": sleeps for a minute.
func runHelper(name string, args []string) int {
	switch name {
	case "echo":
		for _, a := range args {
			fmt.Println(a)
		}
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			fmt.Println("got", in.Text())
		}
		fmt.Fprintln(os.Stderr, "bye")
		code, _ := strconv.Atoi(os.Getenv("EXIT"))
		return code
	case "sleep":
		time.Sleep(time.Minute)
		return 0
	}
	return 2
}

func TestHelper(t *testing.T) {
	cmd := proctest.Command("echo", "a b", "", "c")
	cmd.Env = append(cmd.Env, "EXIT=3")
	p := proctest.Start(t, cmd)
	for _, want := range []string{"a b", "", "c"} {
		if line, err := p.Expect("", 10*time.Second); err != nil || line != want {
			t.Fatalf("Expect(\"\") = %q, %v; want %q", line, err, want)
		}
	}
	for _, in := range []string{"x", "y"} {
		if err := p.Send(in); err != nil {
			t.Fatal(err)
		}
	}
	if line, err := p.Expect("got y", 10*time.Second); err != nil || line != "got y" {
		t.Fatalf("Expect(got y) = %q, %v", line, err)
	}
	if got := p.Lines("got "); len(got) != 2 || got[0] != "got x" {
		t.Errorf("Lines(got ) = %q, want both lines, skipped or not", got)
	}
	if err := p.CloseStdin(); err != nil {
		t.Fatal(err)
	}
	if code, err := p.ExitCode(10 * time.Second); err != nil || code != 3 {
		t.Fatalf("ExitCode = %d, %v; want 3", code, err)
	}
	if err := p.Wait(time.Second); err == nil || !strings.Contains(err.Error(), "bye") || !strings.Contains(err.Error(), "helper echo") {
		t.Errorf("Wait = %v, want an error naming the helper, with its stderr", err)
	}
	if _, err := p.Expect("never", time.Second); err == nil || !strings.Contains(err.Error(), "ended without") {
		t.Errorf("Expect after exit = %v", err)
	}
	if err := p.Signal(syscall.SIGTERM); err == nil {
		t.Error("Signal after exit succeeded")
	}
	<-p.Done()
}

// StartHelper adds to the helper's environment.
func TestStartHelperEnv(t *testing.T) {
	p := proctest.StartHelper(t, "echo", "EXIT=4")
	if err := p.CloseStdin(); err != nil {
		t.Fatal(err)
	}
	if code, err := p.ExitCode(10 * time.Second); err != nil || code != 4 {
		t.Fatalf("ExitCode = %d, %v; want 4, from $EXIT", code, err)
	}
}

// A helper still running when its test ends is killed and reaped.
func TestKilledAtCleanup(t *testing.T) {
	var p *proctest.Proc
	t.Run("start", func(t *testing.T) {
		p = proctest.StartHelper(t, "sleep")
		if err := p.Stop(); err != nil {
			t.Fatal(err)
		}
	})
	select {
	case <-p.Done():
	default:
		t.Fatal("helper still running after its test")
	}
	if err := syscall.Kill(p.PID(), 0); err != syscall.ESRCH {
		t.Errorf("kill(pid, 0) = %v, want ESRCH: the helper was reaped", err)
	}
}

// Wait and ExitCode kill a helper that does not exit in time.
func TestWaitTimeout(t *testing.T) {
	p := proctest.Start(t, proctest.Command("sleep"))
	if _, err := p.Expect("", 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "within") {
		t.Errorf("Expect of a silent helper = %v", err)
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := p.Cont(); err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(50 * time.Millisecond); err == nil || !strings.Contains(err.Error(), "still running") {
		t.Fatalf("Wait = %v, want still running", err)
	}
	select {
	case <-p.Done():
	default:
		t.Fatal("Wait returned with the helper running")
	}
}
