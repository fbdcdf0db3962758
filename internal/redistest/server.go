package redistest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"
)

// startTimeout bounds how long Start and Restart wait for a server to answer
// PING.
const startTimeout = 10 * time.Second

// A Server is a redis-server child process owned by one test.
type Server struct {
	tb   testing.TB
	bin  string
	dir  string
	port int
	args []string

	mu   sync.Mutex
	proc *process // nil while not running
}

// A process is one run of redis-server.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd.Wait has returned
	err    error         // cmd.Wait's result, set before exited closes
}

// Start starts a redis-server on a free loopback port and registers its
// shutdown with tb.Cleanup. Extra arguments are appended to the command line
// (for example "--maxmemory", "2mb", or "--enable-debug-command", "local"
// for DEBUG SLEEP on Redis 7 and later).
//
// It skips the test when redis-server is not installed, or fails it when
// REQUIRE_REDIS=1.
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	bin := Binary(tb)
	s := &Server{tb: tb, bin: bin, dir: tb.TempDir(), args: args}
	tb.Cleanup(s.Kill)
	var err error
	for range 5 { // another process may take the free port before we bind it
		if s.port, err = freePort(); err != nil {
			break
		}
		if err = s.start(); err == nil {
			return s
		}
	}
	tb.Fatalf("redistest: start redis-server: %v", err)
	return nil
}

// Binary returns the path of redis-server. It skips tb when there is none,
// or fails it when REQUIRE_REDIS=1.
func Binary(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("redis-server")
	if err == nil {
		return bin
	}
	if os.Getenv("REQUIRE_REDIS") == "1" {
		tb.Fatalf("redistest: redis-server not found on PATH and REQUIRE_REDIS=1: %v", err)
	}
	tb.Skipf("redistest: redis-server not found on PATH (install it, e.g. apt-get install redis-server; set REQUIRE_REDIS=1 to fail instead of skipping): %v", err)
	return ""
}

// Addr returns the server's address, "127.0.0.1:port". It stays the same
// across Restart.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// PID returns the process id of the running server, or 0 if it is not
// running.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Kill stops the server with SIGKILL and waits for it to exit. Data and the
// script cache are lost. It does nothing if the server is not running.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

// Pause stops the server with SIGSTOP: connections stay open, commands
// queue in the kernel and run after Resume.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a server stopped by Pause (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

// Restart kills the server and starts a new one on the same port with the
// same arguments, as a crash and restart without persistence would.
func (s *Server) Restart() {
	s.tb.Helper()
	s.mu.Lock()
	s.killLocked()
	s.mu.Unlock()
	if err := s.start(); err != nil {
		s.tb.Fatalf("redistest: restart redis-server on %s: %v", s.Addr(), err)
	}
}

func (s *Server) signal(sig syscall.Signal) {
	s.tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		s.tb.Fatalf("redistest: %v to a server that is not running", sig)
	}
	if err := s.proc.cmd.Process.Signal(sig); err != nil {
		s.tb.Fatalf("redistest: %v to pid %d: %v", sig, s.proc.cmd.Process.Pid, err)
	}
}

func (s *Server) killLocked() {
	if s.proc == nil {
		return
	}
	_ = s.proc.cmd.Process.Kill() // SIGKILL ends a stopped process too
	<-s.proc.exited
	s.proc = nil
}

// start runs redis-server on s.port and waits until it answers PING.
func (s *Server) start() error {
	logPath := filepath.Join(s.dir, "redis.log")
	args := append([]string{
		"--port", strconv.Itoa(s.port),
		"--bind", "127.0.0.1",
		"--save", "",
		"--appendonly", "no",
		"--dir", s.dir,
		"--logfile", logPath,
		"--daemonize", "no",
	}, s.args...)
	p, err := spawn(s.bin, s.dir, args, logPath, func() error { return ping(s.Addr()) })
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// spawn starts bin with args in dir and waits until ready reports nil. If
// the process exits first or ready keeps failing for startTimeout, it is
// killed and the error carries the end of its log.
func spawn(bin, dir string, args []string, logPath string, ready func() error) (*process, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	var err error
	for deadline := time.Now().Add(startTimeout); time.Now().Before(deadline); {
		if err = ready(); err == nil {
			return p, nil
		}
		select {
		case <-p.exited:
			return nil, fmt.Errorf("exited early (%v): %s", p.err, tail(logPath))
		case <-time.After(20 * time.Millisecond):
		}
	}
	_ = cmd.Process.Kill()
	<-p.exited
	return nil, fmt.Errorf("not ready within %v (%v): %s", startTimeout, err, tail(logPath))
}

// ping sends PING over a fresh connection and expects +PONG.
func ping(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	return pingConn(conn)
}

// pingConn sends PING on conn, expects PONG, and closes conn.
func pingConn(conn net.Conn) error {
	v, err := roundTrip(conn, time.Second, "PING")
	if err != nil {
		return err
	}
	if v != "PONG" {
		return fmt.Errorf("unexpected PING reply %#v", v)
	}
	return nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// tail returns the end of the server's log, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	const max = 2000
	if len(b) > max {
		b = b[len(b)-max:]
	}
	return string(b)
}
