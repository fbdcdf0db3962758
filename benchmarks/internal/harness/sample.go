package harness

import (
	"time"

	"github.com/codomyrmex/concurrency/benchmarks/internal/stats"
)

// A Sample is what one run measured, in one process or merged across the
// processes of a run.
type Sample struct {
	// Ops counts acquisitions completed (released) inside the window.
	Ops int64 `json:"ops"`
	// Window is the measured time: the run's duration, or less when the run
	// was interrupted.
	Window time.Duration `json:"window_ns"`
	// Counts holds Ops per worker, in worker order.
	Counts []int64 `json:"counts"`
	// Waits holds every wait for the resource, including the waits still
	// unfinished when the window closed (a lower bound of those).
	Waits stats.Histogram `json:"waits"`
	// Mallocs counts heap allocations during the window (runtime.MemStats).
	Mallocs uint64 `json:"mallocs"`
	// CPU is the CPU time, user and system, that the process used during
	// the window (getrusage), all its threads together; negative where it
	// could not be measured.
	CPU time.Duration `json:"cpu_ns"`
	// Errors counts failed Locks that were not caused by the window closing.
	Errors int64 `json:"errors"`
	// FirstError is the first of those errors.
	FirstError string `json:"first_error,omitempty"`
	// Interrupted is true when the run was stopped before its end.
	Interrupted bool `json:"interrupted,omitempty"`
}

// Merge adds o, measured by other workers of the same run, to s.
func (s *Sample) Merge(o *Sample) {
	s.Ops += o.Ops
	s.Window = max(s.Window, o.Window)
	s.Counts = append(s.Counts, o.Counts...)
	s.Waits.Merge(&o.Waits)
	s.Mallocs += o.Mallocs
	if s.CPU < 0 || o.CPU < 0 {
		s.CPU = -1
	} else {
		s.CPU += o.CPU
	}
	s.Errors += o.Errors
	if s.FirstError == "" {
		s.FirstError = o.FirstError
	}
	s.Interrupted = s.Interrupted || o.Interrupted
}

// Throughput returns acquisitions per second.
func (s *Sample) Throughput() float64 {
	if s.Window <= 0 {
		return 0
	}
	return float64(s.Ops) / s.Window.Seconds()
}

// Jain returns Jain's fairness index over the workers' acquisitions.
func (s *Sample) Jain() float64 {
	xs := make([]float64, len(s.Counts))
	for i, c := range s.Counts {
		xs[i] = float64(c)
	}
	return stats.Jain(xs)
}

// AllocsPerOp returns heap allocations per acquisition.
func (s *Sample) AllocsPerOp() float64 {
	if s.Ops == 0 {
		return 0
	}
	return float64(s.Mallocs) / float64(s.Ops)
}
