// Package childproc starts a server as a child process of a contend
// session: on free loopback ports, in a new temporary directory, with its
// output in a log file there; it waits until the server answers and stops
// it by its PID. Packages redisproc and etcdproc describe their servers to
// it.
package childproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Bounds on starting and stopping a server.
const (
	stopTimeout = 5 * time.Second
	startTries  = 5 // another process may take a free port before the server binds it
	pollEvery   = 20 * time.Millisecond
	logTail     = 2000 // bytes of the log an error quotes
)

// A Spec describes a server to start.
type Spec struct {
	Bin   string // the command, looked up on PATH
	Ports int    // how many free loopback ports it needs
	// Args returns the server's arguments, given its directory and ports.
	Args func(dir string, ports []int) []string
	// Ready reports nil once the server at ports answers as it should.
	Ready func(ctx context.Context, ports []int) error
	// StartTimeout bounds each start, from the exec to Ready.
	StartTimeout time.Duration
}

// ErrNotInstalled reports that the server's command is not on PATH.
var ErrNotInstalled = errors.New("not found on PATH")

// A Proc is a running server.
type Proc struct {
	Ports  []int
	Dir    string // its temporary directory, removed by Stop
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start starts the server that spec describes and waits until it is ready,
// trying again on other ports if a start fails (another process may have
// taken a port). It fails with an error wrapping ErrNotInstalled if the
// command is not on PATH.
func Start(ctx context.Context, spec Spec) (*Proc, error) {
	bin, err := exec.LookPath(spec.Bin)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", spec.Bin, ErrNotInstalled)
	}
	for range startTries {
		var p *Proc
		if p, err = start(ctx, bin, spec); err == nil {
			return p, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("start %s: %w", spec.Bin, err)
}

func start(ctx context.Context, bin string, spec Spec) (*Proc, error) {
	ports, err := freePorts(spec.Ports)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "contend-"+filepath.Base(spec.Bin)+"-")
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	defer log.Close() // the child has its own descriptor
	p := &Proc{Ports: ports, Dir: dir, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, spec.Args(dir, ports)...)
	p.cmd.Stdout, p.cmd.Stderr = log, log
	setDeathSignal(p.cmd)
	if err := p.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	ctx, cancel := context.WithTimeout(ctx, spec.StartTimeout)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for {
		if err = spec.Ready(ctx, ports); err == nil {
			return p, nil
		}
		select {
		case <-p.exited:
			err = fmt.Errorf("%s exited: %s", spec.Bin, p.logTail())
		case <-ctx.Done():
			err = fmt.Errorf("%s not ready on port %d (%w): %s", spec.Bin, ports[0], err, p.logTail())
		case <-tick.C:
			continue
		}
		p.Stop()
		return nil, err
	}
}

// PID returns the server's process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// Stop stops the server by its PID (SIGTERM, then SIGKILL after a grace
// period), waits for it and removes its directory.
func (p *Proc) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	_ = os.RemoveAll(p.Dir)
}

// logTail returns the end of the server's log, for error messages.
func (p *Proc) logTail() string {
	b, err := os.ReadFile(filepath.Join(p.Dir, "server.log"))
	if err != nil {
		return err.Error()
	}
	if len(b) > logTail {
		b = b[len(b)-logTail:]
	}
	return strings.TrimSpace(string(b))
}

// freePorts returns n loopback TCP ports that were free a moment ago.
func freePorts(n int) ([]int, error) {
	ports := make([]int, n)
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	return ports, nil
}
