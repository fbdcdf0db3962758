package redislock

import (
	"context"
	"sync"

	"github.com/redis/go-redis/v9"
)

// A tally is the outcome of one script on every node of a Client.
type tally struct {
	ok, no int   // nodes where the token acted, and where it did not
	errs   int   // nodes that did not answer
	err    error // the first of their errors
	n      int64 // the value of a single node; the largest over the "no" nodes otherwise
	nOK    int64 // the value of a single "ok" node
}

// fanout runs f on every node, in parallel when there are several, and
// tallies the results. f reports whether the token acted, a value, and an
// error if the node did not answer.
func (c *Client) fanout(ctx context.Context, f func(context.Context, redis.UniversalClient) (bool, int64, error)) tally {
	var t tally
	add := func(ok bool, n int64, err error) {
		switch {
		case err != nil:
			t.errs++
			if t.err == nil {
				t.err = err
			}
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
	if len(c.nodes) == 1 {
		ok, n, err := f(ctx, c.rdb)
		add(ok, n, err)
		return t
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, rdb := range c.nodes {
		wg.Go(func() {
			ok, n, err := f(ctx, rdb)
			mu.Lock()
			add(ok, n, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	return t
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
