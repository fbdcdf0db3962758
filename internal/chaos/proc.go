//go:build linux

package chaos

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// HelperEnv is the environment variable that makes a re-executed test
// binary run a helper role instead of its tests: the package's TestMain
// looks it up and dispatches.
const HelperEnv = "CHAOS_HELPER"

// A Proc is a helper process: the running test binary started again with
// HelperEnv set to a role. Its standard output is collected line by line
// for [Proc.Expect]; its standard error is kept for failure messages. The
// kernel kills it if the test process dies (PR_SET_PDEATHSIG).
type Proc struct {
	role   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr bytes.Buffer // written by exec's copier; read only after exit

	mu    sync.Mutex
	lines []string      // stdout lines read so far
	next  int           // index of the first line Expect has not returned
	more  chan struct{} // signalled when a line arrives or stdout ends
	eof   bool

	exited chan struct{} // closed when the process has been waited for
	err    error         // cmd.Wait's result, set before exited closes
}

// StartHelper starts the test binary as a helper running role, with env
// (KEY=VALUE) added to this process's environment. tb.Cleanup kills it by
// PID if it is still running and waits for it.
func StartHelper(tb testing.TB, role string, env ...string) *Proc {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatalf("chaos: test binary: %v", err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(append(os.Environ(), HelperEnv+"="+role), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	p := &Proc{role: role, cmd: cmd, more: make(chan struct{}, 1), exited: make(chan struct{})}
	cmd.Stderr = &p.stderr
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("chaos: start helper %s: %v", role, err)
	}
	go p.collect(stdout)
	tb.Cleanup(p.Kill)
	return p
}

// collect reads stdout until the process closes it, then waits for the
// process.
func (p *Proc) collect(stdout io.Reader) {
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		p.mu.Lock()
		p.lines = append(p.lines, sc.Text())
		p.mu.Unlock()
		p.signal()
	}
	io.Copy(io.Discard, stdout) // a line too long for the scanner
	p.mu.Lock()
	p.eof = true
	p.mu.Unlock()
	p.signal()
	p.err = p.cmd.Wait()
	close(p.exited)
}

func (p *Proc) signal() {
	select {
	case p.more <- struct{}{}:
	default:
	}
}

// PID returns the helper's process ID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Expect returns the next line of the helper's output that starts with
// prefix, skipping lines before it. It fails if the output ends or timeout
// passes first.
func (p *Proc) Expect(prefix string, timeout time.Duration) (string, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		p.mu.Lock()
		for p.next < len(p.lines) {
			line := p.lines[p.next]
			p.next++
			if strings.HasPrefix(line, prefix) {
				p.mu.Unlock()
				return line, nil
			}
		}
		eof := p.eof
		p.mu.Unlock()
		if eof {
			return "", fmt.Errorf("chaos: helper %s (pid %d) ended without printing %q", p.role, p.PID(), prefix)
		}
		select {
		case <-p.more:
		case <-deadline.C:
			return "", fmt.Errorf("chaos: helper %s (pid %d) printed no %q within %v", p.role, p.PID(), prefix, timeout)
		}
	}
}

// Lines returns the lines of output that start with prefix, so far.
func (p *Proc) Lines(prefix string) []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, l := range p.lines {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return out
}

// Signal sends sig to the helper unless it has been waited for.
func (p *Proc) Signal(sig syscall.Signal) error {
	select {
	case <-p.exited:
		return fmt.Errorf("chaos: helper %s (pid %d) has exited", p.role, p.PID())
	default:
	}
	return p.cmd.Process.Signal(sig)
}

// Stop suspends the helper (SIGSTOP).
func (p *Proc) Stop() error { return p.Signal(syscall.SIGSTOP) }

// Cont resumes a stopped helper (SIGCONT).
func (p *Proc) Cont() error { return p.Signal(syscall.SIGCONT) }

// Kill kills the helper with SIGKILL (stopped or not) and waits for it to
// exit. It does nothing if the helper has exited already.
func (p *Proc) Kill() {
	p.Signal(syscall.SIGKILL)
	<-p.exited
}

// Send writes line and a newline to the helper's standard input.
func (p *Proc) Send(line string) error {
	_, err := io.WriteString(p.stdin, line+"\n")
	return err
}

// CloseStdin closes the helper's standard input, which helpers read as
// "finish now".
func (p *Proc) CloseStdin() error { return p.stdin.Close() }

// Done returns a channel that is closed once the helper has exited and been
// waited for.
func (p *Proc) Done() <-chan struct{} { return p.exited }

// Wait waits up to timeout for the helper to exit and returns nil if it
// exited with status 0. Otherwise it kills it and returns an error with
// the end of its standard error.
func (p *Proc) Wait(timeout time.Duration) error {
	select {
	case <-p.exited:
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("chaos: helper %s (pid %d) still running after %v; killed: %s", p.role, p.PID(), timeout, tail(p.stderr.String()))
	}
	if p.err != nil {
		return fmt.Errorf("chaos: helper %s (pid %d): %v: %s", p.role, p.PID(), p.err, tail(p.stderr.String()))
	}
	return nil
}

// tail returns the last few lines of s.
func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-8):], "\n")
}
