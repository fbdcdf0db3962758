package oteltest

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
)

// Metrics are the metrics of one instrumentation scope, by name.
type Metrics map[string]metricdata.Metrics

// Metrics collects what the SDK's meters have recorded so far and returns
// the metrics of the scope named scope. Metrics recorded in any other
// scope, or in scope under another version than version, fail tb
// (tb.Errorf) and are left out: each package records in its own scope.
// An empty version accepts any. A failed collection fails tb at once.
func (s *SDK) Metrics(tb testing.TB, scope, version string) Metrics {
	tb.Helper()
	var rm metricdata.ResourceMetrics
	if err := s.Reader.Collect(context.Background(), &rm); err != nil {
		tb.Fatalf("oteltest: collect: %v", err)
	}
	out := Metrics{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != scope || version != "" && sm.Scope.Version != version {
			tb.Errorf("oteltest: metrics in scope %q version %q, want only %q version %q",
				sm.Scope.Name, sm.Scope.Version, scope, version)
			continue
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// Sums adds up the data points of the int64 sum name (a counter or an
// up-down counter) by the values of the string attributes keys, joined
// with "/"; an absent attribute counts as "". With no keys, every point adds up
// under "". A metric that was not recorded gives an empty map; one that
// is not an int64 sum fails tb at once.
func (m Metrics) Sums(tb testing.TB, name string, keys ...attribute.Key) map[string]int64 {
	tb.Helper()
	out := map[string]int64{}
	md, ok := m[name]
	if !ok {
		return out
	}
	sum, ok := md.Data.(metricdata.Sum[int64])
	if !ok {
		tb.Fatalf("oteltest: metric %s is a %T, not an int64 sum", name, md.Data)
	}
	values := make([]string, len(keys))
	for _, dp := range sum.DataPoints {
		for i, k := range keys {
			v, _ := dp.Attributes.Value(k)
			values[i] = v.AsString()
		}
		out[strings.Join(values, "/")] += dp.Value
	}
	return out
}
