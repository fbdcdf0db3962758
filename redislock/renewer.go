package redislock

import (
	"context"
	"sync"
	"time"

	"github.com/codomyrmex/concurrency/internal/lease"
)

// renewer is a Client's one goroutine for the timing of all its leases,
// which have no goroutine or timer of their own. It renews the leases
// with a watchdog, all those due in one round trip (see
// transport.extendAll), each lease's new validity counted from when that
// request was sent; it ends a lease whose validity ran out without a
// confirmed renewal, and releases one that reached its maximum hold time;
// and when the Client is closed it ends and releases every lease. The
// goroutine runs while the Client has leases: it stops when it wakes to
// find none, and add starts it again.
type renewer struct {
	c    *Client
	kick chan struct{} // capacity 1: the schedule changed

	mu      sync.Mutex
	leases  []*Lease  // each with its sched.slot
	running bool      // the goroutine runs
	wakeAt  time.Time // when it wakes next, if running
	busy    bool      // a batch of renewals is in flight
}

// A schedule is a lease's place in the renewer, guarded by renewer.mu.
type schedule struct {
	slot      int           // index in renewer.leases; -1 when not there
	renewAt   time.Time     // when the next renewal is due; zero for none
	early     time.Duration // how much earlier it may go, to join a batch: half the delay it was set with
	maxHoldAt time.Time     // zero for no maximum hold
	renewing  bool          // in the batch in flight
	renewErr  error         // the last renewal's error, if it failed and none succeeded since
}

// add schedules l, whose validity and hold are set, and reports whether
// it did: not once the Client is closed. The first renewal of a lease
// with a watchdog is due after its renewal interval or half its validity,
// whichever is sooner; a lease with a fixed TTL that a release handed over
// (handed) is extended at once, once, to its full TTL.
func (r *renewer) add(l *Lease, handed bool) bool {
	now := time.Now()
	s := &l.sched
	switch {
	case !l.cfg.Fixed:
		s.renewIn(now, min(l.cfg.Renew, l.core.Remaining()/2))
	case handed && l.cfg.entry.duration() < l.cfg.TTL:
		s.renewIn(now, 0)
	}
	if l.cfg.MaxHold > 0 {
		s.maxHoldAt = l.core.Granted().Add(l.cfg.MaxHold)
	}
	at := r.nextEvent(l, now)

	r.mu.Lock()
	start := !r.running
	if start {
		if !r.c.group.Track() {
			r.mu.Unlock()
			return false
		}
		r.running, r.wakeAt = true, at
	}
	s.slot = len(r.leases)
	r.leases = append(r.leases, l)
	kick := !start && at.Before(r.wakeAt)
	r.mu.Unlock()
	if start {
		go r.run()
	} else if kick {
		r.poke()
	}
	return true
}

// renewIn makes the next renewal due d after now.
func (s *schedule) renewIn(now time.Time, d time.Duration) {
	s.renewAt, s.early = now.Add(d), d/2
}

// remove takes l off the schedule, and reports whether it was on it.
func (r *renewer) remove(l *Lease) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.removeLocked(l)
}

func (r *renewer) removeLocked(l *Lease) bool {
	i := l.sched.slot
	if i < 0 {
		return false
	}
	last := len(r.leases) - 1
	r.leases[i] = r.leases[last]
	r.leases[i].sched.slot = i
	r.leases[last] = nil
	r.leases = r.leases[:last]
	l.sched.slot = -1
	return true
}

// poke wakes the goroutine to look at the schedule again.
func (r *renewer) poke() {
	select {
	case r.kick <- struct{}{}:
	default:
	}
}

// nextEvent returns when l needs the renewer next: its renewal, the end of
// its validity or its maximum hold, whichever comes first. r.mu is held,
// or l is not on the schedule yet.
func (r *renewer) nextEvent(l *Lease, now time.Time) time.Time {
	s := &l.sched
	at := now.Add(l.core.Remaining())
	if !s.renewAt.IsZero() && !s.renewing && s.renewAt.Before(at) {
		at = s.renewAt
	}
	if !s.maxHoldAt.IsZero() && s.maxHoldAt.Before(at) {
		at = s.maxHoldAt
	}
	return at
}

// run is the renewer's goroutine.
func (r *renewer) run() {
	defer r.c.group.Exit()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		batch, ended, next, stop := r.scan()
		for _, e := range ended {
			e.end()
		}
		if len(batch) > 0 {
			r.c.group.Go(func() { r.renew(batch) })
		}
		if stop {
			return
		}
		timer.Reset(time.Until(next))
		select {
		case <-timer.C:
		case <-r.kick:
		case <-r.c.done:
			r.closeAll()
			return
		}
	}
}

