// Package waitq is the FIFO waiter queue behind sem.Weighted and the
// in-process side of filelock, and the pooled waiters that lock.Mutex and
// rw.RWMutex park on.
//
// A Queue hands out tokens from a capacity. A mutex is a Queue of capacity 1;
// a reader/writer lock is one where a reader takes one token and a writer
// takes the whole capacity.
//
// The uncontended path is one compare-and-swap on a state word. Once a caller
// has had to wait, every later caller queues behind it and tokens are handed
// over in FIFO order by the releaser (no barging), with head-of-line
// blocking: a waiter that does not fit stops the grant loop, so a large
// request is never starved by small ones.
package waitq

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
	"github.com/codomyrmex/concurrency/internal/race"
)

// MaxCapacity is the largest capacity a Queue supports.
const MaxCapacity = 1<<61 - 1

var (
	// ErrClosed is returned by Acquire on a closed Queue, and to waiters
	// that were queued when it was closed.
	ErrClosed = errors.New("waitq: closed")
	// ErrTooLarge is returned by Acquire for a request larger than the
	// capacity, and to waiters whose request no longer fits after the
	// capacity shrank.
	ErrTooLarge = errors.New("waitq: request exceeds capacity")
	// ErrTooManyWaiters is returned by Acquire when it would have to queue
	// behind as many waiters as SetMaxWaiters allows.
	ErrTooManyWaiters = errors.New("waitq: too many waiters")
)

// Bits of the state word: used<<usedShift | closedBit | waitingBit.
const (
	waitingBit = 1 << 0 // the FIFO is not empty; all callers go through mu
	closedBit  = 1 << 1
	usedShift  = 2
)

// Results delivered on a waiter's channel.
const (
	granted uint8 = iota + 1
	closed
	tooLarge
)

// A Queue is a FIFO-fair pool of tokens.
//
// Its capacity is base+extra, where base is passed by the caller on every
// call (it must be the same constant for the lifetime of the Queue) and
// extra is set by SetExtra. This lets a zero Queue serve as a mutex (base 1)
// or a reader/writer lock (base MaxReaders) without initialization.
//
// A Queue must not be copied after first use.
type Queue struct {
	// state is used<<usedShift | closedBit | waitingBit. While waitingBit is
	// set it changes only under mu.
	state atomic.Int64
	extra atomic.Int64 // changed only under mu

	mu         sync.Mutex
	ring       []entry // circular FIFO; cancelled waiters leave tombstones
	head       int     // index of the front entry in ring
	count      int     // entries in ring, tombstones included
	front      uint64  // ticket of ring[head]; tickets grow by one per enqueue
	live       int     // waiters in ring that are not tombstones
	maxWaiters int     // see SetMaxWaiters; ≤ 0 means no bound
	// bubbled records whether the waiter that set waitingBit last ran in
	// a testing/synctest bubble. Those who queue behind it are taken to
	// run where it does (a queue that goroutines in and out of a bubble
	// share is outside what synctest supports), so the bubble check of
	// NewWaiter runs once per queue instead of once per wait.
	bubbled bool
}

type entry struct {
	n int64
	w *Waiter // nil marks a cancelled waiter
}

// TryAcquire takes n tokens if they are free and nobody is queued. It never
// waits and never takes tokens from queued waiters.
func (q *Queue) TryAcquire(n, base int64) bool {
	for {
		s := q.load()
		if s&(waitingBit|closedBit) != 0 || !q.fits(s>>usedShift+n, base) {
			return false
		}
		if q.cas(s, s+n<<usedShift) {
			return true
		}
	}
}

// Acquire takes n tokens (0 <= n <= MaxCapacity), waiting in FIFO order
// until they are granted or ctx is done. It returns nil when the tokens are
// held; otherwise nothing is held and the error is the context's (see
// ctxerr.From), ErrClosed, ErrTooLarge or ErrTooManyWaiters.
func (q *Queue) Acquire(ctx context.Context, n, base int64) error {
	// Fast path, small enough to be inlined: one free, unqueued attempt.
	if s := q.load(); s&(waitingBit|closedBit) == 0 && q.fits(s>>usedShift+n, base) &&
		ctx.Err() == nil && q.cas(s, s+n<<usedShift) {
		return nil
	}
	return q.acquireSlow(ctx, n, base)
}

