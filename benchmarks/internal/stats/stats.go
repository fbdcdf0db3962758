// Package stats summarises wait times and shares of work for the contention
// benchmarks.
package stats

import (
	"math"
	"slices"
	"time"
)

// Percentile returns the p'th percentile (0 <= p <= 100) of sorted by the
// nearest-rank method, or 0 for an empty slice.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	return sorted[min(max(rank, 1), len(sorted))-1]
}

// Jain returns Jain's fairness index of xs: (Σx)² / (n·Σx²). It is 1 when
// all shares are equal and 1/n when one party gets everything; 1 for no
// shares or all zero.
func Jain(xs []float64) float64 {
	var sum, sumSq float64
	for _, x := range xs {
		sum += x
		sumSq += x * x
	}
	if sumSq == 0 {
		return 1
	}
	return sum * sum / (float64(len(xs)) * sumSq)
}

// Waits collects wait durations.
type Waits []time.Duration

// Summary returns the p50, p99 and max of w, sorting w in place.
func (w Waits) Summary() (p50, p99, maxWait time.Duration) {
	slices.Sort(w)
	if len(w) == 0 {
		return 0, 0, 0
	}
	return Percentile(w, 50), Percentile(w, 99), w[len(w)-1]
}
