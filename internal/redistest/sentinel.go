package redistest

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Timing of a Sentinel's monitoring, short so that a failover takes a
// second or two rather than the defaults' 30s and more: the primary is
// subjectively (and, with a quorum of one, objectively) down after
// SentinelDownAfter without a valid reply, and a failover that stalls is
// abandoned after SentinelFailoverTimeout and retried after twice that.
const (
	SentinelDownAfter       = 300 * time.Millisecond
	SentinelFailoverTimeout = 2 * time.Second
)

// A Sentinel is a redis-server --sentinel child process owned by one test,
// monitoring one primary with a quorum of one.
type Sentinel struct {
	tb   testing.TB
	name string
	dir  string
	port int

	mu   sync.Mutex
	proc *process // nil once killed
}

// StartSentinel starts a Sentinel on a free loopback port that monitors
// primary under the name name (sentinel monitor name 127.0.0.1 port 1),
// with down-after-milliseconds SentinelDownAfter and failover-timeout
// SentinelFailoverTimeout, and registers its shutdown (SIGKILL by PID) with
// tb.Cleanup. Extra arguments are appended to the command line after
// --sentinel (for example "--loglevel", "verbose").
//
// It waits until the Sentinel answers PING, reports primary's address for
// name, and has connected to the primary (SENTINEL MASTER flags "master").
// A Sentinel learns of replicas from the primary's INFO: start them first,
// or call WaitReplicas, which may take up to the 10s INFO period for a
// replica started later.
//
// It skips or fails as Start does.
func StartSentinel(tb testing.TB, name string, primary *Server, args ...string) *Sentinel {
	tb.Helper()
	bin := Binary(tb)
	s := &Sentinel{tb: tb, name: name, dir: tb.TempDir()}
	tb.Cleanup(s.Kill)
	var err error
	for range 5 { // another process may take the free port before we bind it
		if s.port, err = freePort(); err != nil {
			break
		}
		if err = s.start(bin, primary, args); err == nil {
			break
		}
	}
	if err != nil {
		tb.Fatalf("redistest: start sentinel for %s: %v", primary.Addr(), err)
	}
	if err := s.waitMaster(primary.Addr(), startTimeout); err != nil {
		tb.Fatalf("redistest: sentinel %s: %v", s.Addr(), err)
	}
	return s
}

// Addr returns the Sentinel's address, "127.0.0.1:port".
func (s *Sentinel) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Name returns the name under which the Sentinel monitors the primary.
func (s *Sentinel) Name() string { return s.name }

// PID returns the process id of the Sentinel, or 0 once it is killed.
func (s *Sentinel) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return 0
	}
	return s.proc.cmd.Process.Pid
}

// Kill stops the Sentinel with SIGKILL and waits for it to exit. It does
// nothing if it is not running.
func (s *Sentinel) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proc == nil {
		return
	}
	_ = s.proc.cmd.Process.Kill()
	<-s.proc.exited
	s.proc = nil
}

// Log returns the end of the Sentinel's log, for failure messages: its
// +sdown, +odown, +switch-master... events say what it did and when.
func (s *Sentinel) Log() string { return tail(filepath.Join(s.dir, "sentinel.log")) }

// MasterAddr returns the address the Sentinel gives for its primary
// (SENTINEL GET-MASTER-ADDR-BY-NAME), "host:port": the promoted replica's
// once a failover has reached the reconfiguration of the replicas.
func (s *Sentinel) MasterAddr() (string, error) {
	v, err := s.Command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", s.name)
	if err != nil {
		return "", err
	}
	hp, ok := v.([]any)
	if !ok || len(hp) != 2 {
		return "", fmt.Errorf("unexpected reply %#v", v)
	}
	host, _ := hp[0].(string)
	port, _ := hp[1].(string)
	return net.JoinHostPort(host, port), nil
}

