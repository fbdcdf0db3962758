package chaos_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"runtime"
	"time"
)

var (
	// errChurn is the cause of the cancellations the churn injects.
	errChurn = errors.New("chaos: cancelled by churn")
	// errStall is the cause of a wait that reached stallTimeout.
	errStall = errors.New("chaos: stalled")
)

// stallTimeout bounds a wait that nothing cancels: reaching it means the
// primitive stalled, and fails the scenario.
const stallTimeout = 10 * time.Second

// churnContext returns the context for one acquire under cancellation
// churn: already cancelled (5 %), a deadline within span (50 %), cancelled
// by another goroutine within span (20 %), or not cancelled before
// stallTimeout (25 %), when it fails with cause errStall. stop releases
// its resources; it must be called.
func churnContext(rng *rand.Rand, span time.Duration) (ctx context.Context, stop func()) {
	jitter := func() time.Duration { return time.Duration(rng.Int64N(int64(span))) }
	switch x := rng.IntN(100); {
	case x < 5:
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(errChurn)
		return ctx, func() {}
	case x < 55:
		return context.WithTimeout(context.Background(), jitter())
	case x < 75:
		ctx, cancel := context.WithCancelCause(context.Background())
		t := time.AfterFunc(jitter(), func() { cancel(errChurn) })
		return ctx, func() { t.Stop(); cancel(nil) }
	default:
		return context.WithTimeoutCause(context.Background(), stallTimeout, errStall)
	}
}

// pause holds the lock for a moment: a yield, or a sleep up to 50µs.
func pause(rng *rand.Rand) {
	if rng.IntN(2) == 0 {
		runtime.Gosched()
		return
	}
	time.Sleep(time.Duration(rng.Int64N(int64(50 * time.Microsecond))))
}
