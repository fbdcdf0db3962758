package waitq

import "sync/atomic"

// A Bound counts the callers waiting for a lock whose waits do not all go
// through a Queue (a file held by another process, a key held in Redis),
// so that a bound on them can be enforced as a Queue enforces
// SetMaxWaiters. The zero value counts no one.
type Bound struct {
	n atomic.Int64
}

// Join counts the caller in and reports true, unless max > 0 and max
// callers are counted already; then it reports false and counts nothing.
func (b *Bound) Join(max int) bool {
	for {
		n := b.n.Load()
		if max > 0 && n >= int64(max) {
			return false
		}
		if b.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Leave counts out a caller that Join counted in.
func (b *Bound) Leave() { b.n.Add(-1) }

// Count returns the number of callers counted in.
func (b *Bound) Count() int { return int(b.n.Load()) }
