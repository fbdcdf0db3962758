package redislock

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// errNodeTimeout is the error of a Redlock acquire that some nodes did not
// answer within the per-node timeout.
var errNodeTimeout = errors.New("redislock: no answer within the Redlock per-node timeout")

// A tally is the outcome of one script on every node of a Client.
type tally struct {
	ok, no int   // nodes where the token acted, and where it did not
	errs   int   // nodes that failed to answer, or were not waited for
	err    error // the first of their errors
	n      int64 // the value of a single node; the largest over the "no" nodes otherwise
	nOK    int64 // the value of a single "ok" node
}

// A scriptCall is one call of a lock script, with its arguments:
// obtainCall, extendCall or releaseCall.
type scriptCall interface {
	run(ctx context.Context, rdb redis.UniversalClient) (int64, error)
}

// fanout runs call on every node, in parallel when there are several, and
// tallies the results: decode turns a node's reply into whether the token
// acted and a value. On several nodes it returns as soon as the outcome on
// a quorum is known (see fanoutMany).
func (c *Client) fanout(ctx context.Context, call scriptCall, decode func(int64) (bool, int64)) tally {
	t, _ := c.fanoutAll(ctx, call, decode, 0)
	return t
}

// fanoutAll is fanout that also returns a channel closed once the call on
// every node has returned. If patience is positive, a Redlock stops
// waiting for the nodes that have not answered by then, as if they had
// failed.
func (c *Client) fanoutAll(ctx context.Context, call scriptCall, decode func(int64) (bool, int64), patience time.Duration) (tally, <-chan struct{}) {
	if len(c.nodes) == 1 {
		var t tally
		r, err := call.run(ctx, c.rdb)
		t.add(decode, r, err)
		return t, closedChan
	}
	return c.fanoutMany(ctx, call, decode, patience)
}

// fanoutMany is fanout on several nodes. It returns once a quorum of the
// nodes acted, once too few nodes are left to make one, or once ctx is
// done or patience has run out, so that a node that does not answer delays
// nobody while a quorum does. The calls still in flight then finish in the
// background (Close waits for them), and the returned channel is closed
// when they have. They keep ctx's deadline but not its cancellation: a
// caller that returns and cancels its context does not stop the calls to
// the slower nodes, so that a lock is taken, renewed and released on every
// node that answers, not only on the quickest quorum. Without a deadline
// they are bounded by the go-redis timeouts.
func (c *Client) fanoutMany(ctx context.Context, call scriptCall, decode func(int64) (bool, int64), patience time.Duration) (tally, <-chan struct{}) {
	type reply struct {
		r   int64
		err error
	}
	nctx, cancel := context.WithoutCancel(ctx), context.CancelFunc(func() {})
	if d, ok := ctx.Deadline(); ok {
		nctx, cancel = context.WithDeadline(nctx, d)
	}
	replies := make(chan reply, len(c.nodes))
	var calls sync.WaitGroup
	for _, rdb := range c.nodes {
		calls.Go(func() {
			r, err := call.run(nctx, rdb)
			replies <- reply{r, err}
		})
	}
	var impatient <-chan time.Time
	if patience > 0 {
		timer := time.NewTimer(patience)
		defer timer.Stop()
		impatient = timer.C
	}
	var t tally
	giveUp := func(err error) { // the nodes yet to answer count as failed
		t.errs = len(c.nodes) - t.ok - t.no
		if t.err == nil {
			t.err = err
		}
	}
collect:
	for range c.nodes {
		select {
		case rp := <-replies:
			t.add(decode, rp.r, rp.err)
			if t.ok >= c.quorum || len(c.nodes)-t.no-t.errs < c.quorum {
				break collect
			}
		case <-ctx.Done():
			giveUp(ctx.Err())
			break collect
		case <-impatient:
			giveUp(errNodeTimeout)
			break collect
		}
	}
	done := make(chan struct{})
	finish := func() {
		calls.Wait()
		cancel()
		close(done)
	}
	if !c.track() { // closed: no background work
		finish()
		return t, done
	}
	go func() {
		defer c.wg.Done()
		finish()
	}()
	return t, done
}

// add counts the reply r, or the error err, of one node.
func (t *tally) add(decode func(int64) (bool, int64), r int64, err error) {
	if err != nil {
		t.errs++
		if t.err == nil {
			t.err = err
		}
		return
	}
	switch ok, n := decode(r); {
	case ok:
		t.ok++
		t.nOK = n
	default:
		if t.no == 0 || n > t.n {
			t.n = n
		}
		t.no++
	}
}

// isDialError reports whether err is the failure to connect to a server:
// go-redis returns its dialer's error once its own dial retries have
// failed (DialerRetries, each bounded by DialTimeout), and then at once for
// a while.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// nodeTimeout returns how long a Redlock acquire with a lease TTL of ttl
// waits for nodes that have not answered when those that did leave the
// outcome open (a split vote, or too few answers yet). Redlock prescribes
// a timeout small against the TTL (5-50ms for 10s), so that a silent node
// costs a contender little: a twentieth of the TTL, between 10ms and 50ms.
func nodeTimeout(ttl time.Duration) time.Duration {
	return min(max(ttl/20, 10*time.Millisecond), 50*time.Millisecond)
}

// verdict turns a tally into whether the token acted on a quorum of the
// nodes; it returns an error when neither a quorum acting nor a quorum
// refusing was established.
func (c *Client) verdict(t tally) (bool, error) {
	switch {
	case t.ok >= c.quorum:
		return true, nil
	case t.no > len(c.nodes)-c.quorum:
		return false, nil
	default: // some nodes did not answer
		return false, t.err
	}
}
