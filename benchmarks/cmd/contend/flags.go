package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/codomyrmex/concurrency/benchmarks/internal/suite"
)

// options is the parsed command line.
type options struct {
	scenarios []string
	impls     []string // empty: all
	baseline  []string // empty: each scenario's default
	workers   []int
	// workersGiven is set when -workers was given: it then overrides the
	// worker counts of every scenario.
	workersGiven bool
	// weightsGiven is set when -weights was given: it then overrides the
	// weights of every scenario.
	weightsGiven bool
	section      time.Duration // < 0: each scenario's default
	writes       float64
	weights      []int64
	semSize      int64
	duration     time.Duration
	reps         int
	procs        int
	gomaxprocs   int
	redis        string
	etcd         string
	json         bool
	html         string
	benchfmt     string
	list         bool
}

// Limits on the knobs, so that a typo cannot start a run of days.
const (
	maxWorkers  = 1024
	maxProcs    = 64
	maxReps     = 100
	maxDuration = 10 * time.Minute
)

const usageHead = `usage: contend [flags]

Runs contention scenarios for each primitive of this module side by side
with its peers, interleaving the implementations in every repetition, and
prints a table (or JSON). With no flags it runs every scenario in about a
minute and a half. Redis scenarios (the mutex, semaphore and
reader/writer lock) use, in order: -redis ADDR, a redis-server on PATH
started on a free 127.0.0.1 port (and stopped afterwards), or an
in-process miniredis (figures then not representative of a network). The
etcd scenario uses -etcd ADDR or an etcd on PATH started on free 127.0.0.1
ports (and stopped afterwards); without either it is skipped, with a
warning. A scenario may have worker counts of its own (etcd's few, slow
acquisitions: see the list below), which -workers overrides.

flags:
`

// parseFlags parses args. On a bad flag it writes the error and the usage
// to stderr and returns an error; -h writes the usage and returns
// flag.ErrHelp.
func parseFlags(args []string, stderr io.Writer) (*options, error) {
	o := &options{section: -1, workers: []int{1, 4, 16}, weights: []int64{1, 1, 2, 4}}
	fs := flag.NewFlagSet("contend", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usageHead)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, "\nscenarios and implementations (* marks the default baseline):\n%s", listing())
	}
	fs.Var(listOf(&o.scenarios, parseName), "scenarios", "comma-separated scenarios to run (default all: "+strings.Join(scenarioNames(), ",")+")")
	fs.Var(listOf(&o.impls, parseName), "impls", "comma-separated implementations to include (default all; see the list below)")
	fs.Var(listOf(&o.baseline, parseName), "baseline", "comma-separated implementations to compare with; each scenario uses the first of its own (default: the standard peer)")
	fs.Var(listOf(&o.workers, parsePositive[int]), "workers", "comma-separated worker counts, one run each: the scaling curve (default 1,4,16; the etcd scenario 1,4)")
	fs.Var(durationOrAuto{&o.section}, "section", `critical section held per acquisition (busy), or "auto" for each scenario's own`)
	fs.Float64Var(&o.writes, "writes", 0.1, "rw and redis-rw scenarios: fraction of acquisitions that write (0..1)")
	fs.Var(listOf(&o.weights, parsePositive[int64]), "weights", "sem and redis-sem scenarios: comma-separated weights, worker i takes weights[i % len]; redis-sem's own is 1, which -weights overrides")
	fs.Int64Var(&o.semSize, "sem-size", 4, "sem and redis-sem scenarios: semaphore capacity")
	fs.DurationVar(&o.duration, "duration", 400*time.Millisecond, "measured window of each run")
	fs.IntVar(&o.reps, "reps", 3, "repetitions of every run")
	fs.IntVar(&o.procs, "procs", 2, "file, Redis and etcd scenarios: OS processes the workers are spread over")
	fs.IntVar(&o.gomaxprocs, "gomaxprocs", 0, "GOMAXPROCS for this process and its worker processes (0: leave as is)")
	fs.StringVar(&o.redis, "redis", "", `Redis scenarios: existing server host:port on loopback, or "miniredis" (default: start redis-server if on PATH, else miniredis)`)
	fs.StringVar(&o.etcd, "etcd", "", "etcd scenario: existing server's client host:port on loopback (default: start etcd if on PATH, else skip the scenario)")
	fs.BoolVar(&o.json, "json", false, "write JSON to stdout instead of the table")
	fs.StringVar(&o.html, "html", "", "also write a self-contained HTML report with charts to this file")
	fs.StringVar(&o.benchfmt, "benchfmt", "", `also write benchstat-compatible lines to this file ("-": stdout)`)
	fs.BoolVar(&o.list, "list", false, "list scenarios and implementations and exit")
	if err := fs.Parse(args); err != nil {
		return nil, err // the flag package has printed it and the usage
	}
	fs.Visit(func(f *flag.Flag) {
		o.workersGiven = o.workersGiven || f.Name == "workers"
		o.weightsGiven = o.weightsGiven || f.Name == "weights"
	})
	if err := o.check(fs.Args()); err != nil {
		fmt.Fprintf(stderr, "contend: %v\n\n", err)
		fs.Usage()
		return nil, err
	}
	return o, nil
}

