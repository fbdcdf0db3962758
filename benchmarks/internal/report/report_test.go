package report

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/benchmarks/internal/harness"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// sample returns a one-second sample of ops acquisitions split over
// counts, every wait lasting wait, each acquisition taking 2.5µs of CPU.
func sample(ops int64, wait time.Duration, counts ...int64) harness.Sample {
	s := harness.Sample{Ops: ops, Window: time.Second, Counts: counts, Mallocs: uint64(ops) * 2, CPU: time.Duration(ops) * 2500}
	for range ops {
		s.Waits.Record(wait)
	}
	return s
}

// testReport has a scenario with two implementations at two worker counts,
// two repetitions each, and a failed run of a third implementation.
func testReport() *Report {
	r := &Report{
		Started: time.Date(2026, 11, 27, 7, 0, 0, 0, time.UTC), Elapsed: 3 * time.Second,
		Machine:  Machine{GOOS: "linux", GOARCH: "amd64", CPU: "Test CPU", CPUs: 2, GOMAXPROCS: 2, GoVersion: "go1.26"},
		Config:   Config{Duration: time.Second, Reps: 2, Workers: []int{1, 4}},
		Redis:    "miniredis",
		Warnings: []string{"network figures are not representative"},
		Scenarios: []Scenario{{
			Name: "mutex", About: "one mutex", Section: time.Microsecond, Baseline: "base", Procs: 1,
			Impls: []Impl{{Name: "ours"}, {Name: "base", Note: "the standard"}, {Name: "bad"}},
		}},
	}
	s := &r.Scenarios[0]
	for rep := range 2 {
		s.Runs = append(s.Runs,
			Run{Workers: 1, Impl: "ours", Rep: rep, Sample: sample(3000, 40*time.Nanosecond, 3000), Commands: -1},
			Run{Workers: 1, Impl: "base", Rep: rep, Sample: sample(1000+2000*int64(rep), 20*time.Nanosecond, 1000+2000*int64(rep)), Commands: -1},
			Run{Workers: 4, Impl: "base", Rep: rep, Sample: noCPU(rep, sample(1000, 5*time.Microsecond, 1000, 0, 0, 0)), Commands: 4000},
			Run{Workers: 4, Impl: "ours", Rep: rep, Sample: sample(4000, 7*time.Microsecond, 1000, 1000, 1000, 1000), Commands: 12000},
			Run{Workers: 4, Impl: "bad", Rep: rep, Error: "cannot\n  connect", Commands: -1},
		)
	}
	r.Summarize()
	return r
}

// noCPU returns s as measured without its CPU time in repetition 1.
func noCPU(rep int, s harness.Sample) harness.Sample {
	if rep == 1 {
		s.CPU = -1
	}
	return s
}

func TestSummarize(t *testing.T) {
	s := testReport().Scenarios[0]
	if len(s.Summary) != 5 {
		t.Fatalf("%d rows, want 5: %+v", len(s.Summary), s.Summary)
	}
	order := []string{"1 ours", "1 base", "4 ours", "4 base", "4 bad"}
	for i, row := range s.Summary {
		if got := strings.Join([]string{strconv.Itoa(row.Workers), row.Impl}, " "); got != order[i] {
			t.Fatalf("row %d is %s, want %s", i, got, order[i])
		}
	}
	ours1, base1, ours4, base4, bad := s.Summary[0], s.Summary[1], s.Summary[2], s.Summary[3], s.Summary[4]
	if base1.Throughput != 2000 || base1.Spread != 1 || base1.Ratio != 1 || base1.Reps != 2 {
		t.Errorf("base at 1: %+v", base1)
	}
	if ours1.Ratio != 1.5 || ours4.Ratio != 4 || ours1.Allocs != 2 {
		t.Errorf("ratios %v %v allocs %v", ours1.Ratio, ours4.Ratio, ours1.Allocs)
	}
	if base4.Jain != 0.25 || ours4.Jain != 1 {
		t.Errorf("Jain %v %v", base4.Jain, ours4.Jain)
	}
	if ours4.P50 != 7*time.Microsecond && math.Abs(float64(ours4.P50-7*time.Microsecond)) > float64(7*time.Microsecond)/16 {
		t.Errorf("p50 %v", ours4.P50)
	}
	if ours4.Max != 7*time.Microsecond || ours4.Waits.Count() != 8000 {
		t.Errorf("max %v count %d", ours4.Max, ours4.Waits.Count())
	}
	if ours1.CPU != 2500 || ours4.CPU != 2500 || base4.CPU.Known() || bad.CPU.Known() {
		t.Errorf("cpu %v %v %v %v (one repetition of base at 4 unmeasured)", ours1.CPU, ours4.CPU, base4.CPU, bad.CPU)
	}
	if ours4.Cmds != 3 || base4.Cmds != 4 || ours1.Cmds.Known() {
		t.Errorf("cmds %v %v %v", ours4.Cmds, base4.Cmds, ours1.Cmds)
	}
	if bad.Reps != 0 || bad.Failure != "cannot\n  connect" || bad.Ratio.Known() {
		t.Errorf("failed row %+v", bad)
	}
	if ws := s.WorkerCounts(); len(ws) != 2 || ws[0] != 1 || ws[1] != 4 {
		t.Errorf("worker counts %v", ws)
	}
	if names := s.ImplNames(); strings.Join(names, ",") != "ours,base,bad" {
		t.Errorf("impl names %v", names)
	}
}