// An ending is a lease that the renewer ends, and why.
type ending struct {
	l     *Lease
	cause error
	held  bool // it reached its maximum hold time: release it
}

// end ends e's lease: one that reached its maximum hold is released, one
// whose validity ran out is not (the key may be another holder's by now).
func (e ending) end() {
	if e.held {
		e.l.finish(e.cause)
		return
	}
	e.l.core.End(e.cause)
}

// scan takes the leases whose maximum hold or validity has passed off the
// schedule, to be ended, and, unless a batch is in flight, collects the
// leases due for renewal: every lease whose renewal is due within half the
// delay it was scheduled with, so that the leases of a Client come to be
// renewed together. It
// returns when the goroutine must wake next, or stop, having no lease left.
func (r *renewer) scan() (batch []*Lease, ended []ending, next time.Time, stop bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := time.Now()
	for i := 0; i < len(r.leases); {
		l := r.leases[i]
		s := &l.sched
		switch {
		case !s.maxHoldAt.IsZero() && !now.Before(s.maxHoldAt):
			ended = append(ended, ending{l, l.core.Lost(lease.ErrMaxHold), true})
		case l.core.Remaining() <= 0:
			ended = append(ended, ending{l, l.core.Lost(lease.Expired(s.renewErr)), false})
		default:
			if !r.busy && !s.renewAt.IsZero() && !s.renewing && s.renewAt.Sub(now) <= s.early {
				s.renewing = true
				batch = append(batch, l)
			}
			if at := r.nextEvent(l, now); next.IsZero() || at.Before(next) {
				next = at
			}
			i++
			continue
		}
		r.removeLocked(l) // moves the last lease to i
	}
	if len(batch) > 0 {
		r.busy = true
	}
	if len(r.leases) == 0 && !r.busy {
		r.running = false
		return batch, ended, next, true
	}
	if next.IsZero() { // only a batch in flight, which pokes when done
		next = now.Add(time.Hour)
	}
	r.wakeAt = next
	return batch, ended, next, false
}

// renew renews the leases of batch in one round trip, bounded by the
// latest of their validities, and reschedules them.
func (r *renewer) renew(batch []*Lease) {
	calls := make([]extendCall, len(batch))
	var longest time.Duration
	for i, l := range batch {
		calls[i] = l.extendCall()
		longest = max(longest, l.core.Remaining())
	}
	until := time.Now().Add(longest)
	results := make([]renewal, len(batch))
	sent := time.Now()
	r.c.tr.extendAll(deadlineCtx{context.Background(), until}, calls, results)
	now := time.Now()

	r.mu.Lock()
	defer func() {
		r.busy = false
		r.mu.Unlock()
		r.poke()
	}()
	for i, l := range batch {
		s, res := &l.sched, results[i]
		s.renewing = false
		if s.slot < 0 {
			continue // ended meanwhile
		}
		switch {
		case res.err != nil:
			// Retry soon, within the validity; the lease ends if no
			// retry gets through in time. A lease with a fixed TTL
			// keeps the validity it has.
			l.core.RecordRenewal(res.err)
			s.renewErr = res.err
			s.renewAt = time.Time{}
			if !l.cfg.Fixed {
				s.renewIn(now, jitter(l.cfg.Renew/4))
			}
		case !res.ok:
			lost := l.core.Lost(errKeyGone)
			l.core.RecordRenewal(lost)
			l.core.End(lost)
			r.removeLocked(l)
		default:
			l.core.ValidFrom(sent, l.cfg.TTL)
			l.core.RecordRenewal(nil)
			s.renewErr = nil
			s.renewAt = time.Time{}
			if !l.cfg.Fixed {
				s.renewIn(now, l.cfg.Renew)
			}
		}
	}
}

// A renewal is the outcome of one lease's extend call in a batch.
type renewal struct {
	ok  bool // the token held the key, whose TTL was reset
	err error
}

// closeAll ends every lease with errClosed and releases them, in parallel,
// for Client.Close.
func (r *renewer) closeAll() {
	r.mu.Lock()
	leases := r.leases
	r.leases = nil
	for _, l := range leases {
		l.sched.slot = -1
	}
	r.running = false
	r.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range leases {
		if !l.core.End(errClosed) {
			continue // its end cleans up, if it must
		}
		l.stopHold()
		wg.Go(l.cleanup)
	}
	wg.Wait()
}
