package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"time"

	"github.com/codomyrmex/concurrency/benchmarks/internal/harness"
	"github.com/codomyrmex/concurrency/benchmarks/internal/progress"
	"github.com/codomyrmex/concurrency/benchmarks/internal/report"
	"github.com/codomyrmex/concurrency/benchmarks/internal/suite"
)

// A session is one invocation of contend: its plan, the resources it set
// up, and the report it fills in.
type session struct {
	o              *options
	stdout, stderr io.Writer
	live           bool

	rep      report.Report
	plan     []planned
	cleanups []func() // run in reverse order when the session ends
	runs     int      // runs started, for unique lock names
	// onMiniredis is set when the Redis scenarios run on miniredis.
	onMiniredis bool
	// redis is the session's Redis server, set up once for every scenario
	// that needs one.
	redis *server
}

// A server is a server the scenarios send their load to: its address and a
// counter of the requests it has served.
type server struct {
	addr  string
	count func() (int64, error)
}

// planned is one scenario as this session runs it.
type planned struct {
	suite.Scenario
	section time.Duration
	procs   int
	workers []int
	weights []int64
	env     harness.Env
	// counters count the requests each server has served (Redis commands,
	// etcd gRPC messages), by what an implementation needs; an
	// implementation whose server has none is not counted.
	counters map[suite.Need]func() (int64, error)
}

// run runs the session and returns the exit code.
func (s *session) run(ctx context.Context) int {
	if s.o.gomaxprocs > 0 {
		runtime.GOMAXPROCS(s.o.gomaxprocs)
	}
	defer s.cleanup()
	s.rep = report.Report{Started: time.Now(), Machine: thisMachine(), Config: report.Config{
		Duration: s.o.duration, Reps: s.o.reps, Workers: s.o.workers, Procs: s.o.procs,
		Writes: s.o.writes, Weights: s.o.weights, SemSize: s.o.semSize,
	}}
	if err := s.prepare(ctx); err != nil {
		fmt.Fprintf(s.stderr, "contend: %v\n", err)
		return exitFailed
	}
	s.runAll(ctx)
	s.rep.Elapsed = time.Since(s.rep.Started)
	s.rep.Interrupted = ctx.Err() != nil
	s.rep.Summarize()
	code := exitOK
	if err := s.write(); err != nil {
		fmt.Fprintf(s.stderr, "contend: %v\n", err)
		code = exitFailed
	}
	if s.rep.Interrupted {
		code = exitInterrupted
	}
	return code
}

// prepare selects the scenarios and implementations and sets up what they
// need: a directory for lock files, a Redis server, an etcd server.
func (s *session) prepare(ctx context.Context) error {
	for _, sc := range suite.All() {
		if len(s.o.scenarios) > 0 && !slices.Contains(s.o.scenarios, sc.Name) {
			continue
		}
		if len(s.o.impls) > 0 {
			sc.Impls = slices.DeleteFunc(slices.Clone(sc.Impls), func(im harness.Impl) bool {
				return !slices.Contains(s.o.impls, im.Name)
			})
		}
		if len(sc.Impls) == 0 {
			continue
		}
		for _, b := range s.o.baseline {
			if slices.ContainsFunc(sc.Impls, func(im harness.Impl) bool { return im.Name == b }) {
				sc.Baseline = b
				break
			}
		}
		p := planned{Scenario: sc, section: sc.Section, procs: 1, workers: s.o.workers, weights: s.o.weights, counters: map[suite.Need]func() (int64, error){}}
		if s.o.section >= 0 {
			p.section = s.o.section
		}
		if sc.Processes {
			p.procs = s.o.procs
		}
		if sc.Workers != nil && !s.o.workersGiven {
			p.workers = sc.Workers
		}
		if sc.Weights != nil && !s.o.weightsGiven {
			p.weights = sc.Weights
		}
		p.Need = suite.NeedNothing // what the implementations left need
		for _, im := range sc.Impls {
			p.Need |= sc.Needs(im.Name)
		}
		if skip, err := s.provide(ctx, &p); err != nil {
			return err
		} else if skip != "" {
			s.warn(fmt.Sprintf("%s scenario skipped: %s", sc.Name, skip))
			continue
		}
		if p.Need&suite.NeedRedis != 0 && s.onMiniredis {
			p.Impls = slices.DeleteFunc(p.Impls, func(im harness.Impl) bool {
				if p.Needs(im.Name)&suite.NeedRedis == 0 {
					return false
				}
				why := suite.MiniredisLacks(im.Name)
				if why != "" {
					s.warn(im.Name + " left out on miniredis: " + why)
				}
				return why != ""
			})
		}
		s.plan = append(s.plan, p)
	}
	return nil
}

