package stats

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// subBits is the number of bits of each value kept below its leading one:
// every bucket spans at most 1/16 (6.25 %) of its lower bound.
const subBits = 4

// numBuckets covers every non-negative int64: 16 exact buckets for 0..15,
// then 16 sub-buckets per power of two from 2^4 to 2^62.
const numBuckets = (63 - subBits + 1) << subBits

// A Histogram counts durations in log-linear buckets. Record allocates
// nothing, so it can sit inside a measured loop. The zero value is empty
// and ready to use; a Histogram is not safe for concurrent use.
type Histogram struct {
	counts   [numBuckets]int64
	n        int64
	min, max time.Duration
}

// bucketOf returns the index of the bucket holding v (v >= 0).
func bucketOf(v uint64) int {
	if v < 1<<subBits {
		return int(v)
	}
	e := bits.Len64(v) - 1 // position of the leading one, >= subBits
	sub := (v >> (e - subBits)) & (1<<subBits - 1)
	return (e-subBits+1)<<subBits + int(sub)
}

// bounds returns the smallest and largest value of bucket i.
func bounds(i int) (lo, hi time.Duration) {
	if i < 1<<subBits {
		return time.Duration(i), time.Duration(i)
	}
	e := i>>subBits + subBits - 1
	sub := uint64(i & (1<<subBits - 1))
	width := uint64(1) << (e - subBits)
	l := (1<<subBits + sub) << (e - subBits)
	return time.Duration(l), time.Duration(l + width - 1)
}

// Record adds d; negative durations count as 0.
func (h *Histogram) Record(d time.Duration) {
	d = max(d, 0)
	h.counts[bucketOf(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	h.max = max(h.max, d)
	h.n++
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.max = max(h.max, o.max)
	h.n += o.n
}

// Count returns how many values were recorded.
func (h *Histogram) Count() int64 { return h.n }

// Max returns the largest value recorded, exactly.
func (h *Histogram) Max() time.Duration { return h.max }

// Min returns the smallest value recorded, exactly.
func (h *Histogram) Min() time.Duration { return h.min }

// Quantile returns the p'th percentile (0 <= p <= 100) by the nearest-rank
// method, as the upper bound of the bucket holding it clamped to the
// recorded range: exact below 16 ns, otherwise at most 6.25 % high. It
// returns 0 for an empty histogram.
func (h *Histogram) Quantile(p float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := max(int64(math.Ceil(p/100*float64(h.n))), 1)
	var seen int64
	for i, c := range h.counts {
		seen += c
		if seen >= rank {
			_, hi := bounds(i)
			return min(max(hi, h.min), h.max)
		}
	}
	return h.max
}

// A Bucket is one non-empty bucket: Count values in [Lo, Hi].
type Bucket struct {
	Lo    time.Duration `json:"lo_ns"`
	Hi    time.Duration `json:"hi_ns"`
	Count int64         `json:"count"`
}

// Buckets returns the non-empty buckets in increasing order.
func (h *Histogram) Buckets() []Bucket {
	var bs []Bucket
	for i, c := range h.counts {
		if c != 0 {
			lo, hi := bounds(i)
			bs = append(bs, Bucket{lo, hi, c})
		}
	}
	return bs
}

// histogramJSON is the sparse form a Histogram travels in.
type histogramJSON struct {
	N       int64      `json:"n"`
	Min     int64      `json:"min_ns"`
	Max     int64      `json:"max_ns"`
	Buckets [][2]int64 `json:"buckets"` // [index, count]
}

// MarshalJSON writes the non-empty buckets only.
func (h *Histogram) MarshalJSON() ([]byte, error) {
	j := histogramJSON{N: h.n, Min: int64(h.min), Max: int64(h.max), Buckets: [][2]int64{}}
	for i, c := range h.counts {
		if c != 0 {
			j.Buckets = append(j.Buckets, [2]int64{int64(i), c})
		}
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON wrote.
func (h *Histogram) UnmarshalJSON(b []byte) error {
	var j histogramJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*h = Histogram{n: j.N, min: time.Duration(j.Min), max: time.Duration(j.Max)}
	var sum int64
	for _, b := range j.Buckets {
		if b[0] < 0 || b[0] >= numBuckets || b[1] < 0 {
			return fmt.Errorf("stats: bad histogram bucket %v", b)
		}
		h.counts[b[0]] += b[1]
		sum += b[1]
	}
	if sum != j.N {
		return fmt.Errorf("stats: histogram buckets hold %d values, header says %d", sum, j.N)
	}
	return nil
}
