package check

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"
)

// A Grant is one lease of a lease-based lock (a Redis semaphore's share,
// a reader/writer lock's read or write lease) as its holder saw it: when
// it asked, when it got it, with which weight and fencing token, and until
// when it believed it held it, which is the earlier of the end of its hold
// (the release call) and the end of the lease's validity as the lease last
// reported it (see [ValidUntil]). A lease that the lock service may have
// ended without being asked (expiry, a stall longer than its TTL) counts
// only while it was still valid.
type Grant struct {
	Owner      uint64 // any id unique to the holder
	Weight     int64  // the weight held: 1 for a reader, the capacity for a writer
	Token      int64  // the fencing token of the grant, or 0 if none (or not a grant of its own)
	Called     int64  // a [Now] reading taken right before the acquire was called
	Granted    int64  // one taken right after it returned
	End        int64  // one taken right before the release was called (or the hold stopped)
	ValidUntil int64  // the last end of validity the lease reported; 0: no bound besides End
}

// Hold returns the grant's hold: from Granted to the earlier of End and
// ValidUntil (the empty interval at Granted if the validity had run out
// already).
func (g Grant) Hold() Interval {
	end := g.End
	if g.ValidUntil != 0 && g.ValidUntil < end {
		end = max(g.ValidUntil, g.Granted)
	}
	return Interval{Owner: g.Owner, Weight: g.Weight, Token: g.Token, Start: g.Granted, End: end}
}

// ValidUntil returns the [Now] time until which a lease whose remaining
// validity is reported by validity is certainly held, or 0 if it reports
// none left. The reading of the clock is taken before the validity is
// asked for, so the result errs early.
func ValidUntil(validity func() time.Duration) int64 {
	at := Now()
	d := validity()
	if d <= 0 {
		return 0
	}
	return at + int64(d)
}

// OverAdmitted returns the instants at which the grants in gs, each held
// until its [Grant.Hold] ends, together held more than size: the weighted
// semaphore's safety property for leases, which a stall or a pause may
// end without a release (then only the part while the lease was valid
// counts). A reader/writer lock is checked with readers of weight 1 and
// writers of weight size, with size above the number of readers.
func OverAdmitted(gs []Grant, size int64) []Excess {
	holds := make([]Interval, 0, len(gs))
	for _, g := range gs {
		if h := g.Hold(); h.End > h.Start {
			holds = append(holds, h)
		}
	}
	return OverCapacity(holds, size)
}

// A FenceDisorder is a pair of grants whose fencing tokens break the
// order of the grants: the same token twice, or a grant that returned
// before another was called with a token not below the other's.
type FenceDisorder struct{ Earlier, Later Grant }

func (d FenceDisorder) String() string {
	if d.Earlier.Token == d.Later.Token {
		return fmt.Sprintf("token %d granted twice: to owner %d at %d and to owner %d at %d",
			d.Later.Token, d.Earlier.Owner, d.Earlier.Granted, d.Later.Owner, d.Later.Granted)
	}
	return fmt.Sprintf("owner %d asked at %d, after owner %d got token %d at %d, and got token %d, not above it",
		d.Later.Owner, d.Later.Called, d.Earlier.Owner, d.Earlier.Token, d.Earlier.Granted, d.Later.Token)
}

// FenceDisorders checks that fencing tokens are issued one per grant and
// increase in real time: no token is granted twice, and a grant whose
// acquire was called after another grant's acquire returned has a higher
// token (grants whose calls overlap may be ordered either way). Grants
// with token 0 are ignored. Unlike [TokenRegressions], it holds for
// grants that are held at the same time, as a semaphore's are. It returns
// one FenceDisorder per offending grant; nil means the tokens are in
// order.
func FenceDisorders(gs []Grant) []FenceDisorder {
	var fenced []Grant
	for _, g := range gs {
		if g.Token != 0 {
			fenced = append(fenced, g)
		}
	}
	var out []FenceDisorder
	seen := make(map[int64]Grant, len(fenced))
	byCall := slices.SortedFunc(slices.Values(fenced), func(a, b Grant) int {
		return cmp.Or(cmp.Compare(a.Called, b.Called), cmp.Compare(a.Granted, b.Granted))
	})
	byGrant := slices.SortedFunc(slices.Values(fenced), func(a, b Grant) int { return cmp.Compare(a.Granted, b.Granted) })
	var top Grant // among the grants returned before the current call, the one with the highest token
	i := 0
	for _, g := range byCall {
		if first, dup := seen[g.Token]; dup {
			out = append(out, FenceDisorder{Earlier: first, Later: g})
			continue
		}
		seen[g.Token] = g
		for ; i < len(byGrant) && byGrant[i].Granted < g.Called; i++ {
			if byGrant[i].Token > top.Token {
				top = byGrant[i]
			}
		}
		if top.Token != 0 && g.Token <= top.Token {
			out = append(out, FenceDisorder{Earlier: top, Later: g})
		}
	}
	return out
}

// Grants collects grants from many goroutines of one process. The zero
// value is ready to use.
type Grants struct {
	mu sync.Mutex
	gs []Grant
}

// Add records one grant.
func (g *Grants) Add(gr Grant) {
	g.mu.Lock()
	g.gs = append(g.gs, gr)
	g.mu.Unlock()
}

// All returns a copy of the grants recorded so far.
func (g *Grants) All() []Grant {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.gs)
}