// WaitMaster waits up to timeout until the Sentinel gives addr as the
// primary's address, as it does after promoting the replica at addr.
func (s *Sentinel) WaitMaster(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		got, err := s.MasterAddr()
		if err == nil && got == addr {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("master address %q (%v), not %s, after %v", got, err, addr, timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Master returns the fields of SENTINEL MASTER for the primary, such as
// "flags" ("master", or with "s_down,o_down" once it is down), "ip",
// "port" and "num-slaves".
func (s *Sentinel) Master() (map[string]string, error) {
	v, err := s.Command("SENTINEL", "MASTER", s.name)
	if err != nil {
		return nil, err
	}
	return fieldMap(v)
}

// Replicas returns the fields of SENTINEL REPLICAS for the primary, one
// map per replica the Sentinel knows of, with "name" ("ip:port") and
// "flags" ("slave", with "s_down" or "disconnected" while it is
// unreachable).
func (s *Sentinel) Replicas() ([]map[string]string, error) {
	v, err := s.Command("SENTINEL", "REPLICAS", s.name)
	if err != nil {
		return nil, err
	}
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("unexpected reply %#v", v)
	}
	var rs []map[string]string
	for _, e := range list {
		m, err := fieldMap(e)
		if err != nil {
			return nil, err
		}
		rs = append(rs, m)
	}
	return rs, nil
}

// WaitReplicas waits up to timeout until the Sentinel knows each of
// replicas as a replica of its primary, reachable (flags exactly "slave")
// and with its link to the primary up, i.e. one it may promote.
func (s *Sentinel) WaitReplicas(timeout time.Duration, replicas ...*Server) error {
	deadline := time.Now().Add(timeout)
	for {
		rs, err := s.Replicas()
		ok := err == nil
		for _, r := range replicas {
			i := slices.IndexFunc(rs, func(m map[string]string) bool { return m["name"] == r.Addr() })
			if i < 0 || rs[i]["flags"] != "slave" || rs[i]["master-link-status"] != "ok" {
				ok = false
			}
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("replicas not all known and up after %v (%v): %v", timeout, err, rs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Command sends one command to the Sentinel over a fresh connection and
// returns its reply decoded: a simple string, an integer or a bulk string
// as a string, an array as []any, a nil reply as nil, and an error reply
// as an error.
func (s *Sentinel) Command(args ...string) (any, error) {
	return command(s.Addr(), args...)
}

// start runs redis-server <conf> --sentinel on s.port and waits until it
// answers PING.
func (s *Sentinel) start(bin string, primary *Server, args []string) error {
	conf := filepath.Join(s.dir, "sentinel.conf")
	logPath := filepath.Join(s.dir, "sentinel.log")
	text := strings.Join([]string{
		"port " + strconv.Itoa(s.port),
		"bind 127.0.0.1",
		"protected-mode no",
		"daemonize no",
		"dir " + s.dir,
		"logfile " + logPath,
		"sentinel resolve-hostnames no",
		fmt.Sprintf("sentinel monitor %s 127.0.0.1 %d 1", s.name, primary.port),
		fmt.Sprintf("sentinel down-after-milliseconds %s %d", s.name, SentinelDownAfter.Milliseconds()),
		fmt.Sprintf("sentinel failover-timeout %s %d", s.name, SentinelFailoverTimeout.Milliseconds()),
		"",
	}, "\n")
	// The Sentinel rewrites its configuration file, so each try starts
	// from a fresh one.
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		return err
	}
	p, err := spawn(bin, s.dir, append([]string{conf, "--sentinel"}, args...), logPath, func() error { return ping(s.Addr()) })
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.proc = p
	s.mu.Unlock()
	return nil
}

// waitMaster waits until the Sentinel reports addr for its primary and is
// connected to it (flags exactly "master").
func (s *Sentinel) waitMaster(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		got, err := s.MasterAddr()
		var m map[string]string
		if err == nil && got == addr {
			if m, err = s.Master(); err == nil && m["flags"] == "master" {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("primary %s not reported up within %v: address %q, %v, %v: %s", addr, timeout, got, m, err, s.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fieldMap turns a flat array of field and value strings into a map.
func fieldMap(v any) (map[string]string, error) {
	list, ok := v.([]any)
	if !ok || len(list)%2 != 0 {
		return nil, fmt.Errorf("not a field-value array: %#v", v)
	}
	m := make(map[string]string, len(list)/2)
	for i := 0; i < len(list); i += 2 {
		k, _ := list[i].(string)
		m[k], _ = list[i+1].(string)
	}
	return m, nil
}
