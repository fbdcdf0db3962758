package faultproxy_test

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/faultproxy"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// echo is a loopback echo server that counts the bytes it received.
type echo struct {
	ln       net.Listener
	received atomic.Int64
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    []net.Conn
}

func startEcho(t *testing.T) *echo {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	e := &echo{ln: ln}
	e.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			e.mu.Lock()
			e.conns = append(e.conns, c)
			e.mu.Unlock()
			e.wg.Go(func() {
				buf := make([]byte, 1024)
				for {
					n, err := c.Read(buf)
					e.received.Add(int64(n))
					if err != nil {
						return
					}
					if _, err := c.Write(buf[:n]); err != nil {
						return
					}
				}
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		e.mu.Lock()
		for _, c := range e.conns {
			c.Close()
		}
		e.mu.Unlock()
		e.wg.Wait()
	})
	return e
}

func newProxy(t *testing.T, backend string) *faultproxy.Proxy {
	t.Helper()
	p, err := faultproxy.New(backend)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func dial(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip writes msg and reads its echo within timeout.
func roundTrip(c net.Conn, msg string, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	defer c.SetDeadline(time.Time{})
	if _, err := c.Write([]byte(msg)); err != nil {
		return err
	}
	buf := make([]byte, len(msg))
	if _, err := io.ReadFull(c, buf); err != nil {
		return err
	}
	if string(buf) != msg {
		return errors.New("echo mismatch: " + string(buf))
	}
	return nil
}

// wantRefused checks that a new connection to addr is closed or reset by
// the proxy, at connect or at the first round trip.
func wantRefused(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return // reset before connect returned
	}
	defer c.Close()
	if err := roundTrip(c, "x", 5*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("new connection: %v, want it closed or reset", err)
	}
}

func mustRoundTrip(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if err := roundTrip(c, msg, 5*time.Second); err != nil {
		t.Fatalf("round trip %q: %v", msg, err)
	}
}

func wantTimeout(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("err = %v, want a timeout", err)
	}
}

func TestPass(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	mustRoundTrip(t, c, "hello")
	mustRoundTrip(t, c, "again")
	if st := p.Stats(); st.Accepted != 1 || st.FromClients != 10 || st.FromBackend != 10 {
		t.Fatalf("Stats = %+v", st)
	}
}

func TestDelayPerDirection(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	p.SetDelay(60*time.Millisecond, 40*time.Millisecond)
	if err := p.Set(faultproxy.Delay); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	mustRoundTrip(t, c, "slow")
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Fatalf("round trip took %v, want ≥ 100ms", d)
	}
	// The request is held back 60ms: the backend has not seen it at 30ms
	// (unless the machine was too busy to look in time).
	sent := time.Now()
	c.Write([]byte("x"))
	time.Sleep(30 * time.Millisecond)
	if got := e.received.Load(); got != 4 && time.Since(sent) < 60*time.Millisecond {
		t.Fatalf("backend received %d bytes 30ms into a 60ms delay, want 4", got)
	}
	buf := make([]byte, 1)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil {
		t.Fatal(err)
	}
	p.Set(faultproxy.Pass)
	start = time.Now()
	mustRoundTrip(t, c, "fast")
	if d := time.Since(start); d > 60*time.Millisecond {
		t.Logf("round trip after the delay took %v (noisy machine?)", d)
	}
}

func TestBlackhole(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	old := dial(t, p.Addr())
	mustRoundTrip(t, old, "before")
	p.Set(faultproxy.Blackhole)
	wantTimeout(t, roundTrip(old, "lost", 100*time.Millisecond))
	during := dial(t, p.Addr()) // accepted, never forwarded
	wantTimeout(t, roundTrip(during, "void", 100*time.Millisecond))
	if got := e.received.Load(); got != int64(len("before")) {
		t.Fatalf("backend received %d bytes, want only the %d before the blackhole", got, len("before"))
	}

	p.Set(faultproxy.Pass)
	mustRoundTrip(t, dial(t, p.Addr()), "healed")
	// The connection opened during the blackhole never had a backend: it
	// is closed at its first data.
	if err := roundTrip(during, "late", 5*time.Second); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("connection from the blackhole: %v, want closed", err)
	}
}

