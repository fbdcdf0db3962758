package lockotel

import (
	"context"
	"errors"

	"github.com/codomyrmex/concurrency/internal/clock"
)

// errPanicked is the outcome recorded for an acquisition that panicked.
var errPanicked = errors.New("lockotel: acquisition panicked")

// WaitFor runs acquire, an acquisition of weight n that has to wait (or,
// for contended false, one that may wait, such as a call over the network),
// and records it: a ctx already done is a failure recorded without a wait
// (acquire is still called, to fail as the lock does); otherwise it is a
// wait from Begin (contended) or BeginCall to End, whose span's context
// acquire gets. It returns when the wait began and ended, read from the
// clock even if r is nil (telemetry off), and acquire's error.
//
// If acquire panics, the wait is ended as failed and the panic goes on.
func (r *Recorder) WaitFor(ctx context.Context, n int64, contended bool, acquire func(context.Context) error) (start, end clock.Stamp, err error) {
	if ctx.Err() != nil {
		err = acquire(ctx) // fails at once
		r.Failed(ctx, err)
		return 0, 0, err
	}
	var wctx context.Context
	var w Wait
	if contended {
		wctx, w = r.Begin(ctx, n)
	} else {
		wctx, w = r.BeginCall(ctx, n)
	}
	start = clock.Now()
	panicked := true
	defer func() {
		if panicked {
			w.End(ctx, errPanicked, start.Until(clock.Now()))
		}
	}()
	err = acquire(wctx)
	panicked = false
	end = clock.Now()
	w.End(ctx, err, start.Until(end))
	return start, end, err
}
