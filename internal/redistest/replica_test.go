package redistest_test

import (
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/redistest"
)

// TestReplica replicates a write, promotes the replica after the primary
// is killed, and writes to the promoted server.
func TestReplica(t *testing.T) {
	primary := redistest.Start(t, "--repl-diskless-sync-delay", "0")
	replica := redistest.StartReplica(t, primary)
	if info, err := replica.Command("INFO", "replication"); err != nil || redistest.InfoField(info, "role") != "slave" {
		t.Fatalf("replica role: %v %q", err, redistest.InfoField(info, "role"))
	}
	if _, err := primary.Command("SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	// Command opens a connection per call, and WAIT on a connection that
	// wrote nothing returns at once: poll the replica instead.
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		v, err := replica.Command("GET", "k")
		if err == nil && v == "v" {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("GET k on the replica = %q, %v after 5s", v, err)
		}
	}
	if _, err := replica.Command("SET", "k", "w"); err == nil {
		t.Fatal("a replica accepted a write")
	}

	primary.Kill()
	replica.Promote()
	if _, err := replica.Command("SET", "k", "w"); err != nil {
		t.Fatalf("write to the promoted replica: %v", err)
	}
	if v, err := replica.Command("GET", "k"); err != nil || v != "w" {
		t.Fatalf("GET k after promotion = %q, %v", v, err)
	}
	if err := replica.WaitLink(50 * time.Millisecond); err == nil {
		t.Fatal("a promoted replica still reports its link up")
	}
}

func TestInfoField(t *testing.T) {
	info := "# Replication\r\nrole:slave\r\nmaster_link_status:up\r\n"
	for field, want := range map[string]string{"role": "slave", "master_link_status": "up", "master_host": ""} {
		if got := redistest.InfoField(info, field); got != want {
			t.Errorf("InfoField(%q) = %q, want %q", field, got, want)
		}
	}
}
