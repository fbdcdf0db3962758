package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/codomyrmex/concurrency/benchmarks/internal/report"
	"github.com/redis/go-redis/v9"
)

// runContend runs a session and returns its exit code, stdout and stderr.
func runContend(t *testing.T, ctx context.Context, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(ctx, args, &stdout, &stderr, false)
	return code, stdout.String(), stderr.String()
}

func TestRunUsageErrors(t *testing.T) {
	if code, _, stderr := runContend(t, context.Background(), "-workers", "x"); code != exitUsage || !strings.Contains(stderr, "usage:") {
		t.Fatalf("bad flag: exit %d, stderr %s", code, stderr)
	}
	if code, _, _ := runContend(t, context.Background(), "-h"); code != exitOK {
		t.Fatalf("-h: exit %d", code)
	}
	if code, stdout, _ := runContend(t, context.Background(), "-list"); code != exitOK || !strings.Contains(stdout, "lock.Mutex") {
		t.Fatalf("-list: exit %d, %s", code, stdout)
	}
}

// TestRunInProcess is a short end-to-end run of the in-process scenarios
// with every output.
func TestRunInProcess(t *testing.T) {
	dir := t.TempDir()
	html, bench := filepath.Join(dir, "r.html"), filepath.Join(dir, "r.txt")
	code, stdout, stderr := runContend(t, context.Background(), "-scenarios", "mutex,sem,rw", "-workers", "1,3",
		"-duration", "10ms", "-reps", "2", "-json", "-html", html, "-benchfmt", bench)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("JSON: %v\n%s", err, stdout)
	}
	if len(r.Scenarios) != 3 || r.Interrupted {
		t.Fatalf("%d scenarios, interrupted %v", len(r.Scenarios), r.Interrupted)
	}
	for _, s := range r.Scenarios {
		if len(s.Runs) != len(s.Impls)*2*2 || len(s.Summary) != len(s.Impls)*2 {
			t.Errorf("%s: %d runs, %d rows for %d impls", s.Name, len(s.Runs), len(s.Summary), len(s.Impls))
		}
		// Repetition 2 starts with a different implementation.
		if s.Runs[0].Impl == s.Runs[2*len(s.Impls)].Impl {
			t.Errorf("%s: implementations not interleaved", s.Name)
		}
		for _, row := range s.Summary {
			if row.Reps != 2 || row.Jain <= 0 || row.Failure != "" {
				t.Errorf("%s: row %+v", s.Name, row)
			}
			if row.Impl == s.Baseline && row.Ratio != 1 {
				t.Errorf("%s: baseline ratio %v", s.Name, row.Ratio)
			}
		}
	}
	for _, f := range []string{html, bench} {
		data, err := os.ReadFile(f)
		if err != nil || len(data) == 0 {
			t.Fatalf("%s: %v", f, err)
		}
	}
	// One line per run that acquired anything (on a loaded machine a 10ms
	// run may not).
	measured, runs := 0, 0
	for _, s := range r.Scenarios {
		runs += len(s.Runs)
		for _, run := range s.Runs {
			measured += min(int(run.Sample.Ops), 1)
		}
	}
	data, _ := os.ReadFile(bench)
	if n := strings.Count(string(data), "BenchmarkContend/scenario="); n != measured || n < runs/2 {
		t.Errorf("%d benchmark lines for %d measured runs of %d", n, measured, runs)
	}
	data, _ = os.ReadFile(html)
	if strings.Count(string(data), "<svg") != 6 {
		t.Errorf("HTML has %d charts, want 6", strings.Count(string(data), "<svg"))
	}
	if !strings.Contains(stderr, fmt.Sprintf("[1/%d] mutex workers=1", runs)) {
		t.Errorf("no progress lines on stderr: %s", stderr)
	}
}

