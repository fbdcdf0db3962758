package redislock

import (
	"fmt"
	"strings"
	"time"

	"github.com/codomyrmex/concurrency/internal/lease"
	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/lock"
)

// Defaults of the lease configuration.
const (
	// DefaultTTL is the lease TTL when no option sets one. Each renewal
	// resets the key's TTL to it.
	DefaultTTL = 30 * time.Second
	// DefaultRenewInterval is how often the watchdog renews a lease when no
	// option sets a TTL.
	DefaultRenewInterval = 10 * time.Second
	// DefaultPrefix is the namespace of the keys and channels a Client uses.
	DefaultPrefix = "lock"

	// minTTL is the shortest TTL accepted.
	minTTL = 10 * time.Millisecond
	// minRenewInterval is the shortest renewal interval accepted; the
	// longest is half the TTL.
	minRenewInterval = time.Millisecond
)

// An Option configures a Client (given to New, it sets the default of every
// lease the Client grants) or one acquisition (given to Obtain, TryObtain or
// NewMutex, it overrides that default).
type Option interface {
	apply(*config)
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// config is the lease configuration.
type config struct {
	prefix string
	// The key's TTL after each acquire and renewal, whether a watchdog
	// renews it (with WithTTL, Fixed is set and Renew 0), and the
	// maximum hold.
	lease.Timing
	ttlArg millis // TTL for the scripts; set by validate
	entry  millis // a waiter's queue entry lifetime, min(queueEntry, TTL); set by validate

	maxWaiters int // see WithMaxWaiters; ≤ 0 means no bound

	otel lockotel.Providers // used by New only
}

func defaultConfig() config {
	return config{prefix: DefaultPrefix, Timing: lease.Timing{TTL: DefaultTTL, Renew: DefaultRenewInterval}}
}

// WithTTL gives leases a fixed TTL and no watchdog: the lease ends ttl after
// it was requested unless Extend renews it. (A release that hands the lock
// to a waiting Obtain sets the key for the queue entry's lifetime, at most
// 3s; if ttl is longer, the lease is extended to it once, at once.) ttl
// must be at least 10ms; it is rounded down to a whole millisecond.
func WithTTL(ttl time.Duration) Option {
	return optionFunc(func(c *config) { c.TTL, c.Fixed, c.Renew = ttl, true, 0 })
}

// WithWatchdog renews leases automatically: the key gets TTL ttl, and every
// renewInterval the Client's renewer resets it, until the lease is
// released or lost (a lease that a release handed over is renewed the
// first time after half its validity, if that is sooner; renewals of the
// Client's leases that fall due close together go in one round trip). A
// failed renewal is retried every renewInterval/4 (with jitter) while the
// lease is still valid. The default is WithWatchdog(DefaultTTL,
// DefaultRenewInterval).
//
// ttl must be at least 10ms; it is rounded down to a whole millisecond.
// renewInterval must be at least 1ms and at most half of ttl (as rounded),
// so that a renewal that failed can be retried before the lease's validity
// runs out and a lease does not flood the server with renewals. Any other
// value, zero included, is an error wrapping lock.ErrInvalidArgument,
// reported by New or NewRedlock, or for a per-call option by Obtain,
// TryObtain or the Mutex's Lock and TryLock. No interval turns renewal
// off: for leases that only Extend renews, use WithTTL.
func WithWatchdog(ttl, renewInterval time.Duration) Option {
	return optionFunc(func(c *config) { c.TTL, c.Fixed, c.Renew = ttl, false, renewInterval })
}

// WithMaxHold bounds how long a lease may be held: d after it was granted,
// the lease is released and ends with an error wrapping lock.ErrLockLost,
// even if its watchdog could renew it. Zero (the default) means no bound.
func WithMaxHold(d time.Duration) Option {
	return optionFunc(func(c *config) { c.MaxHold = d })
}

// WithPrefix sets the namespace of the keys and channels: the lock named
// name lives in the key prefix:{name}, its fencing counter in
// prefix:{name}:fence (which never expires: see the package documentation
// on deleting it when the name is retired), its queue of waiters in
// prefix:{name}:waiters and prefix:{name}:waiters:entries (short-lived,
// present only while some Client waits). Given to New or NewRedlock, it
// also names the Client's channel, prefix:client: and 26 random
// characters, on which releases hand the Client the locks its waiters
// queued for.
// The braces are a Redis Cluster hash tag that keeps the keys in one slot.
// The default is DefaultPrefix. A prefix containing '{' or '}' is an error
// (wrapping lock.ErrInvalidArgument) when the option is used: it would
// break the hash tag and let two prefixes map one name to the same key.
func WithPrefix(prefix string) Option {
	return optionFunc(func(c *config) { c.prefix = prefix })
}

// WithMaxWaiters bounds the goroutines of the Client that wait for one
// lock: an Obtain or Mutex.Lock that finds n goroutines of the Client in
// Obtain or Mutex.Lock for the same name, none of which holds it yet,
// fails at once with a *lock.TooManyWaitersError, without a
// Redis call and holding nothing. Those n are ahead of it in the Client's
// FIFO for the name (whose first talks to Redis, possibly waiting for
// another holder), so it would have to wait behind all of them. Other
// Clients and processes are not counted. n ≤ 0 means no bound (the
// default).
//
// Given to New it sets the Client's bound; given to Obtain or NewMutex it
// overrides it for those calls: each call is checked against its own
// bound, and counts towards everyone's. TryObtain and Mutex.TryLock never
// wait and are not affected.
func WithMaxWaiters(n int) Option {
	return optionFunc(func(c *config) { c.maxWaiters = n })
}

// checkName reports a name that cannot be a lock's, a semaphore's or an
// RW lock's.
func checkName(name string) error {
	if name == "" {
		return fmt.Errorf("redislock: empty lock name: %w", lock.ErrInvalidArgument)
	}
	if strings.HasPrefix(name, "}") {
		// "{}" is an empty hash tag, which Redis Cluster ignores; the
		// keys of one name could then land in different slots.
		return fmt.Errorf("redislock: lock name %q starts with '}': %w", name, lock.ErrInvalidArgument)
	}
	return nil
}

// base returns the key that the keys of the semaphore or RW lock called
// name begin with: prefix:{name}:suffix.
func (c *config) base(name, suffix string) string {
	return c.prefix + ":{" + name + "}:" + suffix
}

// with returns a copy of c with opts applied, validated.
func (c config) with(opts []Option) (config, error) {
	for _, o := range opts {
		o.apply(&c)
	}
	return c, c.validate()
}

func (c *config) validate() error {
	if c.TTL < minTTL {
		return fmt.Errorf("redislock: TTL %v is below %v: %w", c.TTL, minTTL, lock.ErrInvalidArgument)
	}
	c.TTL = c.TTL.Truncate(time.Millisecond) // PX and PEXPIRE take milliseconds
	if err := c.Timing.Check(backend, minRenewInterval); err != nil {
		return err
	}
	if strings.ContainsAny(c.prefix, "{}") {
		return fmt.Errorf("redislock: prefix %q contains a brace: %w", c.prefix, lock.ErrInvalidArgument)
	}
	c.ttlArg = newMillis(c.TTL)
	c.entry = newMillis(min(queueEntry, c.TTL))
	return nil
}

// keys are the Redis names of one lock (see WithPrefix). Script calls
// pass them by pointer (see script.eval).
type keys struct {
	lock    string // prefix:{name}: the holder's token
	fence   string // prefix:{name}:fence: the fencing counter
	queue   string // prefix:{name}:waiters: the waiting tokens, in order
	entries string // prefix:{name}:waiters:entries: their entries (see lua/lock.lua)
}

func (c *config) keys(name string) (keys, error) {
	if err := checkName(name); err != nil {
		return keys{}, err
	}
	// One allocation for the four: the lock and fence keys are prefixes
	// of the first half, the queue keys of the second.
	const fence, queue, entries = ":fence", ":waiters", ":entries"
	s := c.prefix + ":{" + name + "}" + fence + c.prefix + ":{" + name + "}" + queue + entries
	n := len(c.prefix) + len(name) + 3
	q := s[n+len(fence):]
	return keys{lock: s[:n], fence: s[:n+len(fence)], queue: q[:n+len(queue)], entries: q}, nil
}