// provide sets up the environment p needs, once per session. It returns
// why p must be skipped, or "", or an error that ends the session.
func (s *session) provide(ctx context.Context, p *planned) (skip string, err error) {
	if p.Need&suite.NeedEtcd != 0 { // first: if it is missing, nothing else is started for p
		etcd, skip, err := s.etcdServer(ctx)
		if err != nil || skip != "" {
			return skip, err
		}
		p.env.EtcdAddr, p.counters[suite.NeedEtcd] = etcd.addr, etcd.count
	}
	if p.Need&suite.NeedDir != 0 {
		dir, err := s.lockDir()
		if err != nil {
			return "", err
		}
		p.env.Dir = dir
	}
	if p.Need&suite.NeedRedis != 0 {
		if s.redis == nil {
			addr, commands, err := s.redisServer(ctx)
			if err != nil {
				return "", err
			}
			s.redis = &server{addr: addr, count: commands}
		}
		p.env.RedisAddr, p.counters[suite.NeedRedis] = s.redis.addr, s.redis.count
	}
	return "", nil
}

// lockDir returns the session's private directory for lock files, created
// on first use and removed when the session ends.
func (s *session) lockDir() (string, error) {
	for _, p := range s.plan {
		if p.env.Dir != "" {
			return p.env.Dir, nil
		}
	}
	dir, err := os.MkdirTemp("", "contend-")
	if err != nil {
		return "", fmt.Errorf("lock directory: %w", err)
	}
	s.cleanups = append(s.cleanups, func() { _ = os.RemoveAll(dir) })
	return dir, nil
}

// runAll runs every planned scenario: for each repetition, each worker
// count, every implementation, starting with a different one in each
// repetition. It stops early when ctx ends.
func (s *session) runAll(ctx context.Context) {
	total := 0
	for _, p := range s.plan {
		total += len(p.Impls) * len(p.workers) * s.o.reps
	}
	disp := progress.New(s.stderr, s.live, total, s.o.duration+50*time.Millisecond)
	defer disp.Close()
	for _, p := range s.plan {
		sr := report.Scenario{Name: p.Name, About: p.About, Section: p.section, Baseline: p.Baseline, Procs: p.procs}
		for _, im := range p.Impls {
			sr.Impls = append(sr.Impls, report.Impl{Name: im.Name, Note: im.Note})
		}
		for rep := range s.o.reps {
			for _, w := range p.workers {
				for k := range p.Impls {
					if ctx.Err() != nil {
						break
					}
					im := p.Impls[(k+rep)%len(p.Impls)]
					disp.Start(fmt.Sprintf("%s workers=%d impl=%s rep %d/%d", p.Name, w, im.Name, rep+1, s.o.reps))
					sr.Runs = append(sr.Runs, s.runOne(ctx, &p, im, w, rep))
					disp.Done()
				}
			}
		}
		s.rep.Scenarios = append(s.rep.Scenarios, sr)
	}
}

// runOne runs im with w workers once.
func (s *session) runOne(ctx context.Context, p *planned, im harness.Impl, w, rep int) report.Run {
	s.runs++
	env := p.env
	env.Key = fmt.Sprintf("contend-%d-%d", os.Getpid(), s.runs)
	params := harness.Params{Workers: w, Local: w, Section: p.section, Duration: s.o.duration,
		Writes: s.o.writes, Weights: p.weights, SemSize: s.o.semSize}
	run := report.Run{Workers: w, Impl: im.Name, Rep: rep, Commands: -1}
	count := p.counters[p.Needs(im.Name)]
	var before int64
	var countErr error
	ready := func() {
		if count != nil {
			before, countErr = count()
		}
	}
	var err error
	if p.procs > 1 && w > 1 {
		job := harness.Job{Scenario: p.Name, Impl: im.Name, Env: env, Params: params}
		run.Sample, err = harness.RunProcs(ctx, s.workerCommand, job, p.procs, ready)
	} else {
		run.Sample, err = harness.RunLocal(ctx, im, env, params, ready)
	}
	if err != nil {
		run.Error = err.Error()
		return run
	}
	if count != nil && countErr == nil {
		if after, err := count(); err == nil {
			run.Commands = after - before
		}
	}
	return run
}

// workerCommand returns the command that starts a worker process: this
// executable in worker mode, with this session's GOMAXPROCS.
func (s *session) workerCommand(ctx context.Context) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	cmd := exec.CommandContext(ctx, exe)
	cmd.Env = append(os.Environ(), workerEnv+"=1", "GOMAXPROCS="+strconv.Itoa(runtime.GOMAXPROCS(0)))
	return cmd
}

// cleanup undoes what prepare set up, last first.
func (s *session) cleanup() {
	for _, f := range slices.Backward(s.cleanups) {
		f()
	}
	s.cleanups = nil
}
