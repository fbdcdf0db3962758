package check

import (
	"errors"
	"fmt"
	"sync"
)

// ErrStaleToken is returned by a fenced write whose token is lower than the
// highest token the resource has seen.
var ErrStaleToken = errors.New("check: stale fencing token")

// FenceStats describes what a fenced resource has seen.
type FenceStats struct {
	Highest  int64 // the highest token accepted
	Accepted int64 // writes accepted
	Rejected int64 // writes rejected as stale
}

// A Fence is a simulated resource in one process that guards its writes
// with fencing tokens, as the storage behind a lease lock must: it accepts a
// write whose token is at least the highest it has accepted, and rejects
// one with a lower token. Equal tokens are accepted, since one holder may
// write many times under one grant. The zero value has seen no token.
type Fence struct {
	mu sync.Mutex
	st FenceStats
}

// Write performs a write fenced with token. It returns an error wrapping
// ErrStaleToken, and changes nothing, if token is below the highest seen.
func (f *Fence) Write(token int64) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.write(token)
}

// Stats returns what the resource has seen so far.
func (f *Fence) Stats() FenceStats {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st
}

func (st *FenceStats) write(token int64) error {
	if token < st.Highest {
		st.Rejected++
		return fmt.Errorf("%w: %d < %d", ErrStaleToken, token, st.Highest)
	}
	st.Highest = token
	st.Accepted++
	return nil
}
