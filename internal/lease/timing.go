package lease

import (
	"fmt"
	"time"

	"github.com/codomyrmex/concurrency/lock"
)

// Timing is the timing of a backend's leases, as its options set it (see
// the backend's WithTTL, WithWatchdog and WithMaxHold).
type Timing struct {
	TTL     time.Duration // set by every grant and renewal
	Fixed   bool          // WithTTL: no watchdog renews a held lease
	Renew   time.Duration // the renewal period
	MaxHold time.Duration // 0: unlimited
}

// Check reports the rules that every backend's timing follows, in an
// error of b wrapping lock.ErrInvalidArgument: with a watchdog (Fixed
// unset), Renew must lie between minRenew and half the TTL, so that a
// renewal that failed can be retried before the validity runs out and a
// lease does not flood the server; MaxHold must not be negative. The
// backend checks its TTL itself, before.
func (t *Timing) Check(b *Backend, minRenew time.Duration) error {
	switch {
	case !t.Fixed && (t.Renew < minRenew || t.Renew > t.TTL/2):
		return fmt.Errorf("%s: renewal interval %v is not between %v and half the TTL %v: %w", b.name, t.Renew, minRenew, t.TTL, lock.ErrInvalidArgument)
	case t.MaxHold < 0:
		return fmt.Errorf("%s: max hold %v is negative: %w", b.name, t.MaxHold, lock.ErrInvalidArgument)
	}
	return nil
}
