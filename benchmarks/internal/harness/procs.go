package harness

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"
)

// setupTimeout bounds how long worker processes may take to start and
// build their lockers, and to report after the window closes.
const setupTimeout = 30 * time.Second

// A child is one worker process of a run.
type child struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout *bufio.Reader
	stderr bytes.Buffer
}

// RunProcs runs job in procs worker processes, each started by command
// (which must run [ServeChild]), splitting job.Params.Workers among them.
// ready is called once every process has built its lockers, just before
// they start. When ctx ends the processes stop early and what they report
// is returned; processes that overrun a generous bound are interrupted
// (SIGINT, then SIGKILL after a grace period).
func RunProcs(ctx context.Context, command func(context.Context) *exec.Cmd, job Job, procs int, ready func()) (_ Sample, err error) {
	procs = max(min(procs, job.Params.Workers), 1)
	// hard bounds the processes' lives; when it ends they are interrupted
	// (SIGINT, then SIGKILL). ctx ending only closes their stdin, which
	// makes them stop and report.
	hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*setupTimeout+job.Params.Duration)
	defer cancel()

	children := make([]*child, 0, procs)
	defer func() {
		if err != nil {
			cancel() // interrupt the processes still running
		}
		for _, c := range children {
			_ = c.stdin.Close()
			_ = c.cmd.Wait()
		}
		var ce *childError
		if errors.As(err, &ce) {
			err = ce.describe() // stderr is complete once Wait has returned
		}
	}()
	first := 0
	for k := range procs {
		j := job
		j.Params.First = first
		j.Params.Local = job.Params.Workers/procs + btoi(k < job.Params.Workers%procs)
		first += j.Params.Local
		c, err := startChild(hard, command, j)
		if c != nil {
			children = append(children, c)
		}
		if err != nil {
			return Sample{}, err
		}
	}
	stop := context.AfterFunc(ctx, func() {
		for _, c := range children {
			_ = c.stdin.Close()
		}
	})
	defer stop()
	for _, c := range children {
		if l, err := c.stdout.ReadString('\n'); err != nil || l != readyLine {
			return Sample{}, c.fail(fmt.Errorf("no ready line (got %q, %v)", l, err))
		}
	}
	if ready != nil {
		ready()
	}
	for _, c := range children {
		if _, err := io.WriteString(c.stdin, goLine); err != nil && ctx.Err() == nil {
			return Sample{}, c.fail(err)
		}
	}
	var out Sample
	for _, c := range children {
		var s Sample
		if err := json.NewDecoder(c.stdout).Decode(&s); err != nil {
			return Sample{}, c.fail(fmt.Errorf("read result: %w", err))
		}
		out.Merge(&s)
	}
	out.Interrupted = out.Interrupted || ctx.Err() != nil
	return out, nil
}

// startChild starts one worker process and sends it its job.
func startChild(ctx context.Context, command func(context.Context) *exec.Cmd, j Job) (*child, error) {
	c := &child{cmd: command(ctx)}
	c.cmd.Cancel = func() error { return c.cmd.Process.Signal(os.Interrupt) }
	c.cmd.WaitDelay = 5 * time.Second
	c.cmd.Stderr = &c.stderr
	setDeathSignal(c.cmd)
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	c.stdout = bufio.NewReader(stdout)
	if err := c.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start worker process: %w", err)
	}
	line, err := json.Marshal(j)
	if err != nil {
		return c, err
	}
	if _, err := c.stdin.Write(append(line, '\n')); err != nil {
		return c, c.fail(err)
	}
	return c, nil
}

// A childError is a worker process that broke the protocol.
type childError struct {
	c   *child
	err error
}

func (e *childError) Error() string { return e.describe().Error() }
func (e *childError) Unwrap() error { return e.err }

// describe returns the error with what the process wrote to stderr; the
// process must have been waited for.
func (e *childError) describe() error {
	msg := strings.TrimSpace(e.c.stderr.String())
	if msg == "" {
		return fmt.Errorf("worker process %d: %w", e.c.cmd.Process.Pid, e.err)
	}
	return fmt.Errorf("worker process %d: %w: %s", e.c.cmd.Process.Pid, e.err, msg)
}

// fail wraps err as a failure of the process c.
func (c *child) fail(err error) error { return &childError{c, err} }

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}
