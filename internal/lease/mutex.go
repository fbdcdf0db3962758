package lease

import (
	"context"
	"fmt"
	"sync"

	"github.com/codomyrmex/concurrency/lock"
)

// A Lease is a backend's lease, as Mutex and Do use it: a pointer to the
// backend's Lease type.
type Lease interface {
	comparable
	Context() context.Context
	Done() <-chan struct{}
	Release(context.Context) error
}

// A Mutex is what a backend's Mutex keeps: the lease of its current
// holding, and the error of a bad name or option. Its methods are the
// Mutex's, in terms of the backend's acquisition and release.
type Mutex[L Lease] struct {
	b    *Backend
	what string // the type, in panics and errors: "Mutex" unless InitTurn
	name string
	err  error // reported by Lock

	// turn, with InitTurn, is held from Lock to Unlock or Release.
	turn *lock.Mutex

	mu    sync.Mutex
	lease L // the zero L while m is not locked
}

// Init prepares m, a Mutex of b for the lock called name. A non-nil err
// (a bad name or option) is the error of every Lock.
func (m *Mutex[L]) Init(b *Backend, name string, err error) {
	m.b, m.what, m.name, m.err = b, "Mutex", name, err
}

// InitTurn is Init for a type called what (in its panics and errors)
// whose leases the server may grant side by side, such as a share of a
// semaphore: m itself keeps one lease at a time, so Lock waits, in FIFO
// order, while m is locked, as sync.Mutex's Lock does.
func (m *Mutex[L]) InitTurn(b *Backend, what, name string, err error) {
	m.b, m.what, m.name, m.err = b, what, name, err
	m.turn = new(lock.Mutex)
}

// Lock locks m with the lease that obtain returns, unless m was made with
// an error or obtain fails, or, with InitTurn, ctx ends while m is
// locked; it returns that error.
func (m *Mutex[L]) Lock(ctx context.Context, obtain func(context.Context) (L, error)) error {
	if m.err != nil {
		return m.err
	}
	if m.turn != nil {
		if err := m.turn.Lock(ctx); err != nil {
			return err
		}
	}
	return m.hold(ctx, obtain)
}

// TryLock is Lock for a lock whose obtain does not wait: with InitTurn, it
// fails at once with an error wrapping lock.ErrNotAcquired if m is locked.
func (m *Mutex[L]) TryLock(ctx context.Context, obtain func(context.Context) (L, error)) error {
	if m.err != nil {
		return m.err
	}
	if m.turn != nil && !m.turn.TryLock() {
		return fmt.Errorf("%s: %s %q is locked: %w", m.b.name, m.what, m.name, lock.ErrNotAcquired)
	}
	return m.hold(ctx, obtain)
}

// hold locks m with the lease that obtain returns, with the turn taken.
func (m *Mutex[L]) hold(ctx context.Context, obtain func(context.Context) (L, error)) error {
	l, err := obtain(ctx)
	if err != nil {
		if m.turn != nil {
			m.turn.Unlock()
		}
		return err
	}
	m.mu.Lock()
	m.lease = l
	m.mu.Unlock()
	return nil
}

// take returns the current lease, unlocking m, and whether m was locked.
func (m *Mutex[L]) take() (L, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l := m.lease
	var zero L
	m.lease = zero
	return l, l != zero
}

// done gives the turn back, after the lease that take returned has been
// released.
func (m *Mutex[L]) done() {
	if m.turn != nil {
		m.turn.Unlock()
	}
}

// Unlock unlocks m and releases its lease with release. It panics with
// "<backend>: Unlock of unlocked Mutex" (the type InitTurn named, if it
// did) if m is not locked.
func (m *Mutex[L]) Unlock(release func(L)) {
	l, ok := m.take()
	if !ok {
		panic(m.b.name + ": Unlock of unlocked " + m.what)
	}
	defer m.done()
	release(l)
}

// Release unlocks m and returns the Release of its lease under ctx, or an
// error wrapping lock.ErrNotHeld if m is not locked.
func (m *Mutex[L]) Release(ctx context.Context) error {
	l, ok := m.take()
	if !ok {
		return fmt.Errorf("%s: release of unlocked %s %q: %w", m.b.name, m.what, m.name, lock.ErrNotHeld)
	}
	defer m.done()
	return l.Release(ctx)
}

// Done returns the Done channel of the current lease, or a closed channel
// if m is not locked.
func (m *Mutex[L]) Done() <-chan struct{} {
	var zero L
	if l := m.Lease(); l != zero {
		return l.Done()
	}
	return closedChan
}

// closedChan is a closed channel.
var closedChan = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// Lease returns the lease of the current holding, or the zero L if m is
// not locked.
func (m *Mutex[L]) Lease() L {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lease
}
