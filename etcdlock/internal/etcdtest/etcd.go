package etcdtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// startTimeout bounds how long Start and Restart wait for members to
// report themselves healthy.
const startTimeout = 20 * time.Second

// A Cluster is a set of etcd members owned by one test.
type Cluster struct {
	tb      testing.TB
	Members []*Member
}

// A Member is one etcd child process of a Cluster.
type Member struct {
	tb      testing.TB
	bin     string
	Name    string
	dir     string // data directory
	client  int    // client port
	peer    int    // peer port
	initial string // --initial-cluster
	token   string // --initial-cluster-token
	mu      sync.Mutex
	proc    *process // nil while not running
}

// A process is one run of etcd.
type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed when cmd.Wait has returned
	err    error         // cmd.Wait's result, set before exited closes
}

// Binary returns the path of etcd. It skips tb when there is none, or
// fails it when REQUIRE_ETCD=1.
func Binary(tb testing.TB) string {
	tb.Helper()
	bin, err := exec.LookPath("etcd")
	if err == nil {
		return bin
	}
	if os.Getenv("REQUIRE_ETCD") == "1" {
		tb.Fatalf("etcdtest: etcd not found on PATH and REQUIRE_ETCD=1: %v", err)
	}
	tb.Skipf("etcdtest: etcd not found on PATH (install it, e.g. apt-get install etcd-server; set REQUIRE_ETCD=1 to fail instead of skipping): %v", err)
	return ""
}

// Start starts a cluster of n members on free loopback ports and waits
// until every member reports itself healthy. Members are killed in
// tb.Cleanup. It skips the test when etcd is not installed, or fails it
// when REQUIRE_ETCD=1.
func Start(tb testing.TB, n int) *Cluster {
	tb.Helper()
	bin := Binary(tb)
	var err error
	for try := range 3 { // another process may take a free port before etcd binds it
		c := &Cluster{tb: tb}
		if err = c.start(bin, n, try); err == nil {
			return c
		}
		c.kill()
	}
	tb.Fatalf("etcdtest: start %d etcd members: %v", n, err)
	return nil
}

