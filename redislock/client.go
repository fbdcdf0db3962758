package redislock

import (
	"context"
	"fmt"
	"reflect"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/lock"
)

// A Client grants leases on locks kept in one Redis deployment. It is safe
// for concurrent use; create one per Redis client and share it.
//
// Within a Client, goroutines that want the same lock queue locally in FIFO
// order and only the one at the head talks to Redis. Waiters are woken by a
// message the release publishes, through one subscription per Client.
type Client struct {
	tr  transport // single or redlock, set by New or NewRedlock
	cfg config
	in  *lockotel.Instrumentation

	ctx    context.Context // cancelled by Close, with cause errClosed
	cancel context.CancelCauseFunc
	done   <-chan struct{} // ctx.Done()
	wg     sync.WaitGroup  // lease goroutines, cleanups and the subscriber
	hub    hub

	mu     sync.Mutex
	closed bool
	queues map[string]*localQueue        // by lock key
	recs   map[string]*lockotel.Recorder // by lock name; see recorder
}

// New returns a Client that keeps locks in rdb, a standalone, Sentinel
// failover or Cluster client from go-redis. The options set the defaults of
// every lease; see Option.
//
// So that context deadlines bound each Redis call, rdb must be created with
// ContextTimeoutEnabled set (go-redis otherwise ignores deadlines on socket
// reads and waits for ReadTimeout): New reports a *redis.Client,
// *redis.ClusterClient or *redis.Ring without it as an invalid argument.
// Cancellation is honoured by the package itself; see the package
// documentation.
//
// New reports a nil rdb or an invalid option with an error wrapping
// lock.ErrInvalidArgument. The Client does not own rdb: Close leaves it
// open.
func New(rdb redis.UniversalClient, opts ...Option) (*Client, error) {
	if err := checkRedis(rdb); err != nil {
		return nil, err
	}
	c, err := newClient(rdb, opts)
	if err != nil {
		return nil, err
	}
	c.tr = newSingle(c, rdb)
	return c, nil
}

// checkRedis reports a go-redis client that New or NewRedlock cannot use.
func checkRedis(rdb redis.UniversalClient) error {
	if isNil(rdb) {
		return fmt.Errorf("redislock: nil Redis client %T: %w", rdb, lock.ErrInvalidArgument)
	}
	if !contextTimeoutEnabled(rdb) {
		return fmt.Errorf("redislock: %T without ContextTimeoutEnabled ignores context deadlines: %w", rdb, lock.ErrInvalidArgument)
	}
	return nil
}

// newClient returns a Client with the options, subscribing through sub,
// for the caller to set its transport.
func newClient(sub redis.UniversalClient, opts []Option) (*Client, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Client{
		cfg:    cfg,
		in:     instrumentation(cfg),
		queues: make(map[string]*localQueue),
		recs:   make(map[string]*lockotel.Recorder),
	}
	c.ctx, c.cancel = context.WithCancelCause(context.Background())
	c.done = c.ctx.Done()
	c.hub.c, c.hub.rdb = c, sub
	return c, nil
}

// isNil reports whether v, a Redis client, is nil or a nil pointer.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	r := reflect.ValueOf(v)
	return r.Kind() == reflect.Pointer && r.IsNil()
}

// contextTimeoutEnabled reports whether rdb honours context deadlines, as
// far as its type tells.
func contextTimeoutEnabled(rdb redis.UniversalClient) bool {
	switch r := rdb.(type) {
	case *redis.Client:
		return r.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		return r.Options().ContextTimeoutEnabled
	case *redis.Ring:
		return r.Options().ContextTimeoutEnabled
	}
	return true
}

// Close ends every lease the Client granted (releasing its key, closing its
// Done channel, with lock.ErrClosed as the cause), fails the calls that are
// waiting and every later call with an error wrapping lock.ErrClosed, closes
// the shared subscription, and waits until every goroutine of the Client has
// returned. It does not close the Redis client. Close is idempotent.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.cancel(errClosed)
	c.mu.Unlock()
	c.hub.close()
	c.wg.Wait()
	return nil
}

// errClosed is the error of calls on a closed Client.
var errClosed = fmt.Errorf("redislock: client closed: %w", lock.ErrClosed)

// track counts in a goroutine that Close must wait for; the goroutine
// calls c.wg.Done when it returns. It reports false, counting nothing, once
// the Client is closed.
func (c *Client) track() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.wg.Add(1)
	return true
}

// isClosed reports whether Close has been called.
func (c *Client) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// goAsync runs f in a goroutine that Close waits for, or runs it now if the
// Client is closed.
func (c *Client) goAsync(f func()) {
	if !c.track() {
		f()
		return
	}
	go func() {
		defer c.wg.Done()
		f()
	}()
}
