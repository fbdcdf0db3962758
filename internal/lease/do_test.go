package lease_test

import (
	"context"
	"errors"
	"testing"

	"github.com/codomyrmex/concurrency/internal/lease"
	"github.com/codomyrmex/concurrency/lock"
)

func TestDo(t *testing.T) {
	type key struct{}
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), key{}, "v"))
	defer cancel()

	err := lease.Do[*testLease](ctx, testBackend, "x", nil, func(context.Context) (*testLease, error) {
		t.Fatal("obtained for a nil fn")
		return nil, nil
	})
	if !errors.Is(err, lock.ErrInvalidArgument) || err.Error() != `testlock: Do "x" with a nil function: `+lock.ErrInvalidArgument.Error() {
		t.Fatalf("Do with a nil fn = %v", err)
	}

	failed := errors.New("failed")
	if err := lease.Do(ctx, testBackend, "x", func(context.Context, *testLease) error { t.Fatal("fn ran"); return nil }, obtainer(nil, failed)); err != failed {
		t.Fatalf("Do whose obtain failed = %v", err)
	}

	// fn's error is joined with the release's; the release runs under
	// ctx's values, not its cancellation.
	l := newTestLease()
	l.err = errors.New("release failed")
	fnErr := errors.New("fn failed")
	err = lease.Do(ctx, testBackend, "x", func(ctx context.Context, got *testLease) error {
		if got != l || ctx != l.Context() {
			t.Fatal("fn did not get the lease and its context")
		}
		cancel()
		return fnErr
	}, obtainer(l, nil))
	if !errors.Is(err, fnErr) || !errors.Is(err, l.err) || l.releases != 1 {
		t.Fatalf("Do = %v, %d releases", err, l.releases)
	}

	// A panic releases the lease and goes on.
	l = newTestLease()
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Fatalf("recovered %v", r)
			}
		}()
		_ = lease.Do(context.Background(), testBackend, "x", func(context.Context, *testLease) error { panic("boom") }, obtainer(l, nil))
	}()
	if l.releases != 1 {
		t.Fatalf("%d releases after a panic, want 1", l.releases)
	}
}
