package redistest

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// StartReplica starts a redis-server that replicates primary (replicaof
// its address), on a free loopback port, and waits until the replica
// reports master_link_status:up, i.e. the initial sync is done. Extra
// arguments are appended to the command line. Start the primary with
// "--repl-diskless-sync-delay", "0" so that the sync begins at once rather
// than after the default 5s delay. It skips or fails as Start does.
func StartReplica(tb testing.TB, primary *Server, args ...string) *Server {
	tb.Helper()
	r := Start(tb, append([]string{"--replicaof", "127.0.0.1", strconv.Itoa(primary.port)}, args...)...)
	if err := r.WaitLink(startTimeout); err != nil {
		tb.Fatalf("redistest: replica %s of %s: %v", r.Addr(), primary.Addr(), err)
	}
	return r
}

// WaitLink waits up to timeout until the server, a replica, reports
// master_link_status:up in INFO replication.
func (s *Server) WaitLink(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		info, err := s.Command("INFO", "replication")
		if err == nil && InfoField(info, "master_link_status") == "up" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("link not up within %v (%v): %s", timeout, err, info)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Promote turns the server, a replica, into a primary (REPLICAOF NO ONE),
// as a manual failover does, and waits until it reports role:master. It
// fails the test if the server refuses.
func (s *Server) Promote() {
	s.tb.Helper()
	if _, err := s.Command("REPLICAOF", "NO", "ONE"); err != nil {
		s.tb.Fatalf("redistest: REPLICAOF NO ONE on %s: %v", s.Addr(), err)
	}
	deadline := time.Now().Add(startTimeout)
	for {
		info, err := s.Command("INFO", "replication")
		if err == nil && InfoField(info, "role") == "master" {
			return
		}
		if time.Now().After(deadline) {
			s.tb.Fatalf("redistest: %s not a primary %v after REPLICAOF NO ONE (%v): %s", s.Addr(), startTimeout, err, info)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Command sends one command to the server over a fresh connection and
// returns its reply: a simple string, an integer or a bulk string as text
// and an error reply as an error. A nil or array reply is an error too
// ([Sentinel.Command] decodes those).
func (s *Server) Command(args ...string) (string, error) {
	v, err := command(s.Addr(), args...)
	if err != nil {
		return "", err
	}
	text, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%s: reply %#v, want text", strings.Join(args, " "), v)
	}
	return text, nil
}

// InfoField returns the value of field in the text of an INFO reply
// ("field:value" lines), or "" if there is none.
func InfoField(info, field string) string {
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\r"), field+":"); ok {
			return v
		}
	}
	return ""
}