func TestTable(t *testing.T) {
	var b bytes.Buffer
	if err := testReport().WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"== mutex: one mutex; critical section 1.00µs", "vs base", "ours", "1.50×", "4.00×",
		"4.00k", "FAILED: cannot connect", "cmds/acq", "cpu/acq", "2.50µs", "getrusage", "warning: network figures", "Redis: miniredis",
		"base: the standard", "0.250", "Jain's index",
		"→ at 4 workers: most acquisitions ours (4.00k/s), fairest ours (Jain 1.000), lowest max wait base (5.00µs)"} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
}

// TestTableOneRep: with one repetition there is no spread to print (it
// printed "0%").
func TestTableOneRep(t *testing.T) {
	r := testReport()
	s := &r.Scenarios[0]
	s.Runs = slices.DeleteFunc(s.Runs, func(run Run) bool { return run.Rep > 0 })
	r.Config.Reps = 1
	r.Summarize()
	var b bytes.Buffer
	if err := r.WriteTable(&b); err != nil {
		t.Fatal(err)
	}
	if out := b.String(); strings.Contains(out, "0%") || !strings.Contains(out, "1.00k") {
		t.Errorf("one repetition printed a spread (or no rate):\n%s", out)
	}
}

func TestBenchfmt(t *testing.T) {
	var b bytes.Buffer
	if err := testReport().WriteBenchfmt(&b); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	line := regexp.MustCompile(`^BenchmarkContend/scenario=\w+/workers=\d+/impl=\w+-2 \d+ [\d.]+ ns/op( [\d.]+ [\w/-]+)+$`)
	var bench int
	for _, l := range lines {
		switch {
		case strings.HasPrefix(l, "Benchmark"):
			bench++
			if !line.MatchString(l) {
				t.Errorf("bad line %q", l)
			}
		case l != "goos: linux" && l != "goarch: amd64" && l != "cpu: Test CPU" && !strings.HasPrefix(l, "pkg: "):
			t.Errorf("unexpected line %q", l)
		}
	}
	if bench != 8 {
		t.Errorf("%d benchmark lines, want 8 (failed runs left out)", bench)
	}
	want := "BenchmarkContend/scenario=mutex/workers=4/impl=ours-2 4000 250000.0 ns/op 4000 acq/s 7000 p50-wait-ns 7000 p99-wait-ns 7000 max-wait-ns 1.0000 jain 2.00 allocs/op 2500 cpu-ns/op 3.00 cmds/op"
	if !strings.Contains(b.String(), want+"\n") {
		t.Errorf("no line %q in\n%s", want, b.String())
	}
}

func TestJSONRoundTrip(t *testing.T) {
	r := testReport()
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	got, want := back.Scenarios[0].Summary, r.Scenarios[0].Summary
	if got[2].Ratio != want[2].Ratio || got[2].Cmds != want[2].Cmds || got[0].Cmds.Known() || got[2].Waits != want[2].Waits {
		t.Errorf("summary changed in JSON: %+v vs %+v", got[2], want[2])
	}
}

// element is a parsed XML element, enough to look for charts and cells.
type element struct {
	name     string
	attrs    map[string]string
	text     string
	children []*element
}

// parseHTML parses the page strictly as XML: the report must be well formed.
func parseHTML(t *testing.T, r io.Reader) *element {
	t.Helper()
	dec := xml.NewDecoder(r)
	root := &element{name: "#root"}
	stack := []*element{root}
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("report is not well-formed: %v", err)
		}
		top := stack[len(stack)-1]
		switch tok := tok.(type) {
		case xml.StartElement:
			e := &element{name: tok.Name.Local, attrs: map[string]string{}}
			for _, a := range tok.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			top.children = append(top.children, e)
			stack = append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			top.text += string(tok)
		}
	}
	return root
}

