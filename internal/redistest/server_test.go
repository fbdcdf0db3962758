package redistest_test

import (
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/codomyrmex/concurrency/internal/redistest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// roundTrip sends PING on a fresh connection and reports whether +PONG came
// back within d.
func roundTrip(t *testing.T, addr string, d time.Duration) bool {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, d)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(d))
	if _, err := conn.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	buf := make([]byte, 7)
	n, err := conn.Read(buf)
	return err == nil && string(buf[:n]) == "+PONG\r\n"
}

func TestServerLifecycle(t *testing.T) {
	s := redistest.Start(t)
	addr := s.Addr()
	if host, _, _ := net.SplitHostPort(addr); host != "127.0.0.1" {
		t.Fatalf("Addr() = %q, want a 127.0.0.1 address", addr)
	}
	if !roundTrip(t, addr, time.Second) {
		t.Fatal("no PONG from a started server")
	}

	s.Pause()
	if roundTrip(t, addr, 200*time.Millisecond) {
		t.Fatal("PONG from a paused server")
	}
	s.Resume()
	if !roundTrip(t, addr, time.Second) {
		t.Fatal("no PONG after Resume")
	}

	pid := s.PID()
	s.Restart()
	if s.Addr() != addr {
		t.Fatalf("Restart moved the server from %s to %s", addr, s.Addr())
	}
	if s.PID() == pid || s.PID() == 0 {
		t.Fatalf("Restart kept pid %d (now %d)", pid, s.PID())
	}
	if !roundTrip(t, addr, time.Second) {
		t.Fatal("no PONG after Restart")
	}

	s.Kill()
	if s.PID() != 0 {
		t.Fatal("PID() != 0 after Kill")
	}
	if roundTrip(t, addr, 200*time.Millisecond) {
		t.Fatal("PONG after Kill")
	}
}

func TestTwoServers(t *testing.T) {
	a, b := redistest.Start(t), redistest.Start(t)
	if a.Addr() == b.Addr() {
		t.Fatalf("two servers share %s", a.Addr())
	}
}

func TestCluster(t *testing.T) {
	nodes := redistest.StartCluster(t, 3)
	seen := map[string]bool{}
	for _, n := range nodes {
		if seen[n.Addr()] || !roundTrip(t, n.Addr(), time.Second) {
			t.Fatalf("node %s: duplicate or not answering", n.Addr())
		}
		seen[n.Addr()] = true
	}
}
