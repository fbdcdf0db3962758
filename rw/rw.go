// Package rw provides a reader/writer mutual exclusion lock whose waits can
// be cancelled through a context, that is phase-fair (neither readers nor
// writers starve), and that a writer can atomically downgrade to a reader.
//
// # Order
//
// Writers take turns in arrival order. The writer whose turn it is
// announces itself: readers arriving from then on wait, and the writer
// waits only for the readers inside at that moment to leave, then holds
// the lock. Its write phase ends when it unlocks, downgrades, or gives up
// waiting for those readers; all the readers that arrived during the phase
// are then admitted at once, before the next writer announces itself.
// Hence:
//
//   - A reader that arrives while no writer is announced enters at once,
//     even if writers are waiting for their turn: it overtakes them.
//   - A reader that arrives while a writer is announced waits for that
//     one write phase to end, and no longer: it enters before the writers
//     waiting for their turn.
//   - A writer waits for the writers that arrived before it, each for one
//     write phase, and for the readers inside when it announces itself.
//     No writer that arrived after it, and no reader that arrived after it
//     announced itself, enters before it.
//
// # Cancellation contract
//
// Lock and RLock follow the module-wide contract documented in package lock:
// if ctx is done before the call returns, including before the call, it
// fails with an error that satisfies errors.Is(err, ctx.Err()) and carries
// context.Cause(ctx); the caller holds nothing, and the lock is left as if
// the call had not been made, except that a writer that gives up while
// waiting for the readers inside ends its write phase: the readers that
// wait in it are admitted at once. A lock granted as the context ends is
// given back at once, as by RUnlock or Unlock. No goroutine or timer is
// started per call, and waits allocate nothing (outside testing/synctest
// bubbles, where each wait makes a channel of its own).
//
// # Misuse
//
// Each of these panics, changing nothing, as sync.RWMutex does:
//
//	Unlock or Downgrade of an unlocked RWMutex      "rw: Unlock of unlocked RWMutex"
//	Unlock or Downgrade of a read-locked RWMutex    "rw: Unlock of RWMutex locked for reading"
//	RUnlock of an unlocked RWMutex                  "rw: RUnlock of unlocked RWMutex"
//	RUnlock of a write-locked RWMutex               "rw: RUnlock of RWMutex locked for writing"
//
// (Downgrade's messages name Downgrade.) A second Unlock or RUnlock is
// caught as one of these unless other goroutines hold the lock by then: an
// RWMutex does not know which goroutine holds which read lock. A misuse
// that races with other calls may disturb them: the panic is a diagnosis,
// not a recovery. Recursive read locking is not misuse that is detected;
// it deadlocks once a writer is announced (see RWMutex).
package rw

import (
	"context"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
	"github.com/codomyrmex/concurrency/internal/race"
	"github.com/codomyrmex/concurrency/internal/waitq"
	"github.com/codomyrmex/concurrency/lock"
)

// MaxReaders bounds the readers of an RWMutex: fewer than MaxReaders
// goroutines may hold it for reading and wait in RLock at once. As with
// sync.RWMutex, more are not detected.
const MaxReaders = 1 << 30

// Bits of the state word: phase<<32 | held | announced | readers.
const (
	readerMask = MaxReaders - 1 // readers inside, and those waiting in the phase
	announced  = MaxReaders     // a writer is announced
	held       = 2 * MaxReaders // and holds rw (set with announced)
	phaseOne   = 1 << 32        // phase counts the writers announced
)

func readers(s int64) int64  { return s & readerMask }
func phaseOf(s int64) uint32 { return uint32(s >> 32) }

// An RWMutex is a reader/writer mutual exclusion lock. It can be held by any
// number of readers or by a single writer. The zero value is an unlocked
// mutex. An RWMutex must not be copied after first use.
//
// Readers and writers are served in phases (see the package documentation):
// a reader waits for at most one write phase, and a writer for the writers
// ahead of it and the readers inside when its turn comes, so neither side
// starves. With no writer announced, RLock and RUnlock are one atomic add
// each. As with sync.RWMutex, recursive read locking is prohibited: an RLock
// by a reader that already holds the read lock waits for an announced
// writer, which waits for that reader.
//
// In the terminology of the Go memory model, the n'th call to Unlock
// synchronizes before the m'th call to Lock for any n < m, just as for
// lock.Mutex; for any call to RLock there exists an n such that the n'th
// call to Unlock synchronizes before that call to RLock, and the matching
// call to RUnlock synchronizes before the n+1'th call to Lock. Downgrade
// counts as a call to Unlock, and the read lock it leaves as one taken by
// RLock. Only calls that succeed count: a failed Lock, RLock, TryLock or
// TryRLock synchronizes with nothing.
type RWMutex struct {
	_ noCopy
	// state is phase<<32 | held | announced | readers, where readers
	// counts the readers inside and those waiting in the current write
	// phase. The zero value is an unlocked mutex in phase 0.
	state atomic.Int64
	w     lock.Mutex // the writers' turns: held from a writer's turn to its phase's end

	mu         sync.Mutex    // guards what follows
	blocked    waiterList    // readers waiting in the current write phase
	queued     int           // writers waiting for their turn
	writer     *waitq.Waiter // the announced writer, while readers are inside
	departures int           // readers it waits for; negative while it has not counted them
	maxWaiters int           // see SetMaxWaiters; ≤ 0 means no bound
}

