package manager

import (
	"sync/atomic"
	"time"
)

// Stats are the statistics of one lock, or of all of them. Counts are since
// the lock was registered or created; durations are wall-clock time.
type Stats struct {
	Acquisitions  int64 // successful acquisitions
	Contended     int64 // acquisitions that had to wait (a try found the lock busy first)
	Failures      int64 // acquisitions that failed for another reason than their context
	Cancellations int64 // acquisitions that failed because their context ended
	Holders       int64 // holders now
	Waiters       int64 // callers waiting now
	LostLeases    int64 // holds found lost at release (see Leaser)

	WaitTotal time.Duration // time spent waiting, successful or not
	WaitMax   time.Duration // longest single wait
	HoldTotal time.Duration // time held, over released holds
	HoldMax   time.Duration // longest single released hold
}

// counters are the live statistics of an entry, updated atomically. The
// holders are acquisitions minus releases, so that an uncontended
// acquisition costs one atomic add.
type counters struct {
	acquisitions, releases, contended, failures, cancellations atomic.Int64
	waiters, lost                                              atomic.Int64
	waitTotal, waitMax, holdTotal, holdMax                     atomic.Int64
}

func (c *counters) waited(d time.Duration) {
	c.waitTotal.Add(int64(d))
	storeMax(&c.waitMax, int64(d))
}

func (c *counters) held(d time.Duration) {
	c.holdTotal.Add(int64(d))
	storeMax(&c.holdMax, int64(d))
}

func storeMax(v *atomic.Int64, x int64) {
	for {
		old := v.Load()
		if x <= old || v.CompareAndSwap(old, x) {
			return
		}
	}
}

func (c *counters) snapshot() Stats {
	released := c.releases.Load() // first: then holders >= 0
	acquired := c.acquisitions.Load()
	return Stats{
		Acquisitions:  acquired,
		Contended:     c.contended.Load(),
		Failures:      c.failures.Load(),
		Cancellations: c.cancellations.Load(),
		Holders:       acquired - released,
		Waiters:       c.waiters.Load(),
		LostLeases:    c.lost.Load(),
		WaitTotal:     time.Duration(c.waitTotal.Load()),
		WaitMax:       time.Duration(c.waitMax.Load()),
		HoldTotal:     time.Duration(c.holdTotal.Load()),
		HoldMax:       time.Duration(c.holdMax.Load()),
	}
}

// add folds o into c (used when o's entry is evicted, so o is quiescent).
func (c *counters) add(o *counters) {
	s := o.snapshot()
	c.acquisitions.Add(s.Acquisitions)
	c.releases.Add(s.Acquisitions - s.Holders)
	c.contended.Add(s.Contended)
	c.failures.Add(s.Failures)
	c.cancellations.Add(s.Cancellations)
	c.lost.Add(s.LostLeases)
	c.waitTotal.Add(int64(s.WaitTotal))
	storeMax(&c.waitMax, int64(s.WaitMax))
	c.holdTotal.Add(int64(s.HoldTotal))
	storeMax(&c.holdMax, int64(s.HoldMax))
}

// plus returns the sum of s and o, with the larger maxima.
func (s Stats) plus(o Stats) Stats {
	s.Acquisitions += o.Acquisitions
	s.Contended += o.Contended
	s.Failures += o.Failures
	s.Cancellations += o.Cancellations
	s.Holders += o.Holders
	s.Waiters += o.Waiters
	s.LostLeases += o.LostLeases
	s.WaitTotal += o.WaitTotal
	s.WaitMax = max(s.WaitMax, o.WaitMax)
	s.HoldTotal += o.HoldTotal
	s.HoldMax = max(s.HoldMax, o.HoldMax)
	return s
}

// Stats returns the statistics of the lock called name, and whether m has
// such a lock now. An on-demand lock's statistics last as long as it does.
// The counters are read one by one while other goroutines may update them:
// each is exact, but they may not all be from the same instant.
func (m *Manager) Stats(name string) (Stats, bool) {
	m.mu.Lock()
	e := m.entries[name]
	m.mu.Unlock()
	if e == nil {
		return Stats{}, false
	}
	return e.st.snapshot(), true
}

// TotalStats returns the statistics summed over every lock m has had,
// including evicted on-demand ones; WaitMax and HoldMax are the largest of
// any lock.
func (m *Manager) TotalStats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	total := m.retired.snapshot()
	for _, e := range m.entries {
		total = total.plus(e.st.snapshot())
	}
	return total
}
