package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"

	"github.com/codomyrmex/concurrency/benchmarks/internal/etcdproc"
	"github.com/codomyrmex/concurrency/benchmarks/internal/report"
)

// TestRunEtcd runs the etcd scenario on an etcd of its own when one is
// installed, with workers in one and in two worker processes, and checks
// every implementation's rows and that etcd is stopped afterwards.
func TestRunEtcd(t *testing.T) {
	if _, err := exec.LookPath("etcd"); err != nil {
		t.Skip("etcd not on PATH")
	}
	code, stdout, stderr := runContend(t, context.Background(), "-scenarios", "etcd", "-workers", "1,2", "-procs", "2",
		"-duration", "100ms", "-reps", "1", "-json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Scenarios) != 1 || r.Scenarios[0].Name != "etcd" || r.Redis == "" {
		t.Fatalf("scenarios %d, redis %q", len(r.Scenarios), r.Redis)
	}
	s := r.Scenarios[0]
	if s.Procs != 2 || len(s.Runs) != 2*len(s.Impls) || len(s.Impls) != 3 {
		t.Fatalf("procs %d, %d runs of %d impls", s.Procs, len(s.Runs), len(s.Impls))
	}
	for _, run := range s.Runs {
		if run.Error != "" || run.Sample.Errors != 0 || len(run.Sample.Counts) != run.Workers {
			t.Errorf("%s at %d workers: %q, %d errors (%s), counts %v", run.Impl, run.Workers, run.Error,
				run.Sample.Errors, run.Sample.FirstError, run.Sample.Counts)
		}
	}
	checkRedisRows(t, s) // every row counted its server's requests: at least two per acquisition
	var pid int
	var dir string
	if _, err := fmt.Sscanf(r.Etcd[strings.Index(r.Etcd, "(pid "):], "(pid %d, one member, data in %s", &pid, &dir); err != nil {
		t.Fatalf("no pid and directory in %q: %v", r.Etcd, err)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("etcd %d still running", pid)
	}
	if _, err := os.Stat(strings.TrimSuffix(dir, "),")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("etcd's directory %s: %v", dir, err)
	}
}

// TestRunEtcdExisting uses an etcd given with -etcd, leaves it running,
// and fails on one that does not answer.
func TestRunEtcdExisting(t *testing.T) {
	srv, err := etcdproc.Start(context.Background())
	if errors.Is(err, etcdproc.ErrNotInstalled) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	code, stdout, stderr := runContend(t, context.Background(), "-scenarios", "etcd", "-etcd", srv.Addr, "-impls", "etcdlock",
		"-workers", "1", "-duration", "30ms", "-reps", "1")
	if code != exitOK || !strings.Contains(stdout, "existing etcd "+srv.Version+" at "+srv.Addr) || !strings.Contains(stdout, "etcdlock") {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	if strings.Contains(stdout, "Redis:") {
		t.Errorf("a Redis server was set up for etcd implementations only:\n%s", stdout)
	}
	if _, err := etcdproc.Version(context.Background(), srv.Addr); err != nil {
		t.Errorf("the server was stopped: %v", err)
	}
	code, _, stderr = runContend(t, context.Background(), "-scenarios", "etcd", "-etcd", "127.0.0.1:1", "-workers", "1")
	if code != exitFailed || !strings.Contains(stderr, "127.0.0.1:1") {
		t.Errorf("unreachable server: exit %d, %s", code, stderr)
	}
}

// TestRunEtcdMissing: with no etcd on PATH and no -etcd, the etcd scenario
// is skipped with a warning, and nothing is started for it.
func TestRunEtcdMissing(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	code, stdout, stderr := runContend(t, context.Background(), "-scenarios", "etcd,mutex", "-impls", "sync.Mutex,etcdlock,redislock",
		"-workers", "1", "-duration", "10ms", "-reps", "1", "-json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "warning: etcd scenario skipped: no etcd on PATH") {
		t.Errorf("no warning: %s", stderr)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Scenarios) != 1 || r.Scenarios[0].Name != "mutex" || r.Redis != "" || r.Etcd != "" {
		t.Errorf("scenarios %v, redis %q, etcd %q", r.Scenarios, r.Redis, r.Etcd)
	}
}
