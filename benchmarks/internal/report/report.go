// Package report holds the results of a contend run and writes them as a
// terminal table, JSON, benchstat-compatible text and a self-contained
// HTML page with SVG charts.
package report

import (
	"encoding/json"
	"math"
	"time"

	"github.com/codomyrmex/concurrency/benchmarks/internal/harness"
)

// A Report is everything one contend run measured.
type Report struct {
	Started     time.Time     `json:"started"`
	Elapsed     time.Duration `json:"elapsed_ns"`
	Machine     Machine       `json:"machine"`
	Config      Config        `json:"config"`
	Redis       string        `json:"redis,omitempty"` // which server the Redis scenarios used
	Etcd        string        `json:"etcd,omitempty"`  // which server the etcd scenario used
	Warnings    []string      `json:"warnings,omitempty"`
	Interrupted bool          `json:"interrupted,omitempty"`
	Scenarios   []Scenario    `json:"scenarios"`
}

// Machine describes where the run happened.
type Machine struct {
	GOOS       string `json:"goos"`
	GOARCH     string `json:"goarch"`
	CPU        string `json:"cpu,omitempty"`
	CPUs       int    `json:"cpus"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
}

// Config is the part of the command line that shapes every scenario.
type Config struct {
	Duration time.Duration `json:"duration_ns"`
	Reps     int           `json:"reps"`
	Workers  []int         `json:"workers"`
	Procs    int           `json:"procs"`
	Writes   float64       `json:"writes"`
	Weights  []int64       `json:"weights"`
	SemSize  int64         `json:"sem_size"`
}

// A Scenario is the runs of one scenario and their summary.
type Scenario struct {
	Name     string        `json:"name"`
	About    string        `json:"about"`
	Section  time.Duration `json:"section_ns"`
	Baseline string        `json:"baseline,omitempty"`
	// Procs is the number of worker processes per run (1: in-process).
	Procs int    `json:"procs"`
	Impls []Impl `json:"impls"`
	Runs  []Run  `json:"runs"`
	// Summary is filled in by Summarize.
	Summary []Row `json:"summary"`
}

// Impl names one implementation of a scenario and how it is configured.
type Impl struct {
	Name string `json:"name"`
	Note string `json:"note,omitempty"`
}

// A Run is one repetition of one implementation at one worker count.
type Run struct {
	Workers int            `json:"workers"`
	Impl    string         `json:"impl"`
	Rep     int            `json:"rep"`
	Sample  harness.Sample `json:"sample"`
	// Commands counts the requests the server served during the run
	// (Redis commands, etcd gRPC messages); -1 when not counted.
	Commands int64  `json:"commands"`
	Error    string `json:"error,omitempty"`
}

// A Maybe is a number that may be unknown (NaN), written as null in JSON.
type Maybe float64

// Known reports whether m holds a number.
func (m Maybe) Known() bool { return !math.IsNaN(float64(m)) }

// MarshalJSON writes null for NaN.
func (m Maybe) MarshalJSON() ([]byte, error) {
	if !m.Known() {
		return []byte("null"), nil
	}
	return json.Marshal(float64(m))
}

// UnmarshalJSON reads null as NaN.
func (m *Maybe) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*m = Maybe(math.NaN())
		return nil
	}
	return json.Unmarshal(b, (*float64)(m))
}