func TestRunTable(t *testing.T) {
	code, stdout, stderr := runContend(t, context.Background(), "-scenarios", "mutex", "-impls", "lock.Mutex,chan",
		"-baseline", "chan", "-workers", "2", "-duration", "5ms", "-reps", "1", "-section", "0")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	for _, want := range []string{"== mutex", "vs chan", "lock.Mutex", "1.00×", "critical section 0ns", "fairness"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("table lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "sync.Mutex") {
		t.Errorf("-impls did not filter:\n%s", stdout)
	}
}

// TestRunInterrupted cancels a long session: it stops promptly, prints
// what it has, and exits 130.
func TestRunInterrupted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	code, stdout, _ := runContend(t, ctx, "-scenarios", "mutex", "-duration", "10m", "-workers", "2")
	if code != exitInterrupted || time.Since(start) > 10*time.Second {
		t.Fatalf("exit %d after %v", code, time.Since(start))
	}
	if !strings.Contains(stdout, "INTERRUPTED") || !strings.Contains(stdout, "lock.Mutex") {
		t.Fatalf("partial table missing:\n%s", stdout)
	}
}

// TestRunFileProcesses runs the file scenario with workers spread over two
// worker processes (this test binary, re-executed; see TestMain), and
// checks that the lock directory is gone afterwards.
func TestRunFileProcesses(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	code, stdout, stderr := runContend(t, context.Background(), "-scenarios", "file", "-procs", "2", "-workers", "1,3",
		"-duration", "50ms", "-reps", "1", "-json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	s := r.Scenarios[0]
	if s.Name != "file" || s.Procs != 2 || len(s.Runs) != 2*len(s.Impls) {
		t.Fatalf("scenario %s, procs %d, %d runs", s.Name, s.Procs, len(s.Runs))
	}
	var ops int64
	for _, run := range s.Runs {
		ops += run.Sample.Ops
		if run.Error != "" || len(run.Sample.Counts) != run.Workers {
			t.Errorf("%s at %d workers: %q, counts %v", run.Impl, run.Workers, run.Error, run.Sample.Counts)
		}
	}
	if ops == 0 {
		t.Error("no acquisitions at all")
	}
	if left, _ := filepath.Glob(filepath.Join(os.Getenv("TMPDIR"), "contend-*")); len(left) != 0 {
		t.Errorf("left behind: %v", left)
	}
}

// TestRunRedisMiniredis runs the Redis scenario on miniredis, in one and
// in two worker processes, and checks the commands are counted.
func TestRunRedisMiniredis(t *testing.T) {
	code, stdout, stderr := runContend(t, context.Background(), "-scenarios", "redis", "-redis", "miniredis",
		"-impls", "redislock,setnx-spin,bsm/redislock,redsync,rueidislock", "-workers", "1,2", "-procs", "2", "-duration", "50ms", "-reps", "1", "-json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "warning: Redis scenarios run on an in-process miniredis") {
		t.Errorf("no miniredis warning: %s", stderr)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Redis, "miniredis") || len(r.Warnings) != 2 || !strings.Contains(r.Warnings[1], "rueidislock left out") {
		t.Errorf("redis %q, warnings %q", r.Redis, r.Warnings)
	}
	s := r.Scenarios[0]
	if len(s.Runs) != 8 {
		t.Fatalf("%d runs, want 8", len(s.Runs))
	}
	checkRedisRows(t, s)
}

// TestRunRedisSemRWMiniredis runs the Redis semaphore and reader/writer
// scenarios on miniredis in two worker processes, the semaphore with its
// own weights (all 1) and then with -weights.
func TestRunRedisSemRWMiniredis(t *testing.T) {
	for _, weights := range [][]string{nil, {"-weights", "1,2"}} {
		args := append([]string{"-scenarios", "redis-sem,redis-rw", "-redis", "miniredis", "-workers", "1,3", "-procs", "2",
			"-duration", "50ms", "-reps", "1", "-json"}, weights...)
		code, stdout, stderr := runContend(t, context.Background(), args...)
		if code != exitOK {
			t.Fatalf("%q: exit %d: %s", weights, code, stderr)
		}
		var r report.Report
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatal(err)
		}
		if len(r.Scenarios) != 2 {
			t.Fatalf("%d scenarios", len(r.Scenarios))
		}
		for _, s := range r.Scenarios {
			if len(s.Runs) != 6 {
				t.Fatalf("%s: %d runs, want 6", s.Name, len(s.Runs))
			}
			checkRedisRows(t, s)
		}
	}
}

