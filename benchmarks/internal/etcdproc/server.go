// Package etcdproc starts a private single-member etcd for a contend
// session on free loopback ports, with its data in a temporary directory,
// and stops it by PID; it asks a server for its version and counts the gRPC
// requests it has received, from its /metrics.
package etcdproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Bounds on starting and stopping a server.
const (
	startTimeout = 20 * time.Second
	stopTimeout  = 5 * time.Second
	startTries   = 5 // another process may take a free port before etcd binds it
	pollEvery    = 20 * time.Millisecond
	httpTimeout  = 2 * time.Second
)

// ErrNotInstalled reports that etcd is not on PATH.
var ErrNotInstalled = errors.New("etcd not found on PATH")

// A Server is an etcd child process listening on 127.0.0.1 only: one
// member, with --heartbeat-interval 50 --election-timeout 250, so that
// leases of one second are granted.
type Server struct {
	Addr    string // client address, 127.0.0.1:port
	Version string // etcdserver from /version
	Dir     string // temporary directory: the data directory and the log
	cmd     *exec.Cmd
	exited  chan struct{}
}

// Start starts etcd on two free loopback ports (client and peer) with its
// data and log in a new temporary directory, and waits until it reports
// itself healthy. It returns ErrNotInstalled when there is no etcd.
func Start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("etcd")
	if err != nil {
		return nil, ErrNotInstalled
	}
	for range startTries {
		var s *Server
		if s, err = start(ctx, bin); err == nil {
			return s, nil
		}
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("start etcd: %w", err)
}

func start(ctx context.Context, bin string) (*Server, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "contend-etcd-")
	if err != nil {
		return nil, err
	}
	log, err := os.Create(filepath.Join(dir, "etcd.log"))
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	defer log.Close() // the child has its own descriptor
	client := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0])), Dir: dir, exited: make(chan struct{})}
	s.cmd = exec.Command(bin,
		"--name", "contend",
		"--data-dir", filepath.Join(dir, "data"),
		"--listen-client-urls", client,
		"--advertise-client-urls", client,
		"--listen-peer-urls", peer,
		"--initial-advertise-peer-urls", peer,
		"--initial-cluster", "contend="+peer,
		"--initial-cluster-state", "new",
		"--initial-cluster-token", "contend-"+strconv.Itoa(ports[1]),
		"--heartbeat-interval", "50",
		"--election-timeout", "250",
	)
	s.cmd.Stdout, s.cmd.Stderr = log, log
	setDeathSignal(s.cmd)
	if err := s.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	tick := time.NewTicker(pollEvery)
	defer tick.Stop()
	for range startTimeout / pollEvery {
		if err = healthy(ctx, s.Addr); err == nil {
			if s.Version, err = Version(ctx, s.Addr); err == nil {
				return s, nil
			}
		}
		select {
		case <-s.exited:
			err = fmt.Errorf("etcd exited: %s", s.logTail())
		case <-ctx.Done():
			err = fmt.Errorf("etcd not healthy on %s (%w): %s", s.Addr, err, s.logTail())
		case <-tick.C:
			continue
		}
		break
	}
	s.Stop()
	return nil, err
}

// PID returns the server's process id.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop stops the server by its PID (SIGTERM, then SIGKILL after a grace
// period), waits for it and removes its directory.
func (s *Server) Stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	_ = os.RemoveAll(s.Dir)
}

// logTail returns the end of the server's log, for error messages.
func (s *Server) logTail() string {
	b, err := os.ReadFile(filepath.Join(s.Dir, "etcd.log"))
	if err != nil {
		return err.Error()
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
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

// httpClient keeps no idle connections, so that none outlives a server
// or a session.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// get fetches http://addr+path, at most limit bytes of it.
func get(ctx context.Context, addr, path string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, httpTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return b, err
}

// healthy reports nil when the server at addr answers /health with true.
func healthy(ctx context.Context, addr string) error {
	b, err := get(ctx, addr, "/health", 1<<10)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), `"health":"true"`) {
		return errors.New("unhealthy: " + string(b))
	}
	return nil
}

// Version asks the etcd server at addr (host:port) for its version; it
// fails if the server does not answer as etcd does.
func Version(ctx context.Context, addr string) (string, error) {
	b, err := get(ctx, addr, "/version", 1<<10)
	if err != nil {
		return "", err
	}
	var v struct {
		Server string `json:"etcdserver"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Server == "" {
		return "", fmt.Errorf("%s/version: not an etcd server's answer: %q", addr, b)
	}
	return v.Server, nil
}
