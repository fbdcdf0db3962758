package manager

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/codomyrmex/concurrency/internal/clock"
	"github.com/codomyrmex/concurrency/internal/ctxerr"
	"github.com/codomyrmex/concurrency/lock"
)

// A Mode says how a lock is taken.
type Mode uint8

const (
	// ModeWrite takes a lock exclusively.
	ModeWrite Mode = iota
	// ModeRead takes the read side of a lock, shared with other readers.
	// A lock without a read side is taken exclusively.
	ModeRead
)

// String returns "write", "read", or for a value that is neither "Mode(n)".
func (m Mode) String() string {
	switch m {
	case ModeWrite:
		return "write"
	case ModeRead:
		return "read"
	}
	return fmt.Sprintf("Mode(%d)", uint8(m))
}

// A Request names a lock and the mode to take it in.
type Request struct {
	Name string
	Mode Mode
}

// Write returns a request for the lock called name, exclusively.
func Write(name string) Request { return Request{Name: name, Mode: ModeWrite} }

// Read returns a request for the read side of the lock called name.
func Read(name string) Request { return Request{Name: name, Mode: ModeRead} }

var (
	// ErrNoLocks is returned for a call that names no lock. It wraps
	// lock.ErrInvalidArgument.
	ErrNoLocks = fmt.Errorf("manager: no lock names: %w", lock.ErrInvalidArgument)

	// ErrUnknownName is wrapped by the AcquireError for a name that is not
	// registered, in a Manager without WithOnDemand. It wraps
	// lock.ErrInvalidArgument.
	ErrUnknownName = fmt.Errorf("unknown lock name: %w", lock.ErrInvalidArgument)

	errEmptyName = fmt.Errorf("empty lock name: %w", lock.ErrInvalidArgument)
)

// An AcquireError reports the lock that an acquisition failed on.
type AcquireError struct {
	Name string // the lock's name
	Mode Mode   // the mode it was requested in
	Err  error  // why: the lock's error, the context's, or ErrUnknownName
}

func (e *AcquireError) Error() string {
	return fmt.Sprintf("manager: acquire %q (%s): %v", e.Name, e.Mode, e.Err)
}

func (e *AcquireError) Unwrap() error { return e.Err }

// AcquireAll takes the locks called names exclusively, all or nothing. It
// is Acquire with a Write request for each name.
func (m *Manager) AcquireAll(ctx context.Context, names ...string) (*Held, error) {
	h := newHeld(m, len(names))
	for i, name := range names {
		h.items[i] = item{name: name, mode: ModeWrite}
	}
	return m.acquire(ctx, h)
}

// Acquire takes the requested locks, all or nothing, in canonical order:
// sorted by name as byte strings, each name once (in write mode if it is
// requested in both modes). It blocks until all are held or one cannot be
// taken.
//
// On success it returns a Held through which to release them. On failure
// it holds nothing, having released what it took in reverse order, and
// returns:
//   - ErrNoLocks if reqs is empty, or an error wrapping
//     lock.ErrInvalidArgument for an empty name or a Mode other than
//     ModeWrite and ModeRead, before taking anything;
//   - an error wrapping the context's error (see package lock) if ctx is
//     done before the call;
//   - otherwise an *AcquireError naming the lock that failed, wrapping
//     ErrUnknownName (checked before anything is taken), the context's
//     error, or the lock's own error.
func (m *Manager) Acquire(ctx context.Context, reqs ...Request) (*Held, error) {
	h := newHeld(m, len(reqs))
	for i, r := range reqs {
		if r.Mode > ModeRead {
			return nil, fmt.Errorf("manager: acquire %q: invalid mode %v: %w", r.Name, r.Mode, lock.ErrInvalidArgument)
		}
		h.items[i] = item{name: r.Name, mode: r.Mode}
	}
	return m.acquire(ctx, h)
}

