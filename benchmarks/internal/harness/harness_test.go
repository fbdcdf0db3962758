package harness

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// childEnv makes the test binary a worker process (see TestMain).
const childEnv = "HARNESS_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		if err := ServeChild(context.Background(), os.Stdin, os.Stdout, testLookup); err != nil {
			os.Stderr.WriteString(err.Error())
			os.Exit(1)
		}
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// checked is a mutex that fails the run if two workers hold it at once.
type checked struct {
	mu      sync.Mutex
	holders int
	overlap bool
}

func (c *checked) Lock(context.Context) error {
	c.mu.Lock()
	c.holders++
	c.overlap = c.overlap || c.holders > 1
	return nil
}

func (c *checked) Unlock() { c.holders--; c.mu.Unlock() }

// failing fails every Lock.
type failing struct{}

func (failing) Lock(context.Context) error { return errors.New("boom") }
func (failing) Unlock()                    {}

var testImpls = map[string]Impl{
	"checked": {Name: "checked", New: func(Env, Params) (Instance, error) {
		c := new(checked)
		return LockerFunc(func(int) Locker { return c }), nil
	}},
	"broken": {Name: "broken", New: func(Env, Params) (Instance, error) { return nil, errors.New("cannot build") }},
}

func testLookup(scenario, impl string) (Impl, bool) {
	im, ok := testImpls[impl]
	return im, ok && scenario == "test"
}

func TestDrive(t *testing.T) {
	c := new(checked)
	lockers := []Locker{c, c, c, c}
	p := Params{Workers: 4, Local: 4, Duration: 50 * time.Millisecond, Section: time.Microsecond}
	s := Drive(context.Background(), lockers, p)
	if c.overlap {
		t.Fatal("two workers held the lock at once")
	}
	var sum int64
	for _, n := range s.Counts {
		sum += n
	}
	if len(s.Counts) != 4 || sum != s.Ops || s.Ops == 0 {
		t.Fatalf("ops %d, counts %v", s.Ops, s.Counts)
	}
	if s.Waits.Count() < s.Ops || s.Window < p.Duration || s.Window > p.Duration+time.Second {
		t.Fatalf("waits %d for %d ops, window %v", s.Waits.Count(), s.Ops, s.Window)
	}
	if thr := s.Throughput(); thr <= 0 || s.Jain() <= 0.25 || s.Interrupted || s.Errors != 0 {
		t.Fatalf("throughput %v jain %v interrupted %v errors %d", thr, s.Jain(), s.Interrupted, s.Errors)
	}
	// Four busy workers for the window: CPU time no less than one CPU's
	// worth of a fraction of it, and no more than all CPUs' for all of it.
	if s.CPU < p.Duration/10 || s.CPU > time.Duration(runtime.NumCPU())*s.Window+100*time.Millisecond {
		t.Fatalf("CPU %v in a window of %v", s.CPU, s.Window)
	}
	// A 1 µs section caps a worker at 1e6 acquisitions per second.
	if max := int64(1.1 * p.Duration.Seconds() * 1e6); s.Ops > max {
		t.Fatalf("%d ops in %v with a 1µs section", s.Ops, p.Duration)
	}
}

func TestDriveInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(20*time.Millisecond, cancel)
	start := time.Now()
	s := Drive(ctx, []Locker{new(checked)}, Params{Workers: 1, Local: 1, Duration: time.Minute})
	if !s.Interrupted || time.Since(start) > 10*time.Second {
		t.Fatalf("interrupted %v after %v", s.Interrupted, time.Since(start))
	}
}

func TestDriveErrors(t *testing.T) {
	s := Drive(context.Background(), []Locker{failing{}}, Params{Workers: 1, First: 3, Local: 1, Duration: time.Second})
	if s.Errors != maxErrors || s.Ops != 0 || !strings.Contains(s.FirstError, "worker 3: boom") {
		t.Fatalf("errors %d ops %d first %q", s.Errors, s.Ops, s.FirstError)
	}
	if s.AllocsPerOp() != 0 || s.Throughput() != 0 && s.Ops == 0 {
		t.Fatal("per-op figures of an empty sample")
	}
}