func (q *Queue) acquireSlow(ctx context.Context, n, base int64) error {
	if err := ctxerr.From(ctx); err != nil {
		return err
	}
	if q.TryAcquire(n, base) {
		return nil
	}
	q.mu.Lock()
	for {
		s := q.load()
		if s&closedBit != 0 {
			q.mu.Unlock()
			return ErrClosed
		}
		if n > base+q.loadExtra() {
			q.mu.Unlock()
			return ErrTooLarge
		}
		if s&waitingBit != 0 {
			break
		}
		if q.fits(s>>usedShift+n, base) {
			if q.cas(s, s+n<<usedShift) {
				q.mu.Unlock()
				return nil
			}
			continue
		}
		if q.cas(s, s|waitingBit) {
			q.bubbled = inBubble()
			break
		}
	}
	// With waitingBit just set by us the queue is empty, so a full queue
	// means the bit was set already and nothing needs undoing.
	if q.maxWaiters > 0 && q.live >= q.maxWaiters {
		q.mu.Unlock()
		return ErrTooManyWaiters
	}
	w := newWaiter(q.bubbled)
	ticket := q.push(entry{n: n, w: w})
	q.mu.Unlock()

	done := ctx.Done()
	if r, ok := w.Wait(done); ok {
		w.Free()
		if r != granted {
			return result(r)
		}
		// A ctx that ended meanwhile still fails the call (the
		// pre-check's promise holds for the whole wait), so the
		// tokens go back.
		select {
		case <-done:
			q.Release(n, base)
			return ctxerr.From(ctx)
		default:
			return nil
		}
	}
	q.mu.Lock()
	if ticket >= q.front {
		if e := &q.ring[(q.head+int(ticket-q.front))%len(q.ring)]; e.w != nil {
			// Still queued: leave a tombstone and let those behind us
			// through if we were blocking them. No result will come,
			// so w can be reused.
			e.w = nil
			q.live--
			wake := q.grantLocked(q.load()>>usedShift, base)
			q.mu.Unlock()
			grant(wake)
			w.Free()
			return ctxerr.From(ctx)
		}
		// SetExtra failed us (and left the tombstone) while ctx ended:
		// the result is in w.
	}
	q.mu.Unlock()
	// Already dequeued, or failed by SetExtra: the result is in w, or
	// about to be.
	r := <-w.C
	w.Free()
	if r == granted {
		q.Release(n, base)
	}
	return ctxerr.From(ctx)
}

// grant wakes w, if not nil, with its grant. Grants are sent after q.mu is
// released, so that the waiter does not wake only to block on it.
func grant(w *Waiter) {
	if w != nil {
		w.C <- granted
	}
}

// result maps what a waiter received to what Acquire returns.
func result(r uint8) error {
	switch r {
	case closed:
		return ErrClosed
	case tooLarge:
		return ErrTooLarge
	}
	return nil
}

// fits reports whether want tokens fit in the capacity. The capacity above
// base is loaded only when base alone is not enough, which keeps it off the
// mutex fast path.
func (q *Queue) fits(want, base int64) bool {
	return want <= base || want <= base+q.loadExtra()
}

// Release returns n tokens and grants queued waiters that now fit. It
// reports false, changing nothing, if fewer than n tokens are held.
func (q *Queue) Release(n, base int64) bool {
	// Fast path, small enough to be inlined.
	if s := q.load(); s&waitingBit == 0 && s>>usedShift >= n && q.cas(s, s-n<<usedShift) {
		return true
	}
	return q.releaseSlow(n, noLimit, base)
}

// ReleaseBelow is Release, except that it also reports false, changing
// nothing, if limit or more tokens are held. A reader/writer lock releases
// a read token with it to tell a read unlock of a write-locked lock.
func (q *Queue) ReleaseBelow(n, limit, base int64) bool {
	// Fast path, small enough to be inlined.
	if s := q.load(); s&waitingBit == 0 && s>>usedShift >= n && s>>usedShift < limit &&
		q.cas(s, s-n<<usedShift) {
		return true
	}
	return q.releaseSlow(n, limit, base)
}

// noLimit is above any number of tokens held.
const noLimit = MaxCapacity + 1

func (q *Queue) releaseSlow(n, limit, base int64) bool {
	for {
		s := q.load()
		if s&waitingBit != 0 {
			q.mu.Lock()
			ok, wake := q.releaseLocked(n, limit, base)
			q.mu.Unlock()
			grant(wake)
			return ok
		}
		if s>>usedShift < n || s>>usedShift >= limit {
			return false
		}
		if q.cas(s, s-n<<usedShift) {
			return true
		}
	}
}

// releaseLocked is ReleaseBelow with q.mu held. The caller must pass wake
// to grant once it has released q.mu.
func (q *Queue) releaseLocked(n, limit, base int64) (ok bool, wake *Waiter) {
	for {
		s := q.load()
		if s>>usedShift < n || s>>usedShift >= limit {
			return false, nil
		}
		if s&waitingBit != 0 {
			// Only holders of mu change state now.
			return true, q.grantLocked(s>>usedShift-n, base)
		}
		if q.cas(s, s-n<<usedShift) {
			return true, nil
		}
	}
}

