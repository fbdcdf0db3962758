package redislock

import (
	"fmt"
	"reflect"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/internal/lease"
	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/lock"
)

// A Client grants leases on locks kept in one Redis deployment. It is safe
// for concurrent use; create one per Redis client and share it.
//
// Within a Client, goroutines that want the same lock queue locally in FIFO
// order and only the one at the head talks to Redis. A Client has one
// subscription, on a channel of its own, through which a release hands it
// a lock its waiter queued for, and one goroutine that renews all its
// leases.
type Client struct {
	tr      transport // single or redlock, set by New or NewRedlock
	cfg     config
	otel    *lockotel.Instrumentation
	recs    *lockotel.Recorders // the mutexes', by name
	semRecs *lockotel.Recorders // the semaphores', by name

	// The renewer, cleanups and the subscriber, and the context that
	// Close cancels, with cause errClosed.
	group   lease.Group
	done    <-chan struct{} // group.Context().Done()
	hub     hub
	renewer renewer

	mu     sync.Mutex
	queues map[string]*localQueue // by lock key
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

// newClient returns a Client with the options, whose waiters subscribe
// through sub, for the caller to set its transport.
func newClient(sub redis.UniversalClient, opts []Option) (*Client, error) {
	cfg, err := defaultConfig().with(opts)
	if err != nil {
		return nil, err
	}
	in := lockotel.NewHandled(ScopeName, cfg.otel)
	c := &Client{
		cfg:     cfg,
		otel:    in,
		recs:    in.Recorders(lockotel.KindRedis),
		semRecs: in.Recorders(kindSemaphore),
		queues:  make(map[string]*localQueue),
	}
	c.group.Init()
	c.done = c.group.Context().Done()
	c.hub.init(c, sub, cfg.prefix)
	c.renewer.c, c.renewer.kick = c, make(chan struct{}, 1)
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
	if !c.group.Close(errClosed) {
		return nil
	}
	c.hub.close()
	c.group.Wait()
	return nil
}

// errClosed is the error of calls on a closed Client.
var errClosed = fmt.Errorf("redislock: client closed: %w", lock.ErrClosed)

// isClosed reports whether Close has been called.
func (c *Client) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}
