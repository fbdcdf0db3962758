package ctxerr_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestFrom(t *testing.T) {
	if err := ctxerr.From(context.Background()); err != nil {
		t.Fatalf("From(Background) = %v, want nil", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ctxerr.From(ctx); err != context.Canceled {
		t.Fatalf("plain cancel: got %v, want context.Canceled itself", err)
	}

	boom := errors.New("shutting down")
	ctx, cancelCause := context.WithCancelCause(context.Background())
	cancelCause(boom)
	err := ctxerr.From(ctx)
	if !errors.Is(err, context.Canceled) || !errors.Is(err, boom) {
		t.Fatalf("cause: got %v, want both Canceled and the cause", err)
	}
	if got, want := err.Error(), "context canceled: shutting down"; got != want {
		t.Fatalf("message = %q, want %q", got, want)
	}

	ctx, cancel = context.WithTimeoutCause(context.Background(), time.Nanosecond, boom)
	defer cancel()
	<-ctx.Done()
	err = ctxerr.From(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, boom) {
		t.Fatalf("deadline cause: got %v", err)
	}
}
