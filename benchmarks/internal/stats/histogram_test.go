package stats

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	prevHi := time.Duration(-1)
	for i := range numBuckets {
		lo, hi := bounds(i)
		if lo != prevHi+1 || hi < lo {
			t.Fatalf("bucket %d = [%d, %d], previous ended at %d", i, lo, hi, prevHi)
		}
		if bucketOf(uint64(lo)) != i || bucketOf(uint64(hi)) != i {
			t.Fatalf("bucket %d = [%d, %d] maps back to %d, %d", i, lo, hi, bucketOf(uint64(lo)), bucketOf(uint64(hi)))
		}
		if lo >= 16 && float64(hi-lo+1)/float64(lo) > 1.0/16+1e-12 {
			t.Fatalf("bucket %d = [%d, %d] wider than 1/16", i, lo, hi)
		}
		prevHi = hi
	}
	if _, hi := bounds(numBuckets - 1); uint64(hi) != 1<<63-1 {
		t.Fatalf("last bucket ends at %d", hi)
	}
}

func TestHistogramSmallValuesExact(t *testing.T) {
	var h Histogram
	for v := 10; v >= 1; v-- { // 1..10 in reverse
		h.Record(time.Duration(v))
	}
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{0, 1}, {10, 1}, {50, 5}, {51, 6}, {90, 9}, {99, 10}, {100, 10}} {
		if got := h.Quantile(c.p); got != c.want {
			t.Errorf("Quantile(%v) = %d, want %d", c.p, got, c.want)
		}
	}
	if h.Count() != 10 || h.Min() != 1 || h.Max() != 10 {
		t.Errorf("count %d min %d max %d", h.Count(), h.Min(), h.Max())
	}
}

// TestHistogramMatchesPercentile compares the histogram with the exact
// nearest-rank percentile on random data: never low, at most 1/16 high.
func TestHistogramMatchesPercentile(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var h Histogram
	var w Waits
	for range 10000 {
		d := time.Duration(r.ExpFloat64() * float64(50*time.Microsecond))
		h.Record(d)
		w = append(w, d)
	}
	slices.Sort(w)
	for _, p := range []float64{1, 25, 50, 90, 99, 99.9, 100} {
		exact, got := Percentile(w, p), h.Quantile(p)
		if got < exact || float64(got-exact) > float64(exact)/16+1 {
			t.Errorf("p%v: histogram %v, exact %v", p, got, exact)
		}
	}
	if h.Max() != w[len(w)-1] || h.Min() != w[0] {
		t.Errorf("min/max %v/%v, want %v/%v", h.Min(), h.Max(), w[0], w[len(w)-1])
	}
}

func TestHistogramMergeAndJSON(t *testing.T) {
	var a, b Histogram
	if a.Quantile(50) != 0 || a.Buckets() != nil {
		t.Fatal("empty histogram")
	}
	a.Record(-5) // counts as 0
	a.Record(time.Millisecond)
	b.Record(time.Microsecond)
	a.Merge(&b)
	a.Merge(new(Histogram))
	if a.Count() != 3 || a.Min() != 0 || a.Max() != time.Millisecond {
		t.Fatalf("merged: count %d min %v max %v", a.Count(), a.Min(), a.Max())
	}
	if bs := a.Buckets(); len(bs) != 3 || bs[1].Lo > time.Microsecond || bs[1].Hi < time.Microsecond {
		t.Fatalf("buckets %+v", bs)
	}
	data, err := json.Marshal(&a)
	if err != nil {
		t.Fatal(err)
	}
	var c Histogram
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	if c != a {
		t.Fatalf("round trip changed the histogram: %s", data)
	}
	for _, bad := range []string{`{"n":1,"buckets":[[5000,1]]}`, `{"n":2,"buckets":[[1,1]]}`, `{"n":1,"buckets":[[1,-1]]}`, `[`} {
		if err := json.Unmarshal([]byte(bad), &c); err == nil {
			t.Errorf("Unmarshal(%s) succeeded", bad)
		}
	}
}