// TestRunRedisServer runs the Redis scenario on a redis-server of its own
// when one is installed, and checks that it is stopped afterwards.
func TestRunRedisServer(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not on PATH")
	}
	code, stdout, stderr := runContend(t, context.Background(), "-scenarios", "redis", "-impls", "setnx-spin,rueidislock",
		"-workers", "2", "-procs", "1", "-duration", "30ms", "-reps", "1", "-json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var r report.Report
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatal(err)
	}
	var pid int
	if _, err := fmt.Sscanf(r.Redis[strings.Index(r.Redis, "(pid "):], "(pid %d)", &pid); err != nil {
		t.Fatalf("no pid in %q", r.Redis)
	}
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("redis-server %d still running", pid)
	}
	checkRedisRows(t, r.Scenarios[0])
}

// checkRedisRows checks that every run of s succeeded, that commands were
// counted, and that runs which acquired needed at least the two commands
// of an acquisition and a release each. A short run on a loaded machine
// may acquire nothing, but not all of them.
func checkRedisRows(t *testing.T, s report.Scenario) {
	t.Helper()
	var total float64
	for _, row := range s.Summary {
		total += row.Throughput
		if row.Reps != 1 || !row.Cmds.Known() || row.Throughput > 0 && row.Cmds < 2 {
			t.Errorf("%s at %d workers: reps %d, %v cmds/acq, failure %q", row.Impl, row.Workers, row.Reps, row.Cmds, row.Failure)
		}
	}
	if total == 0 {
		t.Error("no acquisitions at all")
	}
}

// TestRunRedisExisting uses a server given with -redis, leaves it running,
// and deletes the keys it made there (redislock's fencing counter never
// expires).
func TestRunRedisExisting(t *testing.T) {
	m := miniredis.RunT(t)
	_ = m.Set("other", "not ours")
	code, stdout, stderr := runContend(t, context.Background(), "-scenarios", "redis", "-redis", m.Addr(), "-impls", "setnx-spin,redislock",
		"-workers", "1", "-duration", "10ms", "-reps", "1")
	if code != exitOK || !strings.Contains(stdout, "existing server at "+m.Addr()) {
		t.Fatalf("exit %d: %s\n%s", code, stderr, stdout)
	}
	rdb := redis.NewClient(&redis.Options{Addr: m.Addr()})
	defer rdb.Close()
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Errorf("the server was stopped: %v", err)
	}
	if keys := m.Keys(); len(keys) != 1 || keys[0] != "other" {
		t.Errorf("keys left: %q, want only the one contend did not make", keys)
	}
	code, _, stderr = runContend(t, context.Background(), "-scenarios", "redis", "-redis", "127.0.0.1:1", "-workers", "1")
	if code != exitFailed || !strings.Contains(stderr, "127.0.0.1:1") {
		t.Errorf("unreachable server: exit %d, %s", code, stderr)
	}
}

// TestRunRedisFallback: with no redis-server on PATH, the Redis scenario
// falls back to miniredis and says so.
func TestRunRedisFallback(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	code, stdout, stderr := runContend(t, context.Background(), "-scenarios", "redis", "-impls", "setnx-spin",
		"-workers", "1", "-duration", "10ms", "-reps", "1")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if !strings.Contains(stderr, "no redis-server on PATH") || !strings.Contains(stdout, "Redis: in-process miniredis") {
		t.Errorf("no fallback notice:\n%s\n%s", stderr, stdout)
	}
}