// Lock locks rw for writing. It waits for the writers ahead of it, one
// write phase each, then announces itself, stopping new readers, and waits
// for the readers inside to leave. It returns nil when rw is write-locked
// by the caller; otherwise the caller holds nothing (see the package
// documentation). If it would have to wait with as many waiters as
// SetMaxWaiters allows, it fails at once with a *lock.TooManyWaitersError.
func (rw *RWMutex) Lock(ctx context.Context) error {
	err := rw.lock(ctx)
	if race.Enabled && err == nil {
		race.Acquire(rw.readerSync())
		race.Acquire(rw.writerSync())
	}
	return err
}

func (rw *RWMutex) lock(ctx context.Context) error {
	if err := ctxerr.From(ctx); err != nil {
		return err
	}
	queued := !rw.w.TryLock()
	if queued {
		if err := rw.waitTurn(ctx); err != nil {
			return err
		}
	}
	s := rw.add(announced + phaseOne)
	if readers(s) == 0 && !queued {
		rw.add(held)
		return nil
	}
	return rw.drain(ctx, readers(s), queued)
}

// waitTurn waits for rw.w behind the writers ahead, counted as a waiter.
func (rw *RWMutex) waitTurn(ctx context.Context) error {
	rw.mu.Lock()
	if rw.full() {
		return rw.refuse()
	}
	rw.queued++
	rw.mu.Unlock()
	err := rw.w.Lock(ctx)
	if err != nil {
		rw.mu.Lock()
		rw.queued--
		rw.mu.Unlock()
	}
	return err
}

// drain waits, as the announced writer, for the n readers inside to
// leave. A writer that was queued stops counting as such.
func (rw *RWMutex) drain(ctx context.Context, n int64, queued bool) error {
	rw.mu.Lock()
	if queued {
		rw.queued--
	}
	rw.departures += int(n)
	if rw.departures == 0 { // they have all left already
		rw.add(held)
		rw.mu.Unlock()
		return nil
	}
	w := waitq.NewWaiter()
	rw.writer = w
	rw.mu.Unlock()
	if _, ok := w.Wait(ctx.Done()); ok { // the last reader set held
		w.Free()
		if err := ctxerr.From(ctx); err != nil {
			rw.unlock()
			return err
		}
		return nil
	}
	rw.mu.Lock()
	if rw.writer != w { // held meanwhile
		rw.mu.Unlock()
		<-w.C
		w.Free()
		rw.unlock()
		return ctxerr.From(ctx)
	}
	// Give up, ending the write phase: the readers that arrived in it
	// were counted, so they hold rw now.
	rw.writer = nil
	rw.departures = 0
	rw.add(-announced)
	first := rw.blocked.take()
	rw.mu.Unlock()
	w.Free()
	wake(first)
	rw.w.Unlock()
	return ctxerr.From(ctx)
}

// TryLock locks rw for writing if it is free and no writer is waiting for
// its turn, and reports whether it did.
func (rw *RWMutex) TryLock() bool {
	ok := rw.w.TryLock()
	if ok {
		s := rw.load()
		if ok = readers(s) == 0 && rw.cas(s, s+announced+held+phaseOne); !ok {
			rw.w.Unlock()
		}
	}
	if race.Enabled && ok {
		race.Acquire(rw.readerSync())
		race.Acquire(rw.writerSync())
	}
	return ok
}

// Unlock unlocks rw for writing, ending its write phase: the readers that
// wait in it are admitted, and the next writer takes its turn. It panics if
// rw is not locked for writing.
func (rw *RWMutex) Unlock() {
	if race.Enabled {
		race.Release(rw.readerSync())
	}
	if s := rw.load(); s&held == 0 {
		misuse("Unlock", s)
	}
	rw.unlock()
}