func (m *Manager) acquire(ctx context.Context, h *Held) (*Held, error) {
	if len(h.items) == 0 {
		return nil, ErrNoLocks
	}
	h.canonicalize()
	if h.items[0].name == "" {
		return nil, fmt.Errorf("manager: acquire: %w", errEmptyName)
	}
	if err := ctxerr.From(ctx); err != nil {
		return nil, fmt.Errorf("manager: acquire: %w", err)
	}
	if unknown := m.refAll(h.items); unknown != nil {
		return nil, &AcquireError{Name: unknown.name, Mode: unknown.mode, Err: ErrUnknownName}
	}
	taken := 0
	defer func() {
		if taken < len(h.items) { // failed or panicked: give back what we took
			h.releaseFrom(context.WithoutCancel(ctx), taken-1, m.clock(ctx, h))
			m.unref(h.items)
		}
	}()
	if m.order != nil {
		m.order.acquiring(h)
	}
	var t clock.Stamp
	if m.timed(ctx, h) {
		t = clock.Now()
	}
	for i := range h.items {
		it := &h.items[i]
		if err := m.lock1(ctx, it, &t); err != nil {
			return nil, &AcquireError{Name: it.name, Mode: it.mode, Err: err}
		}
		taken++
	}
	if m.order != nil {
		m.order.acquired(h)
	}
	return h, nil
}

// canonicalize sorts h's items by name and merges duplicates, write mode
// winning.
func (h *Held) canonicalize() {
	slices.SortFunc(h.items, func(a, b item) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.mode, b.mode))
	})
	h.items = slices.CompactFunc(h.items, func(a, b item) bool { return a.name == b.name })
}

// refAll takes a reference to the entry of every item and picks the side to
// take; on an unknown name it takes none and returns that item.
func (m *Manager) refAll(items []item) *item {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range items {
		it := &items[i]
		e := m.ref(it.name)
		if e == nil {
			for j := range items[:i] {
				items[j].e.refs-- // registered (unknown names mean no on-demand): never evicted
			}
			for j := range items {
				items[j].e = nil
			}
			return it
		}
		it.e = e
		it.s = &e.write
		if it.mode == ModeRead && e.read.l != nil {
			it.s = &e.read
		}
	}
	return nil
}

// timed reports whether acquiring or releasing h reads the clock.
func (m *Manager) timed(ctx context.Context, h *Held) bool {
	return m.stats || (m.in != nil && h.items[0].s.rec.HoldTimed(ctx))
}

// clock returns the time now if h's holds are timed.
func (m *Manager) clock(ctx context.Context, h *Held) clock.Stamp {
	if m.timed(ctx, h) {
		return clock.Now()
	}
	return 0
}

// lock1 takes one lock. t is the last time read, or zero if untimed; a lock
// taken without waiting is deemed taken then.
//
// A lock that can be tried is tried first; only if the try reports that it
// would have to wait is the acquisition contended. If the try fails
// otherwise, Lock is called as for a lock that cannot be tried, and decides.
func (m *Manager) lock1(ctx context.Context, it *item, t *clock.Stamp) error {
	s, st := it.s, &it.e.st
	contended := false
	if s.try != nil && ctx.Err() == nil {
		err := s.try(ctx)
		if err == nil {
			if m.stats {
				st.acquisitions.Add(1)
			}
			s.rec.Acquired(ctx, 1)
			it.since = *t
			return nil
		}
		contended = errors.Is(err, lock.ErrNotAcquired)
	}
	if err := ctxerr.From(ctx); err != nil {
		m.failed(st, err)
		s.rec.Failed(ctx, err)
		return err
	}
	end, err := m.wait(ctx, s, st, contended)
	if *t != 0 {
		*t = end
	}
	it.since = *t
	return err
}

// wait takes s when it could not be taken at once, timing and tracing the
// wait, and returns when it ended. contended says that a try found s busy.
func (m *Manager) wait(ctx context.Context, s *side, st *counters, contended bool) (end clock.Stamp, err error) {
	if !m.stats {
		_, end, err = s.rec.WaitFor(ctx, 1, contended, s.l.Lock)
		return end, err
	}
	st.waiters.Add(1)
	defer st.waiters.Add(-1) // also if Lock panics
	if contended {
		st.contended.Add(1)
	}
	start, end, err := s.rec.WaitFor(ctx, 1, contended, s.l.Lock)
	st.waited(start.Until(end))
	if err != nil {
		m.failed(st, err)
	} else {
		st.acquisitions.Add(1)
	}
	return end, err
}

func (m *Manager) failed(st *counters, err error) {
	if !m.stats {
		return
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		st.cancellations.Add(1)
	} else {
		st.failures.Add(1)
	}
}
