package redislock

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// errNodeTimeout is the error of a Redlock acquire that some servers did
// not answer within the per-node timeout.
var errNodeTimeout = errors.New("redislock: no answer within the Redlock per-node timeout")

// A scriptCall is one call of a lock script, with its arguments:
// acquireCall, extendCall or releaseCall.
type scriptCall interface {
	run(ctx context.Context, rdb redis.UniversalClient) (int64, error)
}

// A tally is the outcome of one script on every server of a Redlock.
type tally struct {
	ok, no int   // servers where the token acted, and where it did not
	errs   int   // servers that failed to answer, or were not waited for
	err    error // the first of their errors
	n      int64 // the largest value over the "no" servers
}

// fanout runs call on every server in parallel and tallies the replies:
// decode turns a server's reply into whether the token acted and a value.
// It returns once q servers (the quorum) acted, once too few servers are
// left to make one, or once ctx is done or patience (if positive) has run
// out, so that a server that does not answer delays nobody while a quorum
// does; the servers that have not answered then count as failed. The calls
// still in flight finish in the background (Close waits for them), and the
// returned channel is closed when they have. They keep ctx's deadline but
// not its cancellation: a caller that returns and cancels its context does
// not stop the calls to the slower servers, so that a lock is taken,
// renewed and released on every server that answers, not only on the
// quickest quorum. Without a deadline they are bounded by the go-redis
// timeouts.
func (r *redlock) fanout(ctx context.Context, call scriptCall, q int, decode func(int64) (bool, int64), patience time.Duration) (tally, <-chan struct{}) {
	type reply struct {
		r   int64
		err error
	}
	nctx, cancel := context.WithoutCancel(ctx), context.CancelFunc(func() {})
	if d, ok := ctx.Deadline(); ok {
		nctx, cancel = context.WithDeadline(nctx, d)
	}
	replies := make(chan reply, len(r.servers))
	var calls sync.WaitGroup
	for _, rdb := range r.servers {
		calls.Go(func() {
			n, err := call.run(nctx, rdb)
			replies <- reply{n, err}
		})
	}
	var impatient <-chan time.Time
	if patience > 0 {
		timer := time.NewTimer(patience)
		defer timer.Stop()
		impatient = timer.C
	}
	var t tally
	giveUp := func(err error) { // the servers yet to answer count as failed
		t.errs = len(r.servers) - t.ok - t.no
		if t.err == nil {
			t.err = err
		}
	}
collect:
	for range r.servers {
		select {
		case rp := <-replies:
			t.add(decode, rp.r, rp.err)
			if t.ok >= q || len(r.servers)-t.no-t.errs < q {
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
	r.c.group.Go(finish) // inline once the Client is closed
	return t, done
}

// add counts the reply n, or the error err, of one server.
func (t *tally) add(decode func(int64) (bool, int64), n int64, err error) {
	if err != nil {
		t.errs++
		if t.err == nil {
			t.err = err
		}
		return
	}
	switch ok, v := decode(n); {
	case ok:
		t.ok++
	default:
		if t.no == 0 || v > t.n {
			t.n = v
		}
		t.no++
	}
}

// verdict turns a tally into whether the token acted on q servers (the
// quorum); it returns an error when neither q servers acting nor enough
// refusing to rule that out was established.
func (r *redlock) verdict(t tally, q int) (bool, error) {
	switch {
	case t.ok >= q:
		return true, nil
	case t.no > len(r.servers)-q:
		return false, nil
	default: // some servers did not answer
		return false, t.err
	}
}

// nodeTimeout returns how long a Redlock acquire with a lease TTL of ttl
// waits for servers that have not answered when those that did leave the
// outcome open (a split vote, or too few answers yet). Redlock prescribes
// a timeout small against the TTL (5-50ms for 10s), so that a silent
// server costs a contender little: a twentieth of the TTL, between 10ms
// and 50ms.
func nodeTimeout(ttl time.Duration) time.Duration {
	return min(max(ttl/20, 10*time.Millisecond), 50*time.Millisecond)
}
