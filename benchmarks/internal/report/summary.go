package report

import (
	"math"
	"slices"
	"time"

	"github.com/codomyrmex/concurrency/benchmarks/internal/stats"
)

// A Row summarises the repetitions of one implementation at one worker
// count.
type Row struct {
	Workers int    `json:"workers"`
	Impl    string `json:"impl"`
	Reps    int    `json:"reps"`
	// Throughput is acquisitions per second, the mean over repetitions.
	Throughput float64 `json:"throughput"`
	// Spread is (max−min)/mean of the repetitions' throughputs.
	Spread float64 `json:"spread"`
	// Ratio is Throughput over the baseline's at the same worker count;
	// unknown without a baseline.
	Ratio  Maybe         `json:"ratio"`
	P50    time.Duration `json:"wait_p50_ns"`
	P99    time.Duration `json:"wait_p99_ns"`
	Max    time.Duration `json:"wait_max_ns"`
	Jain   float64       `json:"jain"`
	Allocs float64       `json:"allocs_per_op"`
	// CPU is the CPU time of the processes that ran the workers (user and
	// system, all threads, the critical sections included) per
	// acquisition, in nanoseconds; unknown when not measured.
	CPU Maybe `json:"cpu_ns_per_op"`
	// Cmds is server requests (Redis commands, etcd gRPC messages) per
	// acquisition; unknown when not counted.
	Cmds    Maybe           `json:"cmds_per_op"`
	Errors  int64           `json:"errors,omitempty"`
	Waits   stats.Histogram `json:"waits"`
	Failure string          `json:"failure,omitempty"` // first error, if any
}

// Summarize fills in every scenario's Summary: one Row per worker count and
// implementation, in the order they were first run.
func (r *Report) Summarize() {
	for i := range r.Scenarios {
		r.Scenarios[i].summarize()
	}
}

func (s *Scenario) summarize() {
	s.Summary = nil
	type key struct {
		workers int
		impl    string
	}
	index := map[key]int{}
	var thr [][]float64
	var jains [][]float64
	var cmds []int64
	var ops, mallocs, cpu []float64
	for _, run := range s.Runs {
		k := key{run.Workers, run.Impl}
		i, ok := index[k]
		if !ok {
			i = len(s.Summary)
			index[k] = i
			s.Summary = append(s.Summary, Row{Workers: run.Workers, Impl: run.Impl})
			thr, jains = append(thr, nil), append(jains, nil)
			cmds, ops, mallocs, cpu = append(cmds, 0), append(ops, 0), append(mallocs, 0), append(cpu, 0)
		}
		row := &s.Summary[i]
		if run.Error != "" {
			row.Failure = run.Error
			continue
		}
		sm := run.Sample
		row.Reps++
		thr[i] = append(thr[i], sm.Throughput())
		jains[i] = append(jains[i], sm.Jain())
		row.Waits.Merge(&sm.Waits)
		row.Errors += sm.Errors
		if row.Failure == "" {
			row.Failure = sm.FirstError
		}
		ops[i] += float64(sm.Ops)
		mallocs[i] += float64(sm.Mallocs)
		if sm.CPU < 0 || cpu[i] < 0 {
			cpu[i] = -1
		} else {
			cpu[i] += float64(sm.CPU)
		}
		if run.Commands < 0 || cmds[i] < 0 {
			cmds[i] = -1
		} else {
			cmds[i] += run.Commands
		}
	}
	for i := range s.Summary {
		row := &s.Summary[i]
		row.Throughput = mean(thr[i])
		if len(thr[i]) > 0 && row.Throughput > 0 {
			row.Spread = (slices.Max(thr[i]) - slices.Min(thr[i])) / row.Throughput
		}
		row.Jain = mean(jains[i])
		row.P50, row.P99, row.Max = row.Waits.Quantile(50), row.Waits.Quantile(99), row.Waits.Max()
		row.Allocs, row.Cmds, row.CPU = ratio(mallocs[i], ops[i]), Maybe(math.NaN()), Maybe(math.NaN())
		if cpu[i] >= 0 && row.Reps > 0 {
			row.CPU = Maybe(ratio(cpu[i], ops[i]))
		}
		if cmds[i] >= 0 && row.Reps > 0 && s.countsCommands() {
			row.Cmds = Maybe(ratio(float64(cmds[i]), ops[i]))
		}
	}
	for i := range s.Summary {
		row := &s.Summary[i]
		row.Ratio = Maybe(math.NaN())
		if b, ok := index[key{row.Workers, s.Baseline}]; ok && row.Reps > 0 && s.Summary[b].Throughput > 0 {
			row.Ratio = Maybe(row.Throughput / s.Summary[b].Throughput)
		}
	}
	order := func(impl string) int {
		return slices.IndexFunc(s.Impls, func(im Impl) bool { return im.Name == impl })
	}
	slices.SortStableFunc(s.Summary, func(a, b Row) int {
		if a.Workers != b.Workers {
			return a.Workers - b.Workers
		}
		return order(a.Impl) - order(b.Impl)
	})
}

// countsCommands reports whether any run of s counted server requests.
func (s *Scenario) countsCommands() bool {
	for _, r := range s.Runs {
		if r.Commands >= 0 {
			return true
		}
	}
	return false
}

// WorkerCounts returns the distinct worker counts of s's summary, sorted.
func (s *Scenario) WorkerCounts() []int {
	var ws []int
	for _, r := range s.Summary {
		if !slices.Contains(ws, r.Workers) {
			ws = append(ws, r.Workers)
		}
	}
	slices.Sort(ws)
	return ws
}

// ImplNames returns the implementations that have summary rows, in the
// scenario's order.
func (s *Scenario) ImplNames() []string {
	var names []string
	for _, im := range s.Impls {
		if slices.ContainsFunc(s.Summary, func(r Row) bool { return r.Impl == im.Name }) {
			names = append(names, im.Name)
		}
	}
	return names
}

// Row returns the summary row of impl at workers, if any.
func (s *Scenario) Row(workers int, impl string) (Row, bool) {
	for _, r := range s.Summary {
		if r.Workers == workers && r.Impl == impl {
			return r, true
		}
	}
	return Row{}, false
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}
