package report

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Chart geometry, in SVG user units.
const (
	chartW, chartH         = 640, 320
	padL, padR, padT, padB = 70, 170, 30, 45
)

// palette colours the series of a chart; it repeats after eight.
var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"}

// A chart is an SVG line chart ready for the template.
type chart struct {
	Title          string
	XLabel, YLabel string
	W, H           int
	Left, Right    float64 // plot area, x
	Top, Bottom    float64 // plot area, y
	XTicks, YTicks []tick
	Series         []series
}

type tick struct {
	Pos   float64
	Label string
}

type series struct {
	Name    string
	Color   string
	Points  string  // polyline points
	Dots    []point // markers, for charts with few points
	LegendY float64
}

type point struct{ X, Y float64 }

// newChart returns an empty chart with its plot area laid out.
func newChart(title, xLabel, yLabel string) *chart {
	return &chart{Title: title, XLabel: xLabel, YLabel: yLabel, W: chartW, H: chartH,
		Left: padL, Right: chartW - padR, Top: padT, Bottom: chartH - padB}
}

// scale maps [lo, hi] onto [a, b] linearly; a degenerate range maps to the
// middle.
func scale(v, lo, hi, a, b float64) float64 {
	if hi <= lo {
		return (a + b) / 2
	}
	return a + (v-lo)/(hi-lo)*(b-a)
}

// add appends a series through pts (data coordinates already mapped).
func (c *chart) add(name string, pts []point, dots bool) {
	var sb strings.Builder
	for i, p := range pts {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%.1f,%.1f", p.X, p.Y)
	}
	s := series{Name: name, Color: palette[len(c.Series)%len(palette)], Points: sb.String(),
		LegendY: c.Top + 10 + 18*float64(len(c.Series))}
	if dots {
		s.Dots = pts
	}
	c.Series = append(c.Series, s)
}

// throughputChart plots acquisitions per second against workers (log
// scale), one line per implementation.
func throughputChart(s *Scenario) *chart {
	c := newChart(s.Name+": throughput vs workers", "workers", "acquisitions/s")
	ws := s.WorkerCounts()
	lo, hi := math.Log2(float64(ws[0])), math.Log2(float64(ws[len(ws)-1]))
	x := func(w int) float64 { return scale(math.Log2(float64(w)), lo, hi, c.Left, c.Right) }
	top := 0.0
	for _, r := range s.Summary {
		top = max(top, r.Throughput)
	}
	step := niceStep(top / 4)
	top = max(math.Ceil(top/step)*step, step)
	y := func(v float64) float64 { return scale(v, 0, top, c.Bottom, c.Top) }
	for _, w := range ws {
		c.XTicks = append(c.XTicks, tick{x(w), fmt.Sprint(w)})
	}
	for v := 0.0; v <= top*1.0001; v += step {
		c.YTicks = append(c.YTicks, tick{y(v), Rate(v)})
	}
	for _, name := range s.ImplNames() {
		var pts []point
		for _, w := range ws {
			if r, ok := s.Row(w, name); ok && r.Reps > 0 {
				pts = append(pts, point{x(w), y(r.Throughput)})
			}
		}
		if len(pts) > 0 {
			c.add(name, pts, true)
		}
	}
	return c
}

// waitChart plots, at the largest worker count, the fraction of waits
// longer than x against x, both on log scales, one line per
// implementation: the tail, where unfairness shows, gets the room.
func waitChart(s *Scenario) *chart {
	ws := s.WorkerCounts()
	workers := ws[len(ws)-1]
	c := newChart(fmt.Sprintf("%s: wait-time distribution, %d workers", s.Name, workers), "wait x (log scale)", "fraction of waits > x")
	lo, hi, most := math.Inf(1), 0.0, int64(1)
	for _, name := range s.ImplNames() {
		if r, ok := s.Row(workers, name); ok && r.Waits.Count() > 0 {
			lo = min(lo, float64(max(r.Waits.Min(), 1)))
			hi = max(hi, float64(max(r.Waits.Max(), 1)))
			most = max(most, r.Waits.Count())
		}
	}
	if hi == 0 {
		return c
	}
	lo, hi = decadeBelow(lo), decadeAbove(hi)
	floor := decadeBelow(1 / float64(most))
	x := func(v float64) float64 {
		return scale(math.Log10(max(v, lo)), math.Log10(lo), math.Log10(hi), c.Left, c.Right)
	}
	y := func(f float64) float64 { return scale(math.Log10(f), math.Log10(floor), 0, c.Bottom, c.Top) }
	for v := lo; v <= hi*1.0001; v *= 10 {
		c.XTicks = append(c.XTicks, tick{x(v), decadeLabel(time.Duration(v))})
	}
	for k := 0; math.Pow10(-k) >= floor*0.9999; k++ {
		f := math.Pow10(-k) // exact decades: repeated division drifts (1.0000000000000002e-06)
		c.YTicks = append(c.YTicks, tick{y(f), strconv.FormatFloat(f, 'g', 3, 64)})
	}
	for _, name := range s.ImplNames() {
		r, ok := s.Row(workers, name)
		if !ok || r.Waits.Count() == 0 {
			continue
		}
		n := float64(r.Waits.Count())
		pts := []point{{x(float64(r.Waits.Min())), y(1)}}
		var seen int64
		for _, b := range r.Waits.Buckets() {
			seen += b.Count
			if seen == r.Waits.Count() {
				break
			}
			pts = append(pts, point{x(float64(b.Hi)), y((n - float64(seen)) / n)})
		}
		pts = append(pts, point{x(float64(r.Waits.Max())), y(1 / n)})
		c.add(name, pts, false)
	}
	return c
}

// decadeBelow and decadeAbove round x (> 0) down and up to a power of ten.
func decadeBelow(x float64) float64 { return math.Pow(10, math.Floor(math.Log10(x)+1e-9)) }
func decadeAbove(x float64) float64 { return math.Pow(10, math.Ceil(math.Log10(x)-1e-9)) }

// decadeLabel names a power-of-ten duration briefly: 10ns, 1µs, 100ms, 1s.
func decadeLabel(d time.Duration) string {
	for _, u := range []struct {
		d    time.Duration
		name string
	}{{time.Second, "s"}, {time.Millisecond, "ms"}, {time.Microsecond, "µs"}} {
		if d >= u.d {
			return strconv.FormatInt(int64(d/u.d), 10) + u.name
		}
	}
	return strconv.FormatInt(int64(d), 10) + "ns"
}

// niceStep rounds x up to 1, 2 or 5 times a power of ten.
func niceStep(x float64) float64 {
	if x <= 0 {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= x {
			return m * p
		}
	}
	return 10 * p
}
