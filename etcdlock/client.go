package etcdlock

import (
	"context"
	"fmt"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/codomyrmex/concurrency/internal/lease"
	"github.com/codomyrmex/concurrency/internal/waitq"
	"github.com/codomyrmex/concurrency/lock"
)

// A Client grants leases on locks kept in one etcd cluster. It is safe for
// concurrent use; create one per etcd client and share it.
type Client struct {
	cli  *clientv3.Client
	cfg  config
	recs recorders

	// The lease goroutines and background revocations, and the context
	// that Close cancels, with cause errClosed.
	group lease.Group

	mu      sync.Mutex
	waiters map[string]*waiters // by lock name; see WithMaxWaiters
}

// waiters counts the calls of a Client that may wait for one lock.
type waiters struct {
	b    waitq.Bound
	refs int // guarded by Client.mu
}

// errClosed is the error of calls on a closed Client.
var errClosed = fmt.Errorf("etcdlock: client closed: %w", lock.ErrClosed)

// New returns a Client that keeps locks in the etcd cluster of cli. The
// options set the defaults of every lease; see Option. A nil cli or an
// invalid option is an error wrapping lock.ErrInvalidArgument. The Client
// does not own cli: Close leaves it open, and cli must stay open until the
// Client is closed.
func New(cli *clientv3.Client, opts ...Option) (*Client, error) {
	if cli == nil {
		return nil, fmt.Errorf("etcdlock: nil etcd client: %w", lock.ErrInvalidArgument)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	c := &Client{
		cli:     cli,
		cfg:     cfg,
		recs:    newRecorders(cfg.telemetry),
		waiters: make(map[string]*waiters),
	}
	c.group.Init()
	return c, nil
}

// Close ends every lease the Client granted (revoking its etcd lease,
// closing its Done channel, with lock.ErrClosed as the cause), fails the
// calls that are waiting and every later call with an error wrapping
// lock.ErrClosed, and waits until every goroutine of the Client has
// returned (each revocation is bounded by a second). It does not close the
// etcd client. Close is idempotent and returns nil.
func (c *Client) Close() error {
	if !c.group.Close(errClosed) {
		return nil
	}
	c.group.Wait()
	return nil
}

// revoke revokes the etcd lease id, deleting its key, within
// lease.CleanupTimeout; if that fails, the etcd lease expires at its TTL,
// and its key with it.
func (c *Client) revoke(ctx context.Context, id clientv3.LeaseID) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), lease.CleanupTimeout)
	defer cancel()
	_, _ = c.cli.Revoke(ctx, id)
}

// revokeAsync is revoke in a goroutine that Close waits for, or now if
// the Client is closed.
func (c *Client) revokeAsync(ctx context.Context, id clientv3.LeaseID) {
	c.group.Go(func() { c.revoke(ctx, id) })
}

// joinWaiters counts a call that may wait for the lock called name in,
// unless max > 0 calls are counted already. It reports whether it did;
// leaveWaiters counts it out.
func (c *Client) joinWaiters(name string, max int) bool {
	c.mu.Lock()
	w := c.waiters[name]
	if w == nil {
		w = new(waiters)
		c.waiters[name] = w
	}
	w.refs++
	c.mu.Unlock()
	if w.b.Join(max) {
		return true
	}
	c.unref(name, w)
	return false
}

func (c *Client) leaveWaiters(name string) {
	c.mu.Lock()
	w := c.waiters[name]
	c.mu.Unlock()
	w.b.Leave()
	c.unref(name, w)
}

func (c *Client) unref(name string, w *waiters) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if w.refs--; w.refs == 0 {
		delete(c.waiters, name)
	}
}