func (rw *RWMutex) unlock() {
	if readers(rw.add(-announced-held)) != 0 {
		rw.admit()
	}
	rw.w.Unlock()
}

// Downgrade atomically turns the caller's write lock into a read lock: no
// writer can take rw in between. It ends the write phase like Unlock, so
// the readers that wait in it are admitted with the caller. Release the
// read lock with RUnlock. It panics if rw is not locked for writing.
func (rw *RWMutex) Downgrade() {
	if race.Enabled {
		race.Release(rw.readerSync())
	}
	if s := rw.load(); s&held == 0 {
		misuse("Downgrade", s)
	}
	if readers(rw.add(1-announced-held)) != 1 {
		rw.admit()
	}
	rw.w.Unlock()
}

// admit wakes the readers that waited in the write phase that just ended.
// They were counted in state, so they hold rw already.
func (rw *RWMutex) admit() {
	rw.mu.Lock()
	first := rw.blocked.take()
	rw.mu.Unlock()
	wake(first)
}

// misuse panics for a write-side call (Unlock or Downgrade) on rw, whose
// state s shows it not locked for writing.
func misuse(call string, s int64) {
	if readers(s) != 0 {
		panic("rw: " + call + " of RWMutex locked for reading")
	}
	panic("rw: " + call + " of unlocked RWMutex")
}

// RLock locks rw for reading: at once if no writer is announced, otherwise
// once the announced writer's phase ends. It returns nil when the caller
// holds a read lock; otherwise the caller holds nothing (see the package
// documentation). If it would have to wait with as many waiters as
// SetMaxWaiters allows, it fails at once with a *lock.TooManyWaitersError.
func (rw *RWMutex) RLock(ctx context.Context) error {
	if ctx.Err() != nil {
		return ctxerr.From(ctx)
	}
	if s := rw.add(1); s&announced != 0 {
		if err := rw.rlockSlow(ctx, phaseOf(s)); err != nil {
			return err
		}
	}
	if race.Enabled {
		race.Acquire(rw.readerSync())
	}
	return nil
}

// rlockSlow waits, as a reader counted in state, for the end of write
// phase p.
func (rw *RWMutex) rlockSlow(ctx context.Context, p uint32) error {
	rw.mu.Lock()
	if !rw.inPhase(p) { // it ended before we got here: we hold rw
		rw.mu.Unlock()
		return nil
	}
	if rw.full() {
		rw.add(-1)
		return rw.refuse()
	}
	w := waitq.NewWaiter()
	rw.blocked.push(w)
	rw.mu.Unlock()
	if _, ok := w.Wait(ctx.Done()); ok {
		w.Free()
		if err := ctxerr.From(ctx); err != nil {
			rw.runlock()
			return err
		}
		return nil
	}
	rw.mu.Lock()
	if rw.inPhase(p) {
		rw.blocked.remove(w)
		rw.add(-1)
		rw.mu.Unlock()
		w.Free()
		return ctxerr.From(ctx)
	}
	rw.mu.Unlock() // admitted meanwhile
	<-w.C
	w.Free()
	rw.runlock()
	return ctxerr.From(ctx)
}

// inPhase reports whether write phase p is the current one, that is,
// whether its writer is still announced. rw.mu must be held.
func (rw *RWMutex) inPhase(p uint32) bool {
	s := rw.load()
	return s&announced != 0 && phaseOf(s) == p
}

// full reports whether a call that would wait must be refused. rw.mu must
// be held.
func (rw *RWMutex) full() bool {
	return rw.maxWaiters > 0 && rw.waiters() >= rw.maxWaiters
}

// refuse unlocks rw.mu, which must be held, and returns the error of a
// call refused by SetMaxWaiters's bound.
func (rw *RWMutex) refuse() error {
	err := &lock.TooManyWaitersError{Lock: "rw.RWMutex", Max: rw.maxWaiters}
	rw.mu.Unlock()
	return err
}

// TryRLock locks rw for reading if no writer is announced, and reports
// whether it did.
func (rw *RWMutex) TryRLock() bool {
	ok := false
	for s := rw.load(); s&announced == 0; s = rw.load() {
		if ok = rw.cas(s, s+1); ok {
			break
		}
	}
	if race.Enabled && ok {
		race.Acquire(rw.readerSync())
	}
	return ok
}

// RUnlock undoes a single RLock (or Downgrade). It panics if rw is not
// read-locked: "rw: RUnlock of unlocked RWMutex", or "rw: RUnlock of
// RWMutex locked for writing", changing nothing.
func (rw *RWMutex) RUnlock() {
	if race.Enabled {
		race.ReleaseMerge(rw.writerSync())
	}
	// Below announced-1, no writer was announced (readers < MaxReaders).
	if s := rw.add(-1); uint32(s) >= announced-1 {
		rw.runlockSlow(s)
	}
}

