package stats

import (
	"math"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPercentile(t *testing.T) {
	var w Waits
	for i := 1; i <= 100; i++ {
		w = append(w, time.Duration(101-i)) // reversed 100..1
	}
	p50, p99, mx := w.Summary()
	if p50 != 50 || p99 != 99 || mx != 100 {
		t.Fatalf("p50 %d p99 %d max %d, want 50 99 100", p50, p99, mx)
	}
	if Percentile(nil, 50) != 0 || Percentile([]time.Duration{7}, 0) != 7 {
		t.Fatal("edge cases")
	}
}

func TestJain(t *testing.T) {
	for _, c := range []struct {
		xs   []float64
		want float64
	}{
		{[]float64{5, 5, 5, 5}, 1},
		{[]float64{1, 0, 0, 0}, 0.25},
		{[]float64{1, 2, 3}, 36.0 / 42},
		{nil, 1},
	} {
		if got := Jain(c.xs); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("Jain(%v) = %v, want %v", c.xs, got, c.want)
		}
	}
}
