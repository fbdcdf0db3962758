package etcdlock

import (
	"fmt"
	"net/url"
	"time"

	"github.com/codomyrmex/concurrency/internal/lease"
	"github.com/codomyrmex/concurrency/lock"
)

// Defaults of the lease configuration.
const (
	// DefaultTTL is the TTL of the etcd lease of each acquisition when no
	// option sets one. Each renewal resets the lease to it.
	DefaultTTL = 30 * time.Second
	// DefaultRenewInterval is how often the watchdog renews a lease when
	// no option sets a TTL.
	DefaultRenewInterval = 10 * time.Second
	// DefaultPrefix is the namespace of the keys a Client writes.
	DefaultPrefix = "lock/"

	// minTTL is the shortest TTL accepted: etcd leases are whole seconds.
	minTTL = time.Second
	// minRenewInterval is the shortest renewal interval accepted; the
	// longest is half the TTL.
	minRenewInterval = 10 * time.Millisecond
)

// An Option configures a Client (given to New, it sets the default of
// every lease the Client grants) or one acquisition (given to Obtain,
// TryObtain, Do or NewMutex, it overrides that default).
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is the lease configuration.
type config struct {
	prefix string
	// The etcd lease's TTL (a whole number of seconds), whether a watchdog
	// renews it once held (with WithTTL, Fixed is set), the renewal
	// period (while waiting, also for a fixed TTL), and the maximum hold.
	lease.Timing
	maxWaiters int // see WithMaxWaiters; ≤ 0 means no bound

	telemetry telemetryConfig // used by New only
}

func defaultConfig() config {
	return config{prefix: DefaultPrefix, Timing: lease.Timing{TTL: DefaultTTL, Renew: DefaultRenewInterval}}
}

// WithTTL gives leases a fixed TTL and no watchdog once the lock is held:
// the lease ends ttl after its last renewal unless Extend renews it. While
// the call waits for the lock, its etcd lease (to which its place in the
// queue is attached) is renewed every ttl/3 all the same, so a lock
// obtained after a wait has between two thirds of ttl and ttl left. ttl
// must be a whole number of seconds, at least one (etcd counts leases in
// seconds).
func WithTTL(ttl time.Duration) Option {
	return optionFunc(func(c *config) { c.TTL, c.Fixed, c.Renew = ttl, true, ttl/3 })
}

// WithWatchdog renews leases automatically: the etcd lease gets TTL ttl,
// and every renewInterval the lease's goroutine renews it (KeepAliveOnce),
// from the moment the call is queued until the lease is released or lost.
// A failed renewal is retried every renewInterval/4 (with jitter) while
// the lease is still valid. The default is WithWatchdog(DefaultTTL,
// DefaultRenewInterval).
//
// ttl must be a whole number of seconds, at least one; renewInterval must
// be at least 10ms and at most half of ttl. Any other value is an error
// wrapping lock.ErrInvalidArgument, reported by New, or for a per-call
// option by Obtain, TryObtain, Do or the Mutex's Lock and TryLock. For
// leases that only Extend renews, use WithTTL.
func WithWatchdog(ttl, renewInterval time.Duration) Option {
	return optionFunc(func(c *config) { c.TTL, c.Fixed, c.Renew = ttl, false, renewInterval })
}

// WithMaxHold bounds how long a lease may be held: d after it was granted,
// the lease is released and ends with an error wrapping lock.ErrLockLost,
// even if its watchdog could renew it. Zero (the default) means no bound;
// a negative d is an error wrapping lock.ErrInvalidArgument.
func WithMaxHold(d time.Duration) Option {
	return optionFunc(func(c *config) { c.MaxHold = d })
}

// WithPrefix sets the namespace of the keys: the lock named name is the
// set of keys under prefix + url.PathEscape(name) + "/", one per holder or
// waiter, each named by its etcd lease ID in 16 hexadecimal digits. The
// default is DefaultPrefix. Clients that share an etcd cluster must use
// prefixes of which none begins with another, unless they are the same:
// "locks/" and "locks/a/" would let a lock of the first be confused with
// the locks of the second.
func WithPrefix(prefix string) Option {
	return optionFunc(func(c *config) { c.prefix = prefix })
}

// WithMaxWaiters bounds the goroutines of the Client that wait for one
// lock: an Obtain, Do or Mutex.Lock that finds n goroutines of the Client
// in Obtain, Do or Mutex.Lock for the same name, none of which holds it
// yet, fails at once with a *lock.TooManyWaitersError, without an etcd
// call and holding nothing. Other Clients and processes are not counted.
// n ≤ 0 means no bound (the default). TryObtain and Mutex.TryLock never
// wait and are not affected.
func WithMaxWaiters(n int) Option {
	return optionFunc(func(c *config) { c.maxWaiters = n })
}

func (c *config) validate() error {
	if c.TTL < minTTL || c.TTL%time.Second != 0 {
		return fmt.Errorf("etcdlock: TTL %v is not a whole number of seconds of at least %v: %w", c.TTL, minTTL, lock.ErrInvalidArgument)
	}
	return c.Timing.Check(backend, minRenewInterval)
}

// dir returns the key prefix of the lock called name: its holder and
// waiters are the keys under it.
func (c *config) dir(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("etcdlock: empty lock name: %w", lock.ErrInvalidArgument)
	}
	// PathEscape escapes '/' and '%', so that no name's keys lie under
	// another name's prefix.
	return c.prefix + url.PathEscape(name) + "/", nil
}
