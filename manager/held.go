package manager

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/codomyrmex/concurrency/internal/clock"
	"github.com/codomyrmex/concurrency/lock"
)

// A Held is a set of locks taken by one Acquire or AcquireAll, to be
// released once with [Held.Release].
type Held struct {
	m        *Manager
	items    []item // in acquisition order
	released atomic.Bool
	gid      uint64 // acquiring goroutine, for the order checker
	buf      [4]item
}

// An item is one lock of a Held.
type item struct {
	name  string
	mode  Mode
	e     *entry
	s     *side       // the side taken
	since clock.Stamp // when the hold began; zero if untimed
}

func newHeld(m *Manager, n int) *Held {
	h := &Held{m: m}
	if n <= len(h.buf) {
		h.items = h.buf[:n]
	} else {
		h.items = make([]item, n)
	}
	return h
}

var (
	errReleased = fmt.Errorf("manager: release: already released: %w", lock.ErrNotHeld)
	errNilHeld  = fmt.Errorf("manager: release: nil or zero Held: %w", lock.ErrNotHeld)
)

// Names returns the names of the locks held, in the order they were taken
// (also after Release), or nil for a nil or zero Held.
func (h *Held) Names() []string {
	if h == nil || len(h.items) == 0 {
		return nil
	}
	names := make([]string, len(h.items))
	for i := range h.items {
		names[i] = h.items[i].name
	}
	return names
}

// Release releases the locks in the reverse of the order they were taken.
// Locks with a Release(ctx) error method (see [Releaser]) are released
// with ctx, the others with Unlock. It releases every lock even if some
// fail, and returns their errors joined, each naming its lock; an error
// wrapping lock.ErrLockLost means that lock's critical section may not have
// been exclusive.
//
// Release is meant to be called once. Later calls release nothing and
// return an error wrapping lock.ErrNotHeld, and so do calls on a nil or
// zero Held. It is safe to call concurrently with itself.
func (h *Held) Release(ctx context.Context) error {
	if h == nil || h.m == nil {
		return errNilHeld
	}
	if !h.released.CompareAndSwap(false, true) {
		return errReleased
	}
	m := h.m
	defer m.unref(h.items)
	if m.order != nil {
		m.order.released(h)
	}
	return h.releaseFrom(ctx, len(h.items)-1, m.clock(ctx, h))
}

// releaseFrom releases items i, i-1, ..., 0. If one of them panics, the
// rest are still released and the panic goes on.
func (h *Held) releaseFrom(ctx context.Context, i int, t clock.Stamp) error {
	defer func() {
		if i >= 0 { // item i panicked
			h.releaseFrom(ctx, i-1, t)
		}
	}()
	var errs []error
	for ; i >= 0; i-- {
		if err := h.m.release1(ctx, &h.items[i], t); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) release1(ctx context.Context, it *item, t clock.Stamp) error {
	s, st := it.s, &it.e.st
	// The hold is accounted for first, so that a panicking Unlock cannot
	// leave it counted.
	held := it.since.Until(t)
	if m.stats {
		st.releases.Add(1)
		if held >= 0 {
			st.held(held)
		}
	}
	s.rec.Released(ctx, 1, held)
	lost := s.done != nil && leaseLost(ctx, s)
	err := s.release(ctx)
	lost = lost || errors.Is(err, lock.ErrLockLost)
	if lost {
		if m.stats {
			st.lost.Add(1)
		}
		reason := err
		if reason == nil {
			reason = lock.ErrLockLost
		}
		s.rec.Lost(ctx, reason)
	}
	if err != nil {
		return fmt.Errorf("manager: release %q: %w", it.name, err)
	}
	return nil
}

// leaseLost reports whether the lease held through s is lost: its Done is
// closed. If Done panics, s is released before the panic goes on.
func leaseLost(ctx context.Context, s *side) (lost bool) {
	returned := false
	defer func() {
		if !returned {
			s.release(ctx)
		}
	}()
	select {
	case <-s.done.Done():
		lost = true
	default:
	}
	returned = true
	return lost
}

// release releases the lock held through s, with Release if it has one.
func (s *side) release(ctx context.Context) error {
	if s.rel != nil {
		return s.rel.Release(ctx)
	}
	s.l.Unlock()
	return nil
}
