package manager

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/rw"
	"go.opentelemetry.io/otel"
)

// A Releaser is a lock whose release can fail, such as a remote lease. The
// Manager calls Release instead of Unlock and reports its error from
// [Held.Release].
type Releaser interface {
	Release(ctx context.Context) error
}

// A Leaser is a lock that can be lost while held: Done is closed when the
// current hold is lost.
type Leaser interface {
	Done() <-chan struct{}
}

// A Manager is a registry of named locks that acquires sets of them all or
// nothing (see the package documentation). Its methods are safe for
// concurrent use. Make one with [New]; the zero Manager is not usable.
type Manager struct {
	onDemand bool
	stats    bool
	in       *lockotel.Instrumentation // nil: telemetry off
	order    *orderChecker             // nil: order checking off

	mu      sync.Mutex
	entries map[string]*entry
	retired counters // statistics of evicted on-demand entries

	recMu sync.Mutex
	recs  map[recKey]*lockotel.Recorder // see recorder
}

// maxRecorders bounds the recorder cache of a Manager.
const maxRecorders = 4096

type recKey struct{ kind, name, mode string }

// An entry is one named lock. Its refs, under Manager.mu, count the
// registration and every acquisition in flight (waiting or holding); an
// entry is evicted only when they drop to zero, so a name never has two
// live locks.
type entry struct {
	name  string
	refs  int
	write side
	read  side // read.l == nil: no read side
	st    counters
}

// A side is one way of taking a lock, with the optional methods the Manager
// uses, resolved once.
type side struct {
	l    lock.Locker
	try  func(context.Context) error // nil: cannot be tried; see tryOf
	rel  Releaser                    // nil: Unlock
	done Leaser                      // nil: cannot be lost
	rec  *lockotel.Recorder
}

// New returns a Manager with no locks registered.
func New(opts ...Option) *Manager {
	var c config
	for _, o := range opts {
		o.apply(&c)
	}
	m := &Manager{
		onDemand: c.onDemand,
		stats:    !c.noStats,
		entries:  make(map[string]*entry),
	}
	in, err := lockotel.New(lockotel.ScopeManager, c.otel)
	if err != nil {
		otel.Handle(err)
	}
	if !in.Off() {
		m.in = in
		m.recs = make(map[recKey]*lockotel.Recorder)
	}
	if c.order != nil {
		m.order = newOrderChecker(c.order)
	}
	return m
}

// Register adds l to m under name. A *rw.RWMutex, or any lock with an
// RLocker() lock.Locker method or RLock(ctx) error and RUnlock() methods,
// can then be taken for reading too; see the package documentation for the
// other optional methods. Register returns an error wrapping
// lock.ErrInvalidArgument if name is empty, l is nil or a nil pointer (such
// as a nil *lock.Mutex), l's RLocker returns one, or name is in use. A
// registered lock stays in m for the Manager's lifetime. Register panics if
// m was not made by [New].
func (m *Manager) Register(name string, l lock.Locker) error {
	if m.entries == nil {
		panic("manager: Register on a Manager not made by New")
	}
	if name == "" {
		return fmt.Errorf("manager: register: empty name: %w", lock.ErrInvalidArgument)
	}
	if isNil(l) {
		return fmt.Errorf("manager: register %q: nil lock: %w", name, lock.ErrInvalidArgument)
	}
	e, err := m.newEntry(name, l)
	if err != nil {
		return err
	}
	e.refs = 1 // the registration's: never evicted
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.entries[name]; ok {
		return fmt.Errorf("manager: register %q: name in use: %w", name, lock.ErrInvalidArgument)
	}
	m.entries[name] = e
	return nil
}

// isNil reports whether l is nil, or a nil pointer (or other nil value)
// whose methods would fail on first use.
func isNil(l lock.Locker) bool {
	if l == nil {
		return true
	}
	switch v := reflect.ValueOf(l); v.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Func, reflect.Chan, reflect.Interface, reflect.UnsafePointer:
		return v.IsNil()
	}
	return false
}

// newEntry returns the entry of l under name. It fails only if l's RLocker
// returns a nil lock.
func (m *Manager) newEntry(name string, l lock.Locker) (*entry, error) {
	kind := lockotel.KindLocker
	if k, ok := l.(interface{ LockKind() string }); ok {
		kind = k.LockKind()
	}
	e := &entry{name: name}
	e.write = newSide(l)
	switch l := l.(type) {
	case *lock.Mutex:
		kind = lockotel.KindMutex
	case *rw.RWMutex:
		kind = lockotel.KindRWMutex
		e.read = side{l: l.RLocker()}
	case interface{ RLocker() lock.Locker }:
		r := l.RLocker()
		if isNil(r) {
			return nil, fmt.Errorf("manager: register %q: RLocker returned a nil lock: %w", name, lock.ErrInvalidArgument)
		}
		e.read = newSide(r)
	case interface {
		RLock(context.Context) error
		RUnlock()
	}:
		e.read = newSide(readSide{l})
	}
	if t := tryRead(l); t != nil && e.read.l != nil {
		e.read.try = t
	}
	if m.in != nil {
		if e.read.l == nil {
			e.write.rec = m.recorder(kind, name, "")
		} else {
			e.write.rec = m.recorder(kind, name, lockotel.ModeWrite)
			e.read.rec = m.recorder(kind, name, lockotel.ModeRead)
		}
	}
	return e, nil
}

// recorder returns the telemetry recorder of a lock. Recorders are cached
// (up to maxRecorders), so that an on-demand lock created again, after it
// was evicted, does not build its attribute sets again.
func (m *Manager) recorder(kind, name, mode string) *lockotel.Recorder {
	k := recKey{kind, name, mode}
	m.recMu.Lock()
	defer m.recMu.Unlock()
	r := m.recs[k]
	if r == nil {
		r = m.in.Recorder(kind, name, mode)
		if len(m.recs) < maxRecorders {
			m.recs[k] = r
		}
	}
	return r
}

func newSide(l lock.Locker) side {
	s := side{l: l, try: tryOf(l)}
	s.rel, _ = l.(Releaser)
	s.done, _ = l.(Leaser)
	return s
}

// readSide is the read side of a lock with RLock and RUnlock methods.
type readSide struct {
	l interface {
		RLock(context.Context) error
		RUnlock()
	}
}

func (r readSide) Lock(ctx context.Context) error { return r.l.RLock(ctx) }
func (r readSide) Unlock()                        { r.l.RUnlock() }

// ref returns the entry for name with its refs incremented, creating it if
// m creates locks on demand; nil if the name is unknown. m.mu is held.
func (m *Manager) ref(name string) *entry {
	e := m.entries[name]
	if e == nil {
		if !m.onDemand {
			return nil
		}
		e, _ = m.newEntry(name, new(rw.RWMutex)) // cannot fail: its RLocker is not nil
		m.entries[name] = e
	}
	e.refs++
	return e
}

// unref drops the references of items taken by ref, evicting on-demand
// entries nobody holds or waits for any more.
func (m *Manager) unref(items []item) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range items {
		e := items[i].e
		if e == nil {
			continue
		}
		e.refs--
		if e.refs == 0 {
			delete(m.entries, e.name)
			m.retired.add(&e.st)
		}
	}
}
