package redistest_test

import (
	"strings"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/redistest"
)

// TestSentinelFailover starts a primary, a replica and a Sentinel, kills
// the primary, and waits for the Sentinel to promote the replica: it must
// give the replica's address for the primary's name, the replica must
// report role:master, keep the replicated write, and accept writes.
func TestSentinelFailover(t *testing.T) {
	primary := redistest.Start(t, "--repl-diskless-sync-delay", "0")
	replica := redistest.StartReplica(t, primary)
	s := redistest.StartSentinel(t, "mymaster", primary)
	if s.PID() == 0 {
		t.Fatal("PID 0 for a running sentinel")
	}
	if got, err := s.MasterAddr(); err != nil || got != primary.Addr() {
		t.Fatalf("MasterAddr = %q, %v; want %s", got, err, primary.Addr())
	}
	if m, err := s.Master(); err != nil || m["flags"] != "master" || m["name"] != "mymaster" {
		t.Fatalf("Master = %v, %v", m, err)
	}
	if err := s.WaitReplicas(15*time.Second, replica); err != nil {
		t.Fatal(err)
	}
	if _, err := primary.Command("SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	// Command dials afresh, so WAIT would have no write of its own
	// connection to wait for: poll the replica instead.
	for deadline := time.Now().Add(5 * time.Second); ; {
		v, err := replica.Command("GET", "k")
		if err == nil && v == "v" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET k on the replica = %q, %v after 5s", v, err)
		}
		time.Sleep(10 * time.Millisecond)
	}

	primary.Kill()
	killed := time.Now()
	if err := s.WaitMaster(replica.Addr(), 15*time.Second); err != nil {
		t.Fatalf("%v; sentinel log: %s", err, s.Log())
	}
	t.Logf("sentinel gave the replica's address %v after the kill", time.Since(killed).Round(time.Millisecond))
	deadline := time.Now().Add(5 * time.Second)
	for {
		info, err := replica.Command("INFO", "replication")
		if err == nil && redistest.InfoField(info, "role") == "master" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("promoted replica's role: %v %q", err, info)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if v, err := replica.Command("GET", "k"); err != nil || v != "v" {
		t.Fatalf("GET k on the promoted replica = %q, %v", v, err)
	}
	if _, err := replica.Command("SET", "k", "w"); err != nil {
		t.Fatalf("write to the promoted replica: %v", err)
	}
	// The Sentinel gives the new address from the reconfiguration of the
	// other replicas on, and logs +switch-master once that is over.
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(s.Log(), "+switch-master mymaster"); {
		if time.Now().After(deadline) {
			t.Fatalf("no +switch-master in the sentinel log: %s", s.Log())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if m, err := s.Master(); err != nil || m["ip"]+":"+m["port"] != replica.Addr() {
		t.Errorf("Master after the failover = %v, %v; want %s", m, err, replica.Addr())
	}

	pid := s.PID()
	s.Kill()
	if s.PID() != 0 {
		t.Errorf("PID %d after Kill", s.PID())
	}
	if _, err := s.Command("PING"); err == nil {
		t.Errorf("sentinel (pid %d) still answers after Kill", pid)
	}
	s.Kill() // again: nothing to do
}
