package lease

import (
	"fmt"
	"time"

	"github.com/codomyrmex/concurrency/lock"
)

// CleanupTimeout bounds the calls a backend makes on its own behalf,
// without a caller's context: releasing the lock of an acquisition that
// was abandoned or of a lease that the backend ended itself (Close, the
// holder's context, the maximum hold), the release in Mutex.Unlock and in
// Do, and the retry of a release whose outcome was unknown. A lock whose
// release fails expires with its TTL.
const CleanupTimeout = time.Second

// A Backend is one lease backend as its errors name it.
type Backend struct {
	name     string // the backend's package name, which begins its errors
	released error  // the cause of a lease that Release ended
}

// NewBackend returns the backend of the package called name (such as
// "redislock"): its errors begin with name, and a lease that Release
// ended has the cause "name: lease released", which wraps
// lock.ErrNotHeld.
func NewBackend(name string) *Backend {
	return &Backend{name: name, released: fmt.Errorf("%s: lease released: %w", name, lock.ErrNotHeld)}
}