func TestDropReplies(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	p.Set(faultproxy.DropReplies)
	wantTimeout(t, roundTrip(c, "applied", 100*time.Millisecond))
	if got := e.received.Load(); got != int64(len("applied")) {
		t.Fatalf("backend received %d bytes, want the request", got)
	}
	p.Set(faultproxy.Pass)
	mustRoundTrip(t, c, "next") // the dropped reply is gone for good
}

// The echo backend sends back RESP frames, written a few bytes at a time:
// DropMessages discards the pub/sub messages among them (RESP2 and RESP3,
// split across reads) and forwards every other frame, in order.
func TestDropMessages(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	c := dial(t, p.Addr())
	if err := p.Set(faultproxy.DropMessages); err != nil {
		t.Fatal(err)
	}
	kept := []string{
		"+OK\r\n",
		"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n",
		"$7\r\nmessage\r\n",              // a reply that is no message
		"*2\r\n$7\r\nmessage\r\n$-1\r\n", // nor is this
		"%1\r\n+k\r\n:2\r\n",
		"$3\r\nabc\r\n",
	}
	messages := []string{
		">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n",
		"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$3\r\nbye\r\n",
		">3\r\n$8\r\nsmessage\r\n$2\r\nch\r\n$0\r\n\r\n",
	}
	var sent, want string
	for i, k := range kept {
		sent += k
		want += k
		if i < len(messages) {
			sent += messages[i]
		}
	}
	for i := 0; i < len(sent); i += 3 {
		if _, err := c.Write([]byte(sent[i:min(i+3, len(sent))])); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	c.SetDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("read %q: %v", got, err)
	}
	if string(got) != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if n := p.Stats().DroppedMessages; n != int64(len(messages)) {
		t.Fatalf("%d messages dropped, want %d", n, len(messages))
	}
	p.Set(faultproxy.Pass)
	mustRoundTrip(t, c, messages[0]) // delivered again
}

func TestReset(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	old := dial(t, p.Addr())
	mustRoundTrip(t, old, "before")
	p.Set(faultproxy.Reset)
	if err := roundTrip(old, "x", 5*time.Second); !errors.Is(err, syscall.ECONNRESET) && !errors.Is(err, syscall.EPIPE) {
		t.Fatalf("open connection after Reset: %v, want ECONNRESET", err)
	}
	wantRefused(t, p.Addr()) // accepted, then reset
	p.Set(faultproxy.Pass)
	mustRoundTrip(t, dial(t, p.Addr()), "after")
}

func TestRefuse(t *testing.T) {
	e := startEcho(t)
	p := newProxy(t, e.ln.Addr().String())
	open := dial(t, p.Addr())
	mustRoundTrip(t, open, "accepted") // the proxy has taken it from the backlog
	if err := p.Set(faultproxy.Refuse); err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", p.Addr(), time.Second); !errors.Is(err, syscall.ECONNREFUSED) {
		if c != nil {
			c.Close()
		}
		t.Fatalf("dial during Refuse: %v, want ECONNREFUSED", err)
	}
	mustRoundTrip(t, open, "still") // open connections keep working
	if err := p.Set(faultproxy.Pass); err != nil {
		t.Fatal(err)
	}
	mustRoundTrip(t, dial(t, p.Addr()), "back")
}

func TestBackendDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := newProxy(t, ln.Addr().String())
	ln.Close() // nothing listens at the backend's address now
	wantRefused(t, p.Addr())
}

// TestCloseWithTrafficInFlight closes the proxy with data queued behind a
// delay and a blackholed connection open; goleak checks that nothing is
// left.
func TestCloseWithTrafficInFlight(t *testing.T) {
	e := startEcho(t)
	p, err := faultproxy.New(e.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	delayed := dial(t, p.Addr())
	p.SetDelay(time.Hour, time.Hour)
	p.Set(faultproxy.Delay)
	for range 100 {
		delayed.Write([]byte("queued"))
	}
	p.Set(faultproxy.Blackhole)
	dial(t, p.Addr()).Write([]byte("void"))
	done := make(chan struct{})
	go func() { p.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return")
	}
	if err := p.Set(faultproxy.Pass); !errors.Is(err, faultproxy.ErrClosed) {
		t.Fatalf("Set after Close = %v", err)
	}
	p.Close()
}
