package manager

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"sync"
)

// A Violation is a lock-order problem found by the checker of
// [WithOrderCheck]: a goroutine holding the lock Held requested the lock
// Requested, which does not sort after Held, so the two were not taken in
// canonical order.
type Violation struct {
	Held      string // a lock the goroutine held
	Requested string // the lock it requested; Requested <= Held
	// Inversion reports that Held has been taken while Requested was held
	// (by any goroutine): the two locks are taken in both orders.
	Inversion bool
}

func (v Violation) String() string {
	switch {
	case v.Held == v.Requested:
		return fmt.Sprintf("manager: %q requested again by a goroutine that holds it", v.Held)
	case v.Inversion:
		return fmt.Sprintf("manager: lock-order inversion: %q requested while holding %q, elsewhere taken in the opposite order", v.Requested, v.Held)
	}
	return fmt.Sprintf("manager: %q requested while holding %q, out of canonical order", v.Requested, v.Held)
}

// orderChecker tracks, per goroutine, the locks held through the Manager
// and every ordered pair of locks ever held together.
type orderChecker struct {
	report func(Violation)

	mu    sync.Mutex
	held  map[uint64][]*Held
	after map[[2]string]struct{} // {a, b}: b was taken while a was held
}

func newOrderChecker(report func(Violation)) *orderChecker {
	return &orderChecker{report: report, held: map[uint64][]*Held{}, after: map[[2]string]struct{}{}}
}

// acquiring checks h, about to be acquired by the calling goroutine,
// against what that goroutine holds, and reports violations.
func (c *orderChecker) acquiring(h *Held) {
	h.gid = goid()
	var found []Violation
	c.mu.Lock()
	for _, prev := range c.held[h.gid] {
		for _, p := range prev.items {
			for _, r := range h.items {
				c.after[[2]string{p.name, r.name}] = struct{}{}
				if r.name <= p.name {
					_, inv := c.after[[2]string{r.name, p.name}]
					found = append(found, Violation{Held: p.name, Requested: r.name, Inversion: inv && r.name != p.name})
				}
			}
		}
	}
	for i, a := range h.items {
		for _, b := range h.items[i+1:] {
			c.after[[2]string{a.name, b.name}] = struct{}{}
		}
	}
	c.mu.Unlock()
	for _, v := range found {
		c.report(v)
	}
}

// acquired records that h's goroutine now holds h.
func (c *orderChecker) acquired(h *Held) {
	c.mu.Lock()
	c.held[h.gid] = append(c.held[h.gid], h)
	c.mu.Unlock()
}

// released forgets h.
func (c *orderChecker) released(h *Held) {
	c.mu.Lock()
	defer c.mu.Unlock()
	hs := c.held[h.gid]
	for i, x := range hs {
		if x == h {
			hs = append(hs[:i], hs[i+1:]...)
			break
		}
	}
	if len(hs) == 0 {
		delete(c.held, h.gid)
	} else {
		c.held[h.gid] = hs
	}
}

// goid returns the calling goroutine's ID, parsed from its stack header
// ("goroutine 42 [running]:").
func goid() uint64 {
	var buf [64]byte
	b := buf[:runtime.Stack(buf[:], false)]
	b = bytes.TrimPrefix(b, []byte("goroutine "))
	if i := bytes.IndexByte(b, ' '); i >= 0 {
		b = b[:i]
	}
	id, _ := strconv.ParseUint(string(b), 10, 64)
	return id
}