func (c *Cluster) start(bin string, n, try int) error {
	var initial []string
	for i := range n {
		ports, err := freePorts(2)
		if err != nil {
			return err
		}
		m := &Member{
			tb: c.tb, bin: bin, Name: "m" + strconv.Itoa(i),
			dir:    filepath.Join(c.tb.TempDir(), "m"+strconv.Itoa(i)+"-"+strconv.Itoa(try)),
			client: ports[0], peer: ports[1],
		}
		c.tb.Cleanup(m.Kill)
		c.Members = append(c.Members, m)
		initial = append(initial, m.Name+"="+m.PeerURL())
	}
	for _, m := range c.Members {
		m.initial = strings.Join(initial, ",")
		m.token = "etcdtest-" + strconv.Itoa(c.Members[0].peer)
		if err := m.spawn(); err != nil {
			return err
		}
	}
	for _, m := range c.Members {
		if err := m.waitHealthy(); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) kill() {
	for _, m := range c.Members {
		m.Kill()
	}
}

// Endpoints returns the client URLs of every member.
func (c *Cluster) Endpoints() []string {
	eps := make([]string, len(c.Members))
	for i, m := range c.Members {
		eps[i] = m.ClientURL()
	}
	return eps
}

// Client returns a client of the given endpoints (every member's if none
// are given), closed in tb.Cleanup. It logs nothing.
func (c *Cluster) Client(tb testing.TB, endpoints ...string) *clientv3.Client {
	tb.Helper()
	if len(endpoints) == 0 {
		endpoints = c.Endpoints()
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   endpoints,
		DialTimeout: 2 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		tb.Fatalf("etcdtest: client of %v: %v", endpoints, err)
	}
	tb.Cleanup(func() { _ = cli.Close() })
	return cli
}

// Leader returns the member that the running members agree is the leader,
// waiting up to startTimeout for one.
func (c *Cluster) Leader() *Member {
	c.tb.Helper()
	deadline := time.Now().Add(startTimeout)
	for {
		if m, err := c.leader(); err == nil {
			return m
		} else if time.Now().After(deadline) {
			c.tb.Fatalf("etcdtest: no leader within %v: %v", startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (c *Cluster) leader() (*Member, error) {
	var leader uint64
	byID := map[uint64]*Member{}
	for _, m := range c.Members {
		if m.PID() == 0 {
			continue
		}
		st, err := m.status()
		if err != nil {
			return nil, err
		}
		byID[st.Header.MemberId] = m
		if leader != 0 && st.Leader != leader {
			return nil, fmt.Errorf("members disagree on the leader: %x and %x", leader, st.Leader)
		}
		leader = st.Leader
	}
	if m := byID[leader]; m != nil {
		return m, nil
	}
	return nil, fmt.Errorf("leader %x is not a running member", leader)
}

// MoveLeader makes to the leader, through the current leader, and waits
// until every running member agrees.
func (c *Cluster) MoveLeader(to *Member) {
	c.tb.Helper()
	from := c.Leader()
	if from == to {
		return
	}
	st, err := to.status()
	if err != nil {
		c.tb.Fatalf("etcdtest: status of %s: %v", to.Name, err)
	}
	cli := c.Client(c.tb, from.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	if _, err := cli.MoveLeader(ctx, st.Header.MemberId); err != nil {
		c.tb.Fatalf("etcdtest: move leader from %s to %s: %v", from.Name, to.Name, err)
	}
	_ = cli.Close()
	deadline := time.Now().Add(startTimeout)
	for c.Leader() != to {
		if time.Now().After(deadline) {
			c.tb.Fatalf("etcdtest: %s is not the leader %v after MoveLeader", to.Name, startTimeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ClientURL returns the member's client URL, http://127.0.0.1:port. It
// stays the same across Restart.
func (m *Member) ClientURL() string { return "http://127.0.0.1:" + strconv.Itoa(m.client) }

// PeerURL returns the member's peer URL.
func (m *Member) PeerURL() string { return "http://127.0.0.1:" + strconv.Itoa(m.peer) }

// PID returns the process id of the running member, or 0 if it is not
// running.
func (m *Member) PID() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return 0
	}
	return m.proc.cmd.Process.Pid
}

// Kill stops the member with SIGKILL and waits for it to exit. Its data
// directory stays, for Restart. It does nothing if the member is not
// running.
func (m *Member) Kill() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		return
	}
	_ = m.proc.cmd.Process.Kill() // SIGKILL ends a stopped process too
	<-m.proc.exited
	m.proc = nil
}

// Pause stops the member with SIGSTOP.
func (m *Member) Pause() { m.signal(syscall.SIGSTOP) }

// Resume continues a member stopped by Pause (SIGCONT).
func (m *Member) Resume() { m.signal(syscall.SIGCONT) }

// Restart kills the member and starts it again on its ports and data
// directory, then waits until it reports itself healthy.
func (m *Member) Restart() {
	m.tb.Helper()
	m.Kill()
	if err := m.spawn(); err != nil {
		m.tb.Fatalf("etcdtest: restart %s: %v", m.Name, err)
	}
	if err := m.waitHealthy(); err != nil {
		m.tb.Fatalf("etcdtest: restart %s: %v", m.Name, err)
	}
}

func (m *Member) signal(sig syscall.Signal) {
	m.tb.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.proc == nil {
		m.tb.Fatalf("etcdtest: %v to member %s, which is not running", sig, m.Name)
	}
	if err := m.proc.cmd.Process.Signal(sig); err != nil {
		m.tb.Fatalf("etcdtest: %v to pid %d: %v", sig, m.proc.cmd.Process.Pid, err)
	}
}

func (m *Member) logPath() string { return m.dir + ".log" }

// spawn starts the member's process.
func (m *Member) spawn() error {
	log, err := os.OpenFile(m.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer log.Close()
	cmd := exec.Command(m.bin,
		"--name", m.Name,
		"--data-dir", m.dir,
		"--listen-client-urls", m.ClientURL(),
		"--advertise-client-urls", m.ClientURL(),
		"--listen-peer-urls", m.PeerURL(),
		"--initial-advertise-peer-urls", m.PeerURL(),
		"--initial-cluster", m.initial,
		"--initial-cluster-state", "new",
		"--initial-cluster-token", m.token,
		"--heartbeat-interval", "50",
		"--election-timeout", "250",
	)
	cmd.Stdout, cmd.Stderr = log, log
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.exited)
	}()
	m.mu.Lock()
	m.proc = p
	m.mu.Unlock()
	return nil
}

// waitHealthy waits until the member answers /health with true, or fails
// if it exits or startTimeout passes first.
func (m *Member) waitHealthy() error {
	m.mu.Lock()
	p := m.proc
	m.mu.Unlock()
	hc := &http.Client{Timeout: time.Second}
	var err error
	for deadline := time.Now().Add(startTimeout); time.Now().Before(deadline); {
		if err = health(hc, m.ClientURL()); err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited early (%v): %s", m.Name, p.err, tail(m.logPath()))
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not healthy within %v (%v): %s", m.Name, startTimeout, err, tail(m.logPath()))
}

func health(hc *http.Client, url string) error {
	resp, err := hc.Get(url + "/health")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var b [256]byte
	n, _ := resp.Body.Read(b[:])
	if !strings.Contains(string(b[:n]), `"health":"true"`) {
		return errors.New("unhealthy: " + string(b[:n]))
	}
	return nil
}

// status asks the member alone for its status.
func (m *Member) status() (*clientv3.StatusResponse, error) {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.ClientURL()}, DialTimeout: time.Second, Logger: zap.NewNop()})
	if err != nil {
		return nil, err
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return cli.Status(ctx, m.ClientURL())
}

// freePorts returns n TCP ports on 127.0.0.1 that were free a moment ago.
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

// tail returns the end of a member's log, for error messages.
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
