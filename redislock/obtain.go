package redislock

import (
	"context"

	"github.com/codomyrmex/concurrency/internal/lockotel"
)

// Obtain acquires the lock called name and returns its lease, waiting while
// another holder has it. The options override the Client's defaults for
// this lease.
//
// ctx bounds both the wait and the hold: if ctx ends before Obtain returns,
// Obtain fails with an error satisfying errors.Is(err, ctx.Err()) and
// errors.Is(err, context.Cause(ctx)), and the caller holds nothing (a grant
// that raced with the end of ctx is released by its token in the
// background). If ctx ends while the lease is held, the lease ends: it is
// released and its Done channel closes. To bound only the wait, pass a
// context derived from context.WithoutCancel, or use a Mutex.
//
// While the lock is held elsewhere, Obtain queues in Redis, behind the
// waiters of other Clients (and processes) that came before it, and waits
// until a release hands it the lock: the release sets the key to Obtain's
// token and sends a message to its Client, so the handoff takes about a
// round trip and no command of the waiter. Meanwhile Obtain refreshes its
// place in the queue every third of the entry's lifetime (3s, or the TTL
// if shorter; a second by default), which also finds a grant whose message
// was lost, and it tries again as soon as the holder's key expires.
// Goroutines of one Client waiting for the same lock queue in FIFO order
// and only the first of them queues in Redis. A Redlock Client polls
// instead (see NewRedlock).
//
// A Redis call that fails for a transport error or a transient error reply
// (LOADING, BUSY, READONLY, OOM, ...) is retried with jittered backoff
// (from 10ms, doubling up to 1s) until ctx ends, with one bound that needs
// no deadline: with a go-redis client of one fixed address (a
// *redis.Client from redis.NewClient), once every call for 2s has failed
// to connect to the server (each after go-redis's own dial retries:
// Options.DialerRetries tries, 5 by default, each bounded by DialTimeout),
// Obtain fails with an error wrapping the last dial error, a *net.OpError
// (connection refused, or a dial timeout). Against a server that is down,
// an Obtain under a context without deadline thus returns after those 2s
// plus about one round of go-redis's dial retries, while a restart
// shorter than that is ridden out. A server that accepts connections but
// does not answer (stopped with SIGSTOP, stalled, or behind a proxy that
// does not forward) cannot be told from a slow one, and only ctx bounds
// the wait for it, as it does for clients that can reach another server
// after a failover (Sentinel failover, Cluster, Ring) and for a Redlock,
// which ride out servers that are down: give Obtain a deadline. Any other
// error reply (NOPERM, WRONGTYPE, ...) or a closed go-redis client fails
// the call at once.
//
// Errors: lock.ErrInvalidArgument for a bad name or option,
// lock.ErrClosed once the Client is closed, a *lock.TooManyWaitersError
// when the bound of WithMaxWaiters refuses the call, the context's error, and
// the Redis client's errors (wrapped) for the failures above.
func (c *Client) Obtain(ctx context.Context, name string, opts ...Option) (*Lease, error) {
	return c.obtain(ctx, ctx, name, true, opts)
}

// TryObtain is Obtain without waiting: it makes one attempt and fails with
// an error wrapping lock.ErrNotAcquired if another holder has the lock, a
// live waiter is queued in Redis for it (a free lock then goes to that
// waiter), or another goroutine of this Client holds or waits for it. It
// does not queue. A failed Redis call is returned as it is. ctx bounds the
// attempt and the hold, as for Obtain.
func (c *Client) TryObtain(ctx context.Context, name string, opts ...Option) (*Lease, error) {
	return c.obtain(ctx, ctx, name, false, opts)
}

// A spec is what an acquisition needs to know about its target: the name,
// the target, the weight it takes, the lease configuration and the
// telemetry recorder.
type spec struct {
	name      string
	k         keys   // a mutex's keys
	t         target // a semaphore's or an RW lock side's; nil for a mutex, whose lease points at its own copy of k
	local     string // the key of the local FIFO: a mutex's key, or the base key of another target
	weight    int64  // 1 but for a semaphore
	weightArg any    // the weight for the script (a semaphore's); nil for the other targets
	cfg       config
	rec       *lockotel.Recorder // nil if telemetry is off
}

// spec validates a lock name and the options that override the Client's
// defaults for it.
func (c *Client) spec(name string, opts []Option) (spec, error) {
	cfg, err := c.config(opts)
	if err != nil {
		return spec{}, err
	}
	k, err := cfg.keys(name)
	if err != nil {
		return spec{}, err
	}
	return spec{name: name, k: k, local: k.lock, weight: 1, cfg: cfg, rec: c.recs.Get(name)}, nil
}

// config returns the Client's configuration with opts applied, validated.
func (c *Client) config(opts []Option) (config, error) {
	if len(opts) == 0 {
		return c.cfg, nil // validated by New
	}
	return c.cfg.with(opts)
}

// obtain acquires a lease. ctx bounds the acquisition, holdCtx the lease.
func (c *Client) obtain(ctx, holdCtx context.Context, name string, wait bool, opts []Option) (*Lease, error) {
	s, err := c.spec(name, opts)
	if err != nil {
		return nil, err
	}
	return c.acquire(ctx, holdCtx, &s, wait)
}
