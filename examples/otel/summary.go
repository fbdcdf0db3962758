package main

import (
	"context"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"
	"time"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// spanCounter is a span exporter that only counts spans by name, for the
// summary printed when no OTLP endpoint is configured.
type spanCounter struct {
	mu     sync.Mutex
	byName map[string]int
}

func (c *spanCounter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.byName == nil {
		c.byName = map[string]int{}
	}
	for _, s := range spans {
		c.byName[s.Name()]++
	}
	return nil
}

func (c *spanCounter) Shutdown(context.Context) error { return nil }

// summarize writes a few lines: spans by name and, for each instrument the
// reader has seen, its total.
func summarize(ctx context.Context, w io.Writer, spans *spanCounter, reader *sdkmetric.ManualReader) error {
	var rm metricdata.ResourceMetrics
	if err := reader.Collect(ctx, &rm); err != nil {
		return err
	}
	spans.mu.Lock()
	fmt.Fprintln(w, "spans (one per acquisition that had to wait):")
	for _, name := range slices.Sorted(maps.Keys(spans.byName)) {
		fmt.Fprintf(w, "  %-28s %d\n", name, spans.byName[name])
	}
	spans.mu.Unlock()
	for _, sm := range rm.ScopeMetrics {
		fmt.Fprintf(w, "metrics of %s:\n", sm.Scope.Name)
		for _, m := range sm.Metrics {
			fmt.Fprintf(w, "  %-28s %s\n", m.Name, total(m.Data, m.Unit))
		}
	}
	return nil
}

// total describes an instrument's data points in one line.
func total(data metricdata.Aggregation, unit string) string {
	switch d := data.(type) {
	case metricdata.Histogram[float64]:
		var n uint64
		var sum float64
		for _, p := range d.DataPoints {
			n, sum = n+p.Count, sum+p.Sum
		}
		if n == 0 {
			return "no records"
		}
		mean := fmt.Sprintf("%.3g", sum/float64(n))
		if unit == "s" {
			mean = time.Duration(sum / float64(n) * float64(time.Second)).Round(time.Microsecond).String()
		}
		return fmt.Sprintf("%d records over %d series, mean %s", n, len(d.DataPoints), mean)
	case metricdata.Sum[int64]:
		var sum int64
		for _, p := range d.DataPoints {
			sum += p.Value
		}
		return fmt.Sprintf("%d over %d series", sum, len(d.DataPoints))
	}
	return fmt.Sprintf("%T", data)
}