func TestRunLocal(t *testing.T) {
	p := Params{Workers: 2, Local: 2, Duration: 10 * time.Millisecond}
	s, err := RunLocal(context.Background(), testImpls["checked"], Env{}, p, nil)
	if err != nil || s.Ops == 0 || len(s.Counts) != 2 {
		t.Fatalf("RunLocal: %v, %+v", err, s)
	}
	if _, err := RunLocal(context.Background(), testImpls["broken"], Env{}, p, nil); err == nil {
		t.Fatal("RunLocal of a broken impl succeeded")
	}
}

// childCommand re-executes the test binary as a worker process.
func childCommand(ctx context.Context) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(), childEnv+"=1")
	return cmd
}

func TestRunProcs(t *testing.T) {
	job := Job{Scenario: "test", Impl: "checked", Params: Params{Workers: 5, Duration: 30 * time.Millisecond}}
	readied := false
	s, err := RunProcs(context.Background(), childCommand, job, 2, func() { readied = true })
	if err != nil {
		t.Fatal(err)
	}
	if !readied || len(s.Counts) != 5 || s.Ops == 0 || s.Interrupted || s.CPU <= 0 {
		t.Fatalf("readied %v, sample %+v", readied, s)
	}
}

func TestRunProcsInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	job := Job{Scenario: "test", Impl: "checked", Params: Params{Workers: 2, Duration: time.Minute}}
	start := time.Now()
	s, err := RunProcs(ctx, childCommand, job, 2, func() { time.AfterFunc(50*time.Millisecond, cancel) })
	if err != nil {
		t.Fatal(err)
	}
	if !s.Interrupted || time.Since(start) > 20*time.Second {
		t.Fatalf("interrupted %v after %v", s.Interrupted, time.Since(start))
	}
}

func TestRunProcsChildFails(t *testing.T) {
	for _, impl := range []string{"broken", "unknown"} {
		job := Job{Scenario: "test", Impl: impl, Params: Params{Workers: 2, Duration: time.Second}}
		_, err := RunProcs(context.Background(), childCommand, job, 2, nil)
		if err == nil || !strings.Contains(err.Error(), "worker process") {
			t.Errorf("%s: err = %v", impl, err)
		}
	}
}

func TestServeChildProtocol(t *testing.T) {
	var out bytes.Buffer
	in := strings.NewReader(`{"scenario":"test","impl":"checked","params":{"Workers":1,"Local":1,"Duration":5000000}}` + "\n" + goLine)
	if err := ServeChild(context.Background(), in, &out, testLookup); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), readyLine+"{") {
		t.Fatalf("output %q", out.String())
	}
	for _, bad := range []string{"", "{\n", `{"scenario":"x","impl":"checked"}` + "\n"} {
		if err := ServeChild(context.Background(), strings.NewReader(bad), io.Discard, testLookup); err == nil {
			t.Errorf("ServeChild(%q) succeeded", bad)
		}
	}
}

// TestMergeCPU: CPU times add up, and one process that could not measure
// its own makes the total unknown.
func TestMergeCPU(t *testing.T) {
	var s Sample
	s.Merge(&Sample{CPU: time.Second})
	s.Merge(&Sample{CPU: 2 * time.Second})
	if s.CPU != 3*time.Second {
		t.Fatalf("CPU %v, want 3s", s.CPU)
	}
	s.Merge(&Sample{CPU: -1})
	s.Merge(&Sample{CPU: time.Second})
	if s.CPU >= 0 {
		t.Fatalf("CPU %v after an unmeasured sample, want negative", s.CPU)
	}
}

func TestWeight(t *testing.T) {
	p := Params{Weights: []int64{1, 3}}
	if p.Weight(0) != 1 || p.Weight(3) != 3 || (Params{}).Weight(5) != 1 {
		t.Fatal("Weight")
	}
}
