package report

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes r as tables a newcomer can read: a heading per
// scenario, one line per worker count and implementation, and a legend.
func (r *Report) WriteTable(w io.Writer) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "contend: %s/%s, %d CPUs, GOMAXPROCS=%d, %s", r.Machine.GOOS, r.Machine.GOARCH, r.Machine.CPUs, r.Machine.GOMAXPROCS, r.Machine.GoVersion)
	if r.Machine.CPU != "" {
		fmt.Fprintf(b, ", %s", r.Machine.CPU)
	}
	fmt.Fprintf(b, "\n%v per run × %d repetitions, implementations interleaved; took %v\n", r.Config.Duration, r.Config.Reps, r.Elapsed.Round(1e8))
	if r.Redis != "" {
		fmt.Fprintf(b, "Redis: %s\n", r.Redis)
	}
	if r.Etcd != "" {
		fmt.Fprintf(b, "etcd: %s\n", r.Etcd)
	}
	for _, warn := range r.Warnings {
		fmt.Fprintf(b, "warning: %s\n", warn)
	}
	if r.Interrupted {
		b.WriteString("INTERRUPTED: the results below are partial\n")
	}
	for i := range r.Scenarios {
		r.Scenarios[i].writeTable(b)
	}
	b.WriteString(legend)
	_, err := io.WriteString(w, b.String())
	return err
}

func (s *Scenario) writeTable(b *strings.Builder) {
	fmt.Fprintf(b, "\n== %s: %s; critical section %s", s.Name, s.About, Dur(s.Section))
	if s.Procs > 1 {
		fmt.Fprintf(b, "; workers spread over up to %d processes", s.Procs)
	}
	b.WriteString("\n")
	for _, im := range s.Impls {
		if im.Note != "" {
			fmt.Fprintf(b, "   %s: %s\n", im.Name, im.Note)
		}
	}
	if len(s.Summary) == 0 {
		b.WriteString("   (no runs)\n")
		return
	}
	cmds := false
	for _, row := range s.Summary {
		cmds = cmds || row.Cmds.Known()
	}
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	base := "vs baseline"
	if s.Baseline != "" {
		base = "vs " + s.Baseline
	}
	nameW := len("implementation")
	for _, row := range s.Summary {
		nameW = max(nameW, len(row.Impl))
	}
	fmt.Fprintf(tw, "workers\t  %-*s\tacq/s\t±\t%s\twait p50\tp99\tmax\tfairness\tallocs/acq\tcpu/acq\t", nameW, "implementation", base)
	if cmds {
		fmt.Fprint(tw, "cmds/acq\t")
	}
	fmt.Fprintln(tw)
	last := 0
	for _, row := range s.Summary {
		workers := ""
		if row.Workers != last {
			workers, last = fmt.Sprint(row.Workers), row.Workers
		}
		if row.Reps == 0 {
			fmt.Fprintf(tw, "%s\t  %-*s\t  FAILED: %s\n", workers, nameW, row.Impl, oneLine(row.Failure))
			continue
		}
		spread := "" // one repetition has no spread
		if row.Reps > 1 {
			spread = fmt.Sprintf("%.0f%%", 50*row.Spread)
		}
		fmt.Fprintf(tw, "%s\t  %-*s\t%s\t%s\t%s\t%s\t%s\t%s\t%.3f\t%s\t%s\t", workers, nameW, row.Impl, Rate(row.Throughput), spread,
			Ratio(row.Ratio), Dur(row.P50), Dur(row.P99), Dur(row.Max), row.Jain, Count(Maybe(row.Allocs)), CPU(row.CPU))
		if cmds {
			fmt.Fprintf(tw, "%s\t", Count(row.Cmds))
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	if v := s.Verdict(); v != "" {
		fmt.Fprintf(b, "   → %s\n", v)
	}
	for _, row := range s.Summary {
		if row.Errors > 0 {
			fmt.Fprintf(b, "   %s at %d workers: %d failed acquisitions, first: %s\n", row.Impl, row.Workers, row.Errors, oneLine(row.Failure))
		}
	}
}

// maxMessage is how much of an error message a table line shows.
const maxMessage = 160

// oneLine squeezes an error message onto one line of at most maxMessage
// characters, for the table; JSON keeps it whole.
func oneLine(msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	if r := []rune(msg); len(r) > maxMessage {
		msg = string(r[:maxMessage-1]) + "…"
	}
	return msg
}

// legend explains the columns.
const legend = `
acq/s       acquisitions per second, all workers together (higher is better); mean of the repetitions
±           half the spread between the slowest and fastest repetition, in % of acq/s (blank for one)
vs X        acq/s as a multiple of the baseline implementation X at the same worker count
wait        time from asking for the lock to holding it: median, 99th percentile, maximum
fairness    Jain's index over the workers' acquisitions: 1 = equal shares, 1/workers = one worker got all
allocs/acq  heap allocations per acquisition (whole process, runtime.MemStats)
cpu/acq     CPU time per acquisition of the processes that ran the workers (user + system, all threads, critical
            section included; getrusage); a server's own CPU is not in it
cmds/acq    server requests per acquisition, counted before and after each run: Redis commands (INFO commandstats),
            etcd gRPC messages received (/metrics: each request, each watch created, each keep-alive)
`
