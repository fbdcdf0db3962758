package report

import (
	"fmt"
	"io"
	"strings"
)

// WriteBenchfmt writes one line per run in the Go benchmark format, so
// that benchstat can compare runs across commits:
//
//	BenchmarkContend/scenario=mutex/workers=8/impl=lock.Mutex-2 1234567 405.1 ns/op 2468000 acq/s ...
//
// The iteration count is the number of acquisitions and ns/op the window
// divided by it (wall time per acquisition, all workers together). Runs
// that failed are left out.
func (r *Report) WriteBenchfmt(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "goos: %s\ngoarch: %s\npkg: github.com/codomyrmex/concurrency/benchmarks/cmd/contend\n", r.Machine.GOOS, r.Machine.GOARCH)
	if r.Machine.CPU != "" {
		fmt.Fprintf(b, "cpu: %s\n", r.Machine.CPU)
	}
	for _, s := range r.Scenarios {
		for _, run := range s.Runs {
			sm := run.Sample
			if run.Error != "" || sm.Ops == 0 {
				continue
			}
			fmt.Fprintf(b, "BenchmarkContend/scenario=%s/workers=%d/impl=%s-%d %d %.1f ns/op %.0f acq/s %d p50-wait-ns %d p99-wait-ns %d max-wait-ns %.4f jain %.2f allocs/op",
				s.Name, run.Workers, benchName(run.Impl), r.Machine.GOMAXPROCS, sm.Ops,
				float64(sm.Window.Nanoseconds())/float64(sm.Ops), sm.Throughput(),
				sm.Waits.Quantile(50).Nanoseconds(), sm.Waits.Quantile(99).Nanoseconds(), sm.Waits.Max().Nanoseconds(),
				sm.Jain(), sm.AllocsPerOp())
			if sm.CPU >= 0 {
				fmt.Fprintf(b, " %.0f cpu-ns/op", float64(sm.CPU.Nanoseconds())/float64(sm.Ops))
			}
			if run.Commands >= 0 {
				fmt.Fprintf(b, " %.2f cmds/op", float64(run.Commands)/float64(sm.Ops))
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// benchName makes an implementation name safe inside a benchmark name:
// no spaces, no slashes.
func benchName(s string) string {
	return strings.NewReplacer(" ", "_", "/", "-").Replace(s)
}
