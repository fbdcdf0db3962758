package redislock

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/internal/lease"
	"github.com/codomyrmex/concurrency/lock"
)

// NewRedlock returns a Client that keeps each lock on a majority of
// independent Redis servers, following the Redlock algorithm: an acquire
// runs the obtain script on every server in parallel and succeeds when a
// quorum (len(rdbs)/2 + 1) granted it and the validity, counted from before
// the requests were sent, has not run out. It returns as soon as the
// outcome is known: a quorum granted, too few servers are left to make one,
// or, while the outcome is open, after a per-node timeout small against
// the TTL (a twentieth of it, between 10ms and 50ms), so that a silent
// server costs nobody more than that. The calls still in flight carry on in
// the background until the validity runs out, so that the lock lands on
// every server that answers. A failed attempt is given back in the
// background (at once, and again once every server has answered), and the
// next attempt uses a new token, after a random delay when contenders
// split the servers between them. Renewals and releases go to every server
// and need a quorum too, so a lease survives the loss, or the silence, of a
// minority of the servers. Waiters do not queue: they poll, after a
// jittered delay that grows from 10ms to 200ms while the lock stays held
// (see redlock).
//
// Use an odd number of servers, at least three, that share nothing: no
// replication between them, and restarts delayed by more than the longest
// TTL or with AOF fsync always, or a restarted server can hand a lock out
// again. Redlock buys availability, not correctness: it is still an
// efficiency lock under process pauses and clock jumps (see the package
// documentation), and it has no fencing token, because counters on
// independent servers do not form one sequence: Fence returns 0 for its
// leases.
//
// The servers must be distinct go-redis clients, each as New requires, of
// distinct servers: one server given twice would cast two votes of a
// quorum. NewRedlock reports, with an error wrapping
// lock.ErrInvalidArgument, the same client given twice, and two
// *redis.Client with the same address: the same Unix socket path, or the
// same TCP host and port, where host names are compared without case and
// localhost, an empty host, 127.0.0.1, ::1 and the unspecified addresses
// count as one host. It cannot see other aliases (two DNS names of one
// host, a proxy in front of a server, Sentinel or Cluster clients of one
// deployment).
func NewRedlock(rdbs []redis.UniversalClient, opts ...Option) (*Client, error) {
	if len(rdbs) == 0 {
		return nil, fmt.Errorf("redislock: Redlock with no servers: %w", lock.ErrInvalidArgument)
	}
	addrs := make([]string, len(rdbs))
	for i, rdb := range rdbs {
		if isNil(rdb) {
			continue // reported by checkRedis
		}
		addrs[i] = serverAddr(rdb)
		for j, other := range rdbs[:i] {
			switch {
			case isNil(other):
			case sameClient(rdb, other):
				return nil, fmt.Errorf("redislock: Redlock servers %d and %d are the same client: %w", j, i, lock.ErrInvalidArgument)
			case addrs[i] != "" && addrs[i] == addrs[j]:
				return nil, fmt.Errorf("redislock: Redlock servers %d and %d have the same address %s: %w", j, i, addrs[i], lock.ErrInvalidArgument)
			}
		}
	}
	for _, rdb := range rdbs {
		if err := checkRedis(rdb); err != nil {
			return nil, err
		}
	}
	c, err := newClient(rdbs[0], opts)
	if err != nil {
		return nil, err
	}
	if len(rdbs) == 1 {
		// A quorum of one server: the Client is one of New.
		c.tr = newSingle(c, rdbs[0])
	} else {
		c.tr = &redlock{c: c, servers: append([]redis.UniversalClient(nil), rdbs...)}
	}
	return c, nil
}

// sameClient reports whether a and b are the same client.
func sameClient(a, b redis.UniversalClient) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	switch {
	case va.Type() != vb.Type():
		return false
	case va.Kind() == reflect.Pointer:
		return va.Pointer() == vb.Pointer()
	default:
		return va.Comparable() && va.Equal(vb)
	}
}

// redlockRetry bounds the random delay before a Redlock waiter tries again
// after a split vote; redlockPoll bounds its delay between attempts while
// the lock is held (the delay doubles from minBackoff up to it).
const (
	redlockRetry = 20 * time.Millisecond
	redlockPoll  = 200 * time.Millisecond
)

// redlock is the transport of a Client made by NewRedlock with several
// servers: every script runs on all of them in parallel (see fanout), and
// its outcome is what a quorum of them says.
//
// Its waiters do not queue in Redis: queues on independent servers would
// not agree on an order, and a release on each server would hand the lock
// to a different waiter, none of which might reach a quorum. They poll
// instead, with a jittered delay that grows from minBackoff to
// redlockPoll, so that they do not split the servers between them. Each
// attempt has its own token, and one that did not become a lease is given
// back in the background: the release would undo a later attempt's grants
// if they shared the token.
//
// A lease holds on the quorum of servers that its target asks for: a
// majority for a mutex and a reader/writer lock, more for a semaphore
// (see semaphoreQuorum).
type redlock struct {
	c       *Client
	servers []redis.UniversalClient // two or more, distinct
}

