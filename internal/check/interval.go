package check

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
)

// An Interval is one hold of a lock: from Start, a [Now] reading taken after
// the acquire returned, to End, one taken before the release was called. A
// hold is the half-open interval [Start, End), so a hold that starts at the
// instant another ends does not overlap it.
type Interval struct {
	Owner  uint64 // who held it: any id unique to the holder (process, goroutine)
	Weight int64  // how much it held: 1 for a mutex or a reader, the capacity for a writer
	Token  int64  // the fencing token of the hold, or 0 if the lock gives none
	Start  int64
	End    int64
}

// An Overlap is two exclusive holds that were in force at the same time.
type Overlap struct{ First, Second Interval }

func (o Overlap) String() string {
	return fmt.Sprintf("owner %d held [%d, %d) while owner %d held [%d, %d) (%d ns overlap)",
		o.Second.Owner, o.Second.Start, o.Second.End, o.First.Owner, o.First.Start, o.First.End,
		min(o.First.End, o.Second.End)-o.Second.Start)
}

// Overlaps returns the pairs of holds in ivs that overlap, treating every
// hold as exclusive whatever its Weight. Each overlapping hold is reported
// once, paired with the earlier-starting hold that ends last. ivs is not
// modified. A nil result means mutual exclusion held.
func Overlaps(ivs []Interval) []Overlap {
	sorted := slices.SortedFunc(slices.Values(ivs), byStart)
	var out []Overlap
	var last Interval // among the holds seen so far, the one that ends last
	for i, iv := range sorted {
		if i > 0 && iv.Start < last.End {
			out = append(out, Overlap{First: last, Second: iv})
		}
		if i == 0 || iv.End > last.End {
			last = iv
		}
	}
	return out
}

// An Excess is an instant at which the holds in force together held more
// than the capacity.
type Excess struct {
	At     int64 // when the excess began (a Start of one of the holds)
	Weight int64 // the total weight held from At on
	Holds  int   // how many holds were in force from At on
}

func (e Excess) String() string {
	return fmt.Sprintf("%d holds with weight %d in force at %d", e.Holds, e.Weight, e.At)
}

// OverCapacity returns the instants at which the holds in ivs together held
// more weight than capacity, one Excess per hold that began while the total
// was or became too high. With capacity 1 and every weight 1 it reports the
// same violations as [Overlaps]; with readers of weight 1 and writers of
// weight capacity it checks reader/writer exclusion.
func OverCapacity(ivs []Interval, capacity int64) []Excess {
	type event struct {
		at     int64
		weight int64 // positive at a start, negative at an end
	}
	events := make([]event, 0, 2*len(ivs))
	for _, iv := range ivs {
		events = append(events, event{iv.Start, iv.Weight}, event{iv.End, -iv.Weight})
	}
	// Ends sort before starts at the same instant: holds are half-open.
	slices.SortFunc(events, func(a, b event) int {
		return cmp.Or(cmp.Compare(a.at, b.at), cmp.Compare(a.weight, b.weight))
	})
	var out []Excess
	var weight int64
	holds := 0
	for _, e := range events {
		weight += e.weight
		if e.weight < 0 {
			holds--
			continue
		}
		holds++
		if weight > capacity {
			out = append(out, Excess{At: e.at, Weight: weight, Holds: holds})
		}
	}
	return out
}

// A TokenRegression is a hold that started after another but carried a
// fencing token that was not higher.
type TokenRegression struct{ Earlier, Later Interval }

func (r TokenRegression) String() string {
	return fmt.Sprintf("hold at %d by owner %d got token %d, not above token %d of the hold at %d by owner %d",
		r.Later.Start, r.Later.Owner, r.Later.Token, r.Earlier.Token, r.Earlier.Start, r.Earlier.Owner)
}

// TokenRegressions checks that fencing tokens strictly increase in the order
// in which exclusive holds started, and returns each hold whose token is not
// above that of the hold started just before it. Holds with token 0 are
// ignored. Only meaningful when the holds do not overlap.
func TokenRegressions(ivs []Interval) []TokenRegression {
	sorted := slices.SortedFunc(slices.Values(ivs), byStart)
	var out []TokenRegression
	var prev Interval
	for _, iv := range sorted {
		if iv.Token == 0 {
			continue
		}
		if prev.Token != 0 && iv.Token <= prev.Token {
			out = append(out, TokenRegression{Earlier: prev, Later: iv})
		}
		prev = iv
	}
	return out
}

func byStart(a, b Interval) int {
	return cmp.Or(cmp.Compare(a.Start, b.Start), cmp.Compare(a.End, b.End))
}

// Holds collects intervals from many goroutines of one process.
// The zero value is ready to use.
type Holds struct {
	mu  sync.Mutex
	ivs []Interval
}

// Add records one hold.
func (h *Holds) Add(iv Interval) {
	h.mu.Lock()
	h.ivs = append(h.ivs, iv)
	h.mu.Unlock()
}

// Intervals returns a copy of the holds recorded so far.
func (h *Holds) Intervals() []Interval {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ivs)
}