// check validates the options against each other and the suite.
func (o *options) check(rest []string) error {
	switch {
	case len(rest) > 0:
		return fmt.Errorf("unexpected arguments %q", rest)
	case o.duration <= 0 || o.duration > maxDuration:
		return fmt.Errorf("-duration %v: want more than 0 and at most %v", o.duration, maxDuration)
	case o.reps < 1 || o.reps > maxReps:
		return fmt.Errorf("-reps %d: want 1 to %d", o.reps, maxReps)
	case o.procs < 1 || o.procs > maxProcs:
		return fmt.Errorf("-procs %d: want 1 to %d", o.procs, maxProcs)
	case o.gomaxprocs < 0:
		return fmt.Errorf("-gomaxprocs %d: want 0 or more", o.gomaxprocs)
	case o.writes < 0 || o.writes > 1:
		return fmt.Errorf("-writes %v: want a fraction from 0 to 1", o.writes)
	case o.semSize < 1:
		return fmt.Errorf("-sem-size %d: want 1 or more", o.semSize)
	case len(o.workers) == 0:
		return errors.New("-workers: want at least one count")
	}
	if w := slices.Max(o.workers); w > maxWorkers {
		return fmt.Errorf("-workers %d: at most %d", w, maxWorkers)
	}
	if len(o.weights) == 0 {
		return errors.New("-weights: want at least one weight")
	}
	if w := slices.Max(o.weights); w > o.semSize {
		return fmt.Errorf("-weights: weight %d exceeds -sem-size %d", w, o.semSize)
	}
	if err := checkRedisAddr(o.redis); err != nil {
		return err
	}
	if err := checkEtcdAddr(o.etcd); err != nil {
		return err
	}
	for _, s := range o.scenarios {
		if !slices.Contains(scenarioNames(), s) {
			return fmt.Errorf("-scenarios: unknown scenario %q (have %s)", s, strings.Join(scenarioNames(), ", "))
		}
	}
	for _, flagName := range []string{"impls", "baseline"} {
		names := o.impls
		if flagName == "baseline" {
			names = o.baseline
		}
		for _, n := range names {
			if !implKnown(n) {
				return fmt.Errorf("-%s: unknown implementation %q (see -list)", flagName, n)
			}
		}
	}
	return nil
}

// scenarioNames returns the names of every scenario.
func scenarioNames() []string {
	var names []string
	for _, s := range suite.All() {
		names = append(names, s.Name)
	}
	return names
}

// implKnown reports whether some scenario has an implementation named n.
func implKnown(n string) bool {
	for _, s := range suite.All() {
		for _, im := range s.Impls {
			if im.Name == n {
				return true
			}
		}
	}
	return false
}

// listing describes every scenario and implementation, one per line.
func listing() string {
	var b strings.Builder
	for _, s := range suite.All() {
		fmt.Fprintf(&b, "  %-8s %s (critical section %v", s.Name, s.About, s.Section)
		if s.Workers != nil {
			fmt.Fprintf(&b, "; workers %s unless -workers is given", (&list[int]{dst: &s.Workers}).String())
		}
		if s.Weights != nil {
			fmt.Fprintf(&b, "; weights %s unless -weights is given", (&list[int64]{dst: &s.Weights}).String())
		}
		b.WriteString(")\n")
		for _, im := range s.Impls {
			mark := " "
			if im.Name == s.Baseline {
				mark = "*"
			}
			fmt.Fprintf(&b, "         %s %s", mark, im.Name)
			if im.Note != "" {
				fmt.Fprintf(&b, ": %s", im.Note)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

// list is a flag.Value holding a comma-separated list.
type list[T any] struct {
	dst   *[]T
	parse func(string) (T, error)
	set   bool
}

// listOf returns a flag.Value that parses a comma-separated list into dst,
// replacing the default on first use.
func listOf[T any](dst *[]T, parse func(string) (T, error)) *list[T] {
	return &list[T]{dst: dst, parse: parse}
}

func (l *list[T]) String() string {
	if l == nil || l.dst == nil {
		return ""
	}
	parts := make([]string, len(*l.dst))
	for i, v := range *l.dst {
		parts[i] = fmt.Sprint(v)
	}
	return strings.Join(parts, ",")
}

func (l *list[T]) Set(s string) error {
	if !l.set {
		*l.dst, l.set = nil, true
	}
	for part := range strings.SplitSeq(s, ",") {
		v, err := l.parse(strings.TrimSpace(part))
		if err != nil {
			return err
		}
		*l.dst = append(*l.dst, v)
	}
	return nil
}

// parsePositive parses an integer of at least 1.
func parsePositive[T int | int64](s string) (T, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return 0, fmt.Errorf("%q is not a positive integer", s)
	}
	return T(n), nil
}

// parseName accepts any non-empty name; check validates it.
func parseName(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty name in list")
	}
	return s, nil
}

// durationOrAuto is a flag.Value for a duration that may be "auto" (-1).
type durationOrAuto struct{ d *time.Duration }

func (v durationOrAuto) String() string {
	if v.d == nil || *v.d < 0 {
		return "auto"
	}
	return v.d.String()
}

func (v durationOrAuto) Set(s string) error {
	if s == "auto" {
		*v.d = -1
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > time.Second {
		return fmt.Errorf("%q: want a duration from 0 to 1s, or auto", s)
	}
	*v.d = d
	return nil
}