func (r *redlock) obtain(ctx context.Context, call acquireCall) attempt {
	call.probe, call.entry, call.channel, call.stamp = probeOff, noEntry, noChannel, noStamp
	q := call.t.quorum(len(r.servers))
	var (
		t     tally
		calls <-chan struct{}
	)
	if ctx.Done() == nil {
		t, calls = r.obtainAll(ctx, call, q)
	} else {
		var err error
		if t, calls, err = r.obtainInterruptible(ctx, call, q); err != nil {
			return attempt{err: err}
		}
	}
	ok, err := r.verdict(t, q)
	if ok {
		return attempt{held: true, calls: calls}
	}
	o := attempt{retryIn: time.Duration(t.n) * time.Millisecond, err: err, calls: calls}
	if t.no < len(r.servers) {
		// Give back the servers we may have taken, so that two
		// contenders holding a minority each do not block each other.
		r.c.giveBack(ctx, releaseCall{t: call.t, token: call.token}, calls)
		if t.ok > 0 && err == nil {
			// A split vote: the others give theirs back too. Try
			// again after a random delay, not the keys' TTL.
			o.retryIn = jitter(redlockRetry).Truncate(time.Millisecond)
		}
	}
	return o
}

// obtainAll runs call on every server (see fanout), for a quorum of q.
// Each server has until the lease's validity would run out to answer, but
// the outcome is decided without the servers that have not answered within
// nodeTimeout.
func (r *redlock) obtainAll(ctx context.Context, call acquireCall, q int) (tally, <-chan struct{}) {
	ttl := call.ttl.duration()
	ctx, cancel := context.WithDeadline(ctx, lease.ValidUntil(time.Now(), ttl))
	defer cancel()
	return r.fanout(ctx, call, q, obtained, nodeTimeout(ttl))
}

// obtainInterruptible is obtainAll under Client.interruptible, for a ctx
// that can be cancelled; an abandoned attempt is given back.
func (r *redlock) obtainInterruptible(ctx context.Context, call acquireCall, q int) (tally, <-chan struct{}, error) {
	var (
		t     tally
		calls <-chan struct{}
	)
	err := r.c.interruptible(ctx, func(ctx context.Context) error {
		t, calls = r.obtainAll(ctx, call, q)
		return nil
	}, func() { r.c.giveBack(context.Background(), releaseCall{t: call.t, token: call.token}, calls) })
	if err != nil {
		return tally{}, nil, err // t belongs to the abandoned call
	}
	return t, calls, nil
}

func (r *redlock) extend(ctx context.Context, call extendCall) (bool, error) {
	call.probe = probeOff
	q := call.t.quorum(len(r.servers))
	t, _ := r.fanout(ctx, call, q, acted, 0)
	return r.verdict(t, q)
}

// extendAll runs the calls in parallel, each on every server.
func (r *redlock) extendAll(ctx context.Context, calls []extendCall, results []renewal) {
	var wg sync.WaitGroup
	for i, call := range calls {
		wg.Go(func() {
			ok, err := r.extend(ctx, call)
			results[i] = renewal{ok: ok, err: err}
		})
	}
	wg.Wait()
}

func (r *redlock) release(ctx context.Context, call releaseCall) (bool, error) {
	call.probe = probeOff
	q := call.t.quorum(len(r.servers))
	t, _ := r.fanout(ctx, call, q, acted, 0)
	return r.verdict(t, q)
}

// retryToken returns a new token: a failed attempt is given back in the
// background.
func (r *redlock) retryToken(token) token { return newToken() }

// lateGrant gives the attempt back: the next one has a new token.
func (r *redlock) lateGrant(ctx context.Context, rel releaseCall, o attempt) {
	r.c.giveBack(ctx, rel, o.calls)
}

// queues returns false: waiters poll.
func (r *redlock) queues() bool { return false }

// query runs call on every server in parallel, and waits for every one to
// answer or fail (each bounded by ctx and the go-redis timeouts).
func (r *redlock) query(ctx context.Context, call queryCall) ([][]int64, error) {
	call.probe = probeOff
	var (
		replies [][]int64
		first   error
	)
	err := r.c.interruptible(ctx, func(ctx context.Context) error {
		res := make([][]int64, len(r.servers))
		errs := make([]error, len(r.servers))
		var wg sync.WaitGroup
		for i, rdb := range r.servers {
			wg.Go(func() { res[i], errs[i] = call.run(ctx, rdb) })
		}
		wg.Wait()
		for i, err := range errs {
			switch {
			case err == nil:
				replies = append(replies, res[i])
			case first == nil:
				first = err
			}
		}
		return nil
	}, nil)
	if err != nil {
		return nil, err // replies belong to the abandoned call
	}
	return replies, first
}

func (r *redlock) nodes() int { return len(r.servers) }
