package redislock

import (
	"context"
	"sync/atomic"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
)

// interruptible runs f, a Redis call, under ctx, and returns f's error or,
// if ctx is cancelled first, the context's.
//
// go-redis bounds a call by its context's deadline (ContextTimeoutEnabled)
// but does not watch for cancellation: against a stalled server a context
// cancelled before its deadline, or without one, would wait for the
// deadline or ReadTimeout. For a context that can be cancelled, f runs in a
// goroutine that Close waits for, and interruptible returns at once when ctx is
// cancelled; f finishes within the client's timeouts (go-redis discards the
// connection it timed out on), then runs abandoned, if not nil, to undo
// what f may have done. The caller must not use f's results unless
// interruptible returned nil.
func (c *Client) interruptible(ctx context.Context, f func(context.Context) error, abandoned func()) error {
	if ctx.Done() == nil || !c.group.Track() {
		return f(ctx)
	}
	const (
		pending = iota
		finished
		gaveUp
	)
	var state atomic.Int32
	errc := make(chan error, 1)
	go func() {
		defer c.group.Exit()
		err := f(ctx)
		if state.CompareAndSwap(pending, finished) {
			errc <- err
		} else if abandoned != nil {
			abandoned()
		}
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		if state.CompareAndSwap(pending, gaveUp) {
			return ctxerr.From(ctx)
		}
		return <-errc // f finished meanwhile: its result stands
	}
}
