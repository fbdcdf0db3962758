package redisproc

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseCommandStats(t *testing.T) {
	info := "# Commandstats\r\n" +
		"cmdstat_set:calls=10,usec=30,usec_per_call=3.00,rejected_calls=0,failed_calls=0\r\n" +
		"cmdstat_info:calls=99,usec=10,usec_per_call=0.10\r\n" +
		"cmdstat_evalsha:calls=5,usec=50,usec_per_call=10.00\r\n" +
		"cmdstat_del:calls=7,usec=7\r\n"
	n, err := ParseCommandStats(info)
	if err != nil || n != 22 {
		t.Fatalf("ParseCommandStats = %d, %v; want 22", n, err)
	}
	if n, err := ParseCommandStats("# Commandstats\r\n"); err != nil || n != 0 {
		t.Fatalf("empty: %d, %v", n, err)
	}
	if _, err := ParseCommandStats("cmdstat_get:calls=x,usec=1\n"); err == nil {
		t.Fatal("bad calls accepted")
	}
}

// TestServer starts a real server (skipped where redis-server is not
// installed), counts commands on it, and stops it by PID.
func TestServer(t *testing.T) {
	ctx := context.Background()
	s, err := Start(ctx)
	if errors.Is(err, ErrNotInstalled) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	pid := s.PID()
	if s.Version == "" || s.Addr[:10] != "127.0.0.1:" {
		t.Errorf("version %q addr %q", s.Version, s.Addr)
	}
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr})
	before, err := CountCommands(ctx, rdb)
	if err != nil {
		t.Fatal(err)
	}
	rdb.Set(ctx, "k", "v", 0)
	rdb.Del(ctx, "k")
	after, err := CountCommands(ctx, rdb)
	if err != nil || after-before != 2 {
		t.Errorf("counted %d commands (%v), want 2", after-before, err)
	}
	rdb.Close()
	s.Stop()
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("server %d still running", pid)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("directory %s left behind", s.Dir)
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if _, err := version(ctx, s.Addr); err == nil {
		t.Error("server still answers")
	}
}
