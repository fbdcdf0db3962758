package proctest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// A Proc is a started child process, normally a helper (see [Command]).
// Its standard output is collected line by line for [Proc.Expect]; its
// standard error is kept for messages.
type Proc struct {
	name   string // the helper, or the program
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

// Start starts cmd with its standard input, output and error attached to
// the returned Proc, and fails tb if it cannot. tb.Cleanup kills the
// process by its PID if it is still running, waits for it, and, if tb
// failed, logs the end of its standard error.
func Start(tb testing.TB, cmd *exec.Cmd) *Proc {
	tb.Helper()
	p := &Proc{name: label(cmd), cmd: cmd, more: make(chan struct{}, 1), exited: make(chan struct{})}
	cmd.Stderr = &p.stderr
	var err error
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		tb.Fatalf("proctest: %s: %v", p.name, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatalf("proctest: %s: %v", p.name, err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatalf("proctest: start %s: %v", p.name, err)
	}
	go p.collect(stdout)
	tb.Cleanup(func() {
		p.Kill()
		if tb.Failed() && p.stderr.Len() > 0 {
			tb.Logf("proctest: %s (pid %d) standard error:\n%s", p.name, p.PID(), tail(p.stderr.String()))
		}
	})
	return p
}

// StartHelper starts the test binary as helper, with env (KEY=VALUE)
// added to its environment: [Start] of a [Command] without arguments.
func StartHelper(tb testing.TB, helper string, env ...string) *Proc {
	tb.Helper()
	cmd := Command(helper)
	cmd.Env = append(cmd.Env, env...)
	return Start(tb, cmd)
}

// label names cmd in messages: the helper it runs, or its program.
func label(cmd *exec.Cmd) string {
	for _, kv := range slices.Backward(cmd.Env) {
		if name, ok := strings.CutPrefix(kv, Env+"="); ok {
			return "helper " + name
		}
	}
	return filepath.Base(cmd.Path)
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
	_, _ = io.Copy(io.Discard, stdout) // a line too long for the scanner
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

// PID returns the process ID.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Expect returns the next line of output that starts with prefix,
// skipping lines before it; with prefix "" it returns the next line. It
// fails if the output ends or timeout passes first.
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
			return "", fmt.Errorf("proctest: %s (pid %d) ended without printing %q", p.name, p.PID(), prefix)
		}
		select {
		case <-p.more:
		case <-deadline.C:
			return "", fmt.Errorf("proctest: %s (pid %d) printed no %q within %v", p.name, p.PID(), prefix, timeout)
		}
	}
}

// Lines returns the lines of output so far that start with prefix,
// whether Expect has returned them or not.
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

// Send writes line and a newline to the process's standard input.
func (p *Proc) Send(line string) error {
	_, err := io.WriteString(p.stdin, line+"\n")
	return err
}

// CloseStdin closes the process's standard input, which helpers read as
// "finish now".
func (p *Proc) CloseStdin() error { return p.stdin.Close() }

// Signal sends sig to the process unless it has been waited for.
func (p *Proc) Signal(sig os.Signal) error {
	select {
	case <-p.exited:
		return fmt.Errorf("proctest: %s (pid %d) has exited", p.name, p.PID())
	default:
	}
	return p.cmd.Process.Signal(sig)
}

// Kill kills the process with SIGKILL, stopped or not, and waits for it to
// exit. It does nothing if the process has exited already.
func (p *Proc) Kill() {
	_ = p.Signal(os.Kill)
	<-p.exited
}

// Done returns a channel that is closed once the process has exited and
// been waited for.
func (p *Proc) Done() <-chan struct{} { return p.exited }

// ExitCode waits up to timeout for the process to exit and returns its
// exit status, -1 if a signal ended it. A process still running after
// timeout is killed, and ExitCode returns an error with the end of its
// standard error.
func (p *Proc) ExitCode(timeout time.Duration) (int, error) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	select {
	case <-p.exited:
	case <-deadline.C:
		p.Kill()
		return -1, fmt.Errorf("proctest: %s (pid %d) still running after %v; killed: %s", p.name, p.PID(), timeout, tail(p.stderr.String()))
	}
	if ee := (*exec.ExitError)(nil); p.err != nil && !errors.As(p.err, &ee) {
		return -1, fmt.Errorf("proctest: %s (pid %d): %w", p.name, p.PID(), p.err)
	}
	return p.cmd.ProcessState.ExitCode(), nil
}

// Wait waits up to timeout for the process to exit and returns nil if it
// exited with status 0. Otherwise, killing it if it is still running, it
// returns an error with the end of its standard error.
func (p *Proc) Wait(timeout time.Duration) error {
	code, err := p.ExitCode(timeout)
	if err == nil && code != 0 {
		err = fmt.Errorf("proctest: %s (pid %d): %v: %s", p.name, p.PID(), p.err, tail(p.stderr.String()))
	}
	return err
}

// tail returns the last few lines of s.
func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-8):], "\n")
}