// grantLocked hands tokens to the waiters at the front of the FIFO that fit,
// given that used tokens are held, and stores the new state. It must be
// called with q.mu held and waitingBit set. It returns the first waiter
// granted, if any, which the caller must pass to grant once it has
// released q.mu; further grants, rare, are sent at once.
func (q *Queue) grantLocked(used, base int64) (wake *Waiter) {
	capacity := base + q.loadExtra()
	for q.count > 0 {
		e := &q.ring[q.head]
		switch {
		case e.w == nil:
		case used+e.n <= capacity:
			used += e.n
			if wake == nil {
				wake = e.w
			} else {
				e.w.C <- granted
			}
			q.live--
		default:
			q.store(used<<usedShift | q.load()&closedBit | waitingBit)
			return wake
		}
		q.pop()
	}
	q.store(used<<usedShift | q.load()&closedBit)
	return wake
}

// Close fails every queued waiter and every later Acquire with ErrClosed.
// Tokens already held stay held and may be released.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		s := q.load()
		if q.cas(s, s|closedBit) {
			break
		}
	}
	for q.count > 0 {
		if e := q.ring[q.head]; e.w != nil {
			e.w.C <- closed
			q.live--
		}
		q.pop()
	}
	for {
		s := q.load()
		if q.cas(s, s&^waitingBit) {
			return
		}
	}
}

// SetExtra sets the capacity above base to extra, then grants queued
// waiters that now fit and fails those that can never fit. Tokens already
// held are never revoked: after a shrink, more tokens than the capacity may
// be in use until they are released.
func (q *Queue) SetExtra(extra, base int64) {
	q.mu.Lock()
	q.storeExtra(extra)
	s := q.load()
	if s&waitingBit == 0 {
		q.mu.Unlock()
		return
	}
	for i := range q.count {
		e := &q.ring[(q.head+i)%len(q.ring)]
		if e.w != nil && e.n > base+extra {
			e.w.C <- tooLarge
			e.w = nil
			q.live--
		}
	}
	wake := q.grantLocked(s>>usedShift, base)
	q.mu.Unlock()
	grant(wake)
}

// SetMaxWaiters bounds the queue: an Acquire that would have to wait behind
// n waiters fails with ErrTooManyWaiters instead, holding nothing. n ≤ 0
// removes the bound (the default). It may be called at any time, also
// concurrently with Acquire; waiters already queued are not affected, even
// when there are more of them than n. The bound is read only by callers
// that have to wait, so it costs the uncontended path nothing.
func (q *Queue) SetMaxWaiters(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.maxWaiters = n
}

// MaxWaiters returns the bound set by SetMaxWaiters; ≤ 0 means none.
func (q *Queue) MaxWaiters() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.maxWaiters
}

// Extra returns the capacity above base.
func (q *Queue) Extra() int64 { return q.loadExtra() }

// Used returns the number of tokens held.
func (q *Queue) Used() int64 { return q.load() >> usedShift }

// Closed reports whether Close has been called.
func (q *Queue) Closed() bool { return q.load()&closedBit != 0 }

// Waiters returns the number of callers queued in Acquire.
func (q *Queue) Waiters() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.live
}

// push appends e and returns its ticket.
func (q *Queue) push(e entry) uint64 {
	if q.count == len(q.ring) {
		ring := make([]entry, max(4, 2*len(q.ring)))
		n := copy(ring, q.ring[q.head:])
		copy(ring[n:], q.ring[:q.head])
		q.ring, q.head = ring, 0
	}
	q.ring[(q.head+q.count)%len(q.ring)] = e
	q.count++
	q.live++
	return q.front + uint64(q.count) - 1
}

// pop removes the front entry. A queue that empties after a burst gives its
// large ring back to the garbage collector.
func (q *Queue) pop() {
	q.ring[q.head] = entry{}
	q.head = (q.head + 1) % len(q.ring)
	q.count--
	q.front++
	if q.count == 0 {
		q.head = 0
		if len(q.ring) > 1024 {
			q.ring = nil
		}
	}
}

// The atomics on state and extra order callers that the queue does not
// order (two readers, say), so the race detector is told to ignore them;
// the faces state the real edges with internal/race. Everything else is
// guarded by mu, which the detector sees.

func (q *Queue) load() int64 {
	if race.Enabled {
		race.Disable()
		defer race.Enable()
	}
	return q.state.Load()
}

func (q *Queue) cas(old, new int64) bool {
	if race.Enabled {
		race.Disable()
		defer race.Enable()
	}
	return q.state.CompareAndSwap(old, new)
}

func (q *Queue) store(v int64) {
	if race.Enabled {
		race.Disable()
		defer race.Enable()
	}
	q.state.Store(v)
}

func (q *Queue) loadExtra() int64 {
	if race.Enabled {
		race.Disable()
		defer race.Enable()
	}
	return q.extra.Load()
}

func (q *Queue) storeExtra(v int64) {
	if race.Enabled {
		race.Disable()
		defer race.Enable()
	}
	q.extra.Store(v)
}