// all returns the elements named name under e, depth first.
func (e *element) all(name string) []*element {
	var out []*element
	for _, c := range e.children {
		if c.name == name {
			out = append(out, c)
		}
		out = append(out, c.all(name)...)
	}
	return out
}

// allText returns the text of e and its descendants.
func (e *element) allText() string {
	s := e.text
	for _, c := range e.children {
		s += " " + c.allText()
	}
	return s
}

func TestHTML(t *testing.T) {
	var b bytes.Buffer
	if err := testReport().WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b.Bytes(), []byte("http://")) && bytes.Count(b.Bytes(), []byte("http://")) != bytes.Count(b.Bytes(), []byte(`xmlns="http://www.w3.org/2000/svg"`)) {
		t.Error("the report refers to the network")
	}
	for _, banned := range []string{"<script", "<link", "src="} {
		if bytes.Contains(b.Bytes(), []byte(banned)) {
			t.Errorf("the report contains %q", banned)
		}
	}
	doc := parseHTML(t, &b)
	svgs := doc.all("svg")
	if len(svgs) != 2 {
		t.Fatalf("%d charts, want 2", len(svgs))
	}
	titles := []string{"mutex: throughput vs workers", "mutex: wait-time distribution, 4 workers"}
	for i, svg := range svgs {
		if !strings.Contains(svg.allText(), titles[i]) || svg.attrs["aria-label"] != titles[i] {
			t.Errorf("chart %d lacks title %q", i, titles[i])
		}
		lines := svg.all("polyline")
		impls := map[string]bool{}
		for _, l := range lines {
			impls[l.attrs["data-impl"]] = true
			pts := strings.Fields(l.attrs["points"])
			if len(pts) == 0 {
				t.Errorf("chart %d: empty series %s", i, l.attrs["data-impl"])
			}
			for _, p := range pts {
				var x, y float64
				if _, err := fmt.Sscanf(p, "%f,%f", &x, &y); err != nil || x < 0 || x > chartW || y < 0 || y > chartH {
					t.Errorf("chart %d: point %q outside the chart", i, p)
				}
			}
		}
		if !impls["ours"] || !impls["base"] || impls["bad"] {
			t.Errorf("chart %d series %v, want ours and base", i, impls)
		}
	}
	// The throughput chart has a marker per point: two impls × two counts.
	if n := len(svgs[0].all("circle")); n != 4 {
		t.Errorf("%d markers, want 4", n)
	}
	cells := map[string]bool{}
	spans := 0
	for _, td := range doc.all("td") {
		cells[strings.TrimSpace(td.allText())] = true
		if c, ok := td.attrs["colspan"]; ok {
			spans++
			// A failed row's message spans every column after the name.
			if want := strconv.Itoa(len(doc.all("th")) - 2); c != want {
				t.Errorf("a failed row spans %s columns, want %s", c, want)
			}
		}
	}
	if spans == 0 {
		t.Error("no failed row")
	}
	for _, want := range []string{"ours", "base", "4.00k", "1.50×", "4.00×", "7.00µs", "0.250", "3", "2.50µs", "-", "failed: cannot\n  connect"} {
		if !cells[want] {
			t.Errorf("no table cell %q", want)
		}
	}
	text := doc.allText()
	for _, want := range []string{"Test CPU", "miniredis", "network figures are not representative", "at 4 workers: most acquisitions ours"} {
		if !strings.Contains(text, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}

func TestOneLine(t *testing.T) {
	if got := oneLine("a\n  b\tc "); got != "a b c" {
		t.Errorf("oneLine = %q", got)
	}
	if got := oneLine(strings.Repeat("é", 200)); len([]rune(got)) != maxMessage || !strings.HasSuffix(got, "…") {
		t.Errorf("long message cut to %d runes", len([]rune(got)))
	}
}

func TestFormat(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Rate(0), "0"}, {Rate(12.34), "12.3"}, {Rate(1234), "1.23k"}, {Rate(2.5e6), "2.50M"}, {Rate(3e9), "3.00G"},
		{Dur(87), "87ns"}, {Dur(1234), "1.23µs"}, {Dur(45600 * time.Microsecond), "45.6ms"}, {Dur(1200 * time.Millisecond), "1.20s"},
		{Ratio(Maybe(math.NaN())), "-"}, {Ratio(0.5), "0.50×"},
		{Count(Maybe(math.NaN())), "-"}, {Count(3), "3"}, {Count(0.256), "0.26"}, {Count(33.33), "33.3"}, {Count(123.4), "123"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	if niceStep(0) != 1 || niceStep(3) != 5 || niceStep(0.7) != 1 || niceStep(1200) != 2000 {
		t.Error("niceStep")
	}
}
