// Package redisproc starts a private redis-server for a contend session on
// a free loopback port, without persistence, and stops it by PID; and it
// counts the commands a server has run, from INFO commandstats.
package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
)

// Bounds on starting and stopping a server.
const (
	startTimeout = 10 * time.Second
	stopTimeout  = 5 * time.Second
	startTries   = 5 // another process may take the free port before the server binds it
	pollEvery    = 20 * time.Millisecond
)

// ErrNotInstalled reports that redis-server is not on PATH.
var ErrNotInstalled = errors.New("redis-server not found on PATH")

// A Server is a redis-server child process listening on 127.0.0.1 only.
type Server struct {
	Addr    string // 127.0.0.1:port
	Version string // redis_version from INFO server
	cmd     *exec.Cmd
	dir     string
	exited  chan struct{}
}

// Start starts redis-server on a free loopback port with --save "" and
// --appendonly no in a new temporary directory, and waits until it answers
// PING. It returns ErrNotInstalled when there is no redis-server.
func Start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
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
	return nil, fmt.Errorf("start redis-server: %w", err)
}

func start(ctx context.Context, bin string) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "contend-redis-")
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, exited: make(chan struct{})}
	s.cmd = exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--dir", dir, "--daemonize", "no", "--logfile", "")
	var stderr strings.Builder
	s.cmd.Stdout, s.cmd.Stderr = &stderr, &stderr
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
		if s.Version, err = version(ctx, s.Addr); err == nil {
			return s, nil
		}
		select {
		case <-s.exited:
			err = fmt.Errorf("redis-server exited: %s", strings.TrimSpace(stderr.String()))
		case <-ctx.Done():
			err = fmt.Errorf("redis-server did not answer on %s: %w", s.Addr, err)
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
	_ = os.RemoveAll(s.dir)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// version asks the server at addr for its version.
func version(ctx context.Context, addr string) (string, error) {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer rdb.Close()
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v, nil
		}
	}
	return "", errors.New("no redis_version in INFO server")
}
