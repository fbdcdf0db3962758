package redislock

import (
	"context"
	"sync"
)

// A tally is the outcome of one script on every node of a Client.
type tally struct {
	ok, no int   // nodes where the token acted, and where it did not
	errs   int   // nodes that did not answer
	err    error // the first of their errors
	n      int64 // the value of a single node; the largest over the "no" nodes otherwise
	nOK    int64 // the value of a single "ok" node
}

// fanout runs s with args on every node, in parallel when there are
// several, and tallies the results: decode turns a node's reply into
// whether the token acted and a value.
func (c *Client) fanout(ctx context.Context, s script, decode func(int64) (bool, int64), args ...any) tally {
	var t tally
	if len(c.nodes) == 1 {
		r, err := s.run(ctx, c.rdb, args...)
		t.add(decode, r, err)
		return t
	}
	return c.fanoutMany(ctx, s, decode, append([]any(nil), args...))
}

// fanoutMany is fanout on several nodes.
func (c *Client) fanoutMany(ctx context.Context, s script, decode func(int64) (bool, int64), args []any) tally {
	var t tally
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, rdb := range c.nodes {
		wg.Go(func() {
			r, err := s.run(ctx, rdb, args...)
			mu.Lock()
			t.add(decode, r, err)
			mu.Unlock()
		})
	}
	wg.Wait()
	return t
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

// acted decodes the reply of the release and extend scripts: 1 when the
// token acted.
func acted(r int64) (bool, int64) { return r == 1, 0 }

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
