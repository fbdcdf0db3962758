package etcdlock

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// minBackoff and maxBackoff bound the jittered exponential backoff after
// a failed etcd call.
const (
	minBackoff = 10 * time.Millisecond
	maxBackoff = time.Second
)

// jitter returns a random duration in [d/2, d].
func jitter(d time.Duration) time.Duration {
	return d/2 + rand.N(d/2+1)
}

// errRequeue marks an acquisition that lost its place in the queue (its
// etcd lease ended while it waited) and may try again with a new one.
var errRequeue = errors.New("etcdlock: the waiter's etcd lease ended")

// retryable reports whether an etcd call that failed with err, while the
// caller's context is live, may succeed if tried again: a member that is
// unavailable, has no leader, timed out or is overloaded, or a waiter that
// lost its place. A closed etcd client (context.Canceled from its own
// context) and any other error reply (permission denied, a bad request)
// will not go away by waiting.
func retryable(err error) bool {
	if errors.Is(err, errRequeue) {
		return true
	}
	var code codes.Code
	if ee, ok := errors.AsType[rpctypes.EtcdError](err); ok {
		code = ee.Code()
	} else if s, ok := status.FromError(err); ok {
		code = s.Code()
	} else {
		return errors.Is(err, context.DeadlineExceeded)
	}
	switch code {
	case codes.Unavailable, codes.Internal, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted:
		return true
	}
	return false
}

// sleep waits for d, the end of ctx or the Client's Close. It returns nil
// if d passed, and otherwise the error of the call that sleeps.
func (c *Client) sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctxerr.From(ctx)
	case <-c.group.Context().Done():
		return errClosed
	}
}