// runlock is RUnlock without its edge for the race detector, for a read
// lock that a failing RLock gives back.
func (rw *RWMutex) runlock() {
	if s := rw.add(-1); uint32(s) >= announced-1 {
		rw.runlockSlow(s)
	}
}

// runlockSlow completes an RUnlock that left state s: it undoes misuse,
// or counts a departure for the writer that waits for the readers inside.
func (rw *RWMutex) runlockSlow(s int64) {
	switch {
	case uint32(s) == 1<<32-1: // there was no reader; the borrow took a phase
		rw.add(1)
		panic("rw: RUnlock of unlocked RWMutex")
	case (s+1)&held != 0:
		rw.add(1)
		panic("rw: RUnlock of RWMutex locked for writing")
	}
	// A writer was announced in phase p when this reader left. It counts
	// the departure if it still waits for readers in p: if it gave up,
	// its phase ended, and the next writer did not count this reader.
	p := phaseOf(s)
	rw.mu.Lock()
	if !rw.inPhase(p) {
		rw.mu.Unlock()
		return
	}
	if rw.departures--; rw.departures != 0 {
		rw.mu.Unlock()
		return
	}
	w := rw.writer // the last reader is out: it has counted them
	rw.writer = nil
	rw.add(held)
	rw.mu.Unlock()
	w.C <- 1
}

// SetMaxWaiters bounds the goroutines waiting in Lock and RLock, readers
// and writers alike: a call that would have to wait with n waiters already
// there fails at once with a *lock.TooManyWaitersError, holding nothing.
// A reader admitted at once, because no writer is announced, never waits
// and is never refused; nor is a writer whose turn comes at once, since
// nobody waits then. n ≤ 0 removes the bound (the default). It may be
// called at any time, also concurrently with Lock and RLock; waiters
// already there are not affected, even when there are more of them than
// n. TryLock and TryRLock never wait and are not affected.
func (rw *RWMutex) SetMaxWaiters(n int) {
	rw.mu.Lock()
	rw.maxWaiters = n
	rw.mu.Unlock()
}

// RLocker returns the read side of rw as a lock.Locker: its Lock calls
// rw.RLock and its Unlock calls rw.RUnlock.
func (rw *RWMutex) RLocker() lock.Locker { return (*rlocker)(rw) }

type rlocker RWMutex

func (r *rlocker) Lock(ctx context.Context) error { return (*RWMutex)(r).RLock(ctx) }
func (r *rlocker) Unlock()                        { (*RWMutex)(r).RUnlock() }

// Waiters returns the number of goroutines waiting in Lock and RLock: the
// readers waiting for a write phase to end, the writers waiting for their
// turn, and the announced writer while readers are inside.
func (rw *RWMutex) Waiters() int {
	rw.mu.Lock()
	defer rw.mu.Unlock()
	return rw.waiters()
}

// waiters is Waiters with rw.mu held.
func (rw *RWMutex) waiters() int {
	n := rw.blocked.n + rw.queued
	if rw.writer != nil {
		n++
	}
	return n
}

// readerSync and writerSync are the addresses on which the race detector is
// told about rw's edges, as in sync.RWMutex: readers acquire what writers
// release, and writers acquire what readers release.
func (rw *RWMutex) readerSync() unsafe.Pointer { return unsafe.Pointer(&rw.state) }
func (rw *RWMutex) writerSync() unsafe.Pointer { return unsafe.Add(unsafe.Pointer(&rw.state), 1) }

// The atomics on state order callers that rw does not order (two readers,
// say), so the race detector is told to ignore them; the methods state the
// real edges on readerSync and writerSync.

func (rw *RWMutex) load() int64 {
	if race.Enabled {
		race.Disable()
		defer race.Enable()
	}
	return rw.state.Load()
}

func (rw *RWMutex) add(delta int64) int64 {
	if race.Enabled {
		race.Disable()
		defer race.Enable()
	}
	return rw.state.Add(delta)
}

func (rw *RWMutex) cas(old, new int64) bool {
	if race.Enabled {
		race.Disable()
		defer race.Enable()
	}
	return rw.state.CompareAndSwap(old, new)
}

// noCopy lets go vet's copylocks check report copies of an RWMutex.
type noCopy struct{}

func (*noCopy) Lock()   {}
func (*noCopy) Unlock() {}
