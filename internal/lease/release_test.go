package lease_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/lease"
	"github.com/codomyrmex/concurrency/lock"
)

// server records the calls a State's Release makes to release its lock.
type server struct {
	gone, err error     // what release returns
	released  []string  // "now" and "later", in order
	ctxErr    error     // the release's ctx.Err() when called
	deadline  time.Time // and its deadline
	afters    int
}

func (v *server) release(ctx context.Context) (gone, err error) {
	v.released = append(v.released, "now")
	v.ctxErr = ctx.Err()
	v.deadline, _ = ctx.Deadline()
	return v.gone, v.err
}

func (v *server) later(context.Context) { v.released = append(v.released, "later") }

func (v *server) after() { v.afters++ }

// run is a lease's goroutine: it returns when Release stops it.
func run(s *lease.State) {
	defer s.Exit()
	<-s.Stopped()
}

func TestRelease(t *testing.T) {
	ctx := context.Background()
	t.Run("held", func(t *testing.T) {
		rec, sum := telemetry(t, "x")
		s := started(t, ctx, rec, time.Second)
		s.Hold(time.Now())
		go run(s)
		var v server
		if err := s.Release(ctx, v.release, v.later, v.after, true); err != nil {
			t.Fatal(err)
		}
		if len(v.released) != 1 || v.released[0] != "now" || v.afters != 1 {
			t.Fatalf("calls %v, %d afters, want one release now and one after", v.released, v.afters)
		}
		if err := s.Err(); !errors.Is(err, lock.ErrNotHeld) || err.Error() != "testlock: lease released: "+lock.ErrNotHeld.Error() {
			t.Fatalf("Err after Release = %v", err)
		}
		if n := sum("lock.holders"); n != -1 {
			t.Fatalf("holders %d after Release, want -1", n)
		}
		err := s.Release(ctx, v.release, v.later, v.after, true)
		if !errors.Is(err, lock.ErrNotHeld) || err.Error() != `testlock: release "x": `+lock.ErrNotHeld.Error()+": already released" {
			t.Fatalf("second Release = %v", err)
		}
		if len(v.released) != 1 || v.afters != 1 || sum("lock.holders") != -1 {
			t.Fatal("second Release released or recorded again")
		}
	})
	t.Run("ended", func(t *testing.T) {
		s := started(t, ctx, nil, time.Second)
		lost := s.Lost(errors.New("gone"))
		s.End(lost)
		var v server
		err := s.Release(ctx, v.release, v.later, nil, false)
		if !errors.Is(err, lock.ErrNotHeld) || !errors.Is(err, lost) || len(v.released) != 0 {
			t.Fatalf("Release of a lost lease = %v, calls %v", err, v.released)
		}
	})
	t.Run("gone", func(t *testing.T) {
		s := started(t, ctx, nil, time.Second)
		reason := errors.New("key gone")
		v := server{gone: reason}
		err := s.Release(ctx, v.release, v.later, nil, false)
		if !errors.Is(err, lock.ErrNotHeld) || !errors.Is(err, lock.ErrLockLost) || !errors.Is(err, reason) {
			t.Fatalf("Release that found the lock gone = %v", err)
		}
	})
	t.Run("failed", func(t *testing.T) {
		s := started(t, ctx, nil, time.Second)
		v := server{err: errors.New("timeout")}
		err := s.Release(ctx, v.release, v.later, nil, false)
		if !errors.Is(err, v.err) || err.Error() != `testlock: release "x": timeout` {
			t.Fatalf("failed Release = %v", err)
		}
		if len(v.released) != 2 || v.released[1] != "later" {
			t.Fatalf("calls %v, want now and then later", v.released)
		}
	})
	t.Run("done before", func(t *testing.T) {
		s := started(t, ctx, nil, time.Second)
		done, cancel := context.WithCancel(ctx)
		cancel()
		var v server
		err := s.Release(done, v.release, v.later, nil, true) // does not wait for run
		if !errors.Is(err, context.Canceled) || len(v.released) != 1 || v.released[0] != "later" {
			t.Fatalf("Release under a done ctx = %v, calls %v", err, v.released)
		}
		if s.Err() == nil {
			t.Fatal("the lease lasts after Release")
		}
	})
	t.Run("own context", func(t *testing.T) {
		s := started(t, ctx, nil, time.Second)
		go run(s)
		var v server
		if err := s.Release(s.Context(), v.release, v.later, nil, true); err != nil {
			t.Fatal(err)
		}
		if v.ctxErr != nil {
			t.Fatalf("release ran under the lease's context, cancelled: %v", v.ctxErr)
		}
		if v.deadline.IsZero() || time.Until(v.deadline) > lease.CleanupTimeout {
			t.Fatalf("release's deadline %v, want within CleanupTimeout", v.deadline)
		}
	})
	t.Run("without a goroutine", func(t *testing.T) {
		// A lease that nobody watches (no Watch): Release has no
		// goroutine to stop, and does not wait for one.
		s := new(lease.State)
		s.Start(ctx, testBackend, "x", nil)
		if s.Stopped() != nil {
			t.Fatal("Stopped of an unwatched lease is not nil")
		}
		var v server
		done := make(chan error, 1)
		go func() { done <- s.Release(ctx, v.release, v.later, v.after, true) }()
		select {
		case err := <-done:
			if err != nil || len(v.released) != 1 || v.afters != 1 {
				t.Fatalf("Release = %v, calls %v, %d afters", err, v.released, v.afters)
			}
		case <-time.After(time.Second):
			t.Fatal("Release of an unwatched lease waits for a goroutine")
		}
	})
}

func TestExtend(t *testing.T) {
	ctx := context.Background()
	renewErr := errors.New("timeout")
	reason := errors.New("lease gone")
	for _, tc := range []struct {
		name      string
		gone, err error
		check     func(*lease.State, error) bool
	}{
		{"ok", nil, nil, func(s *lease.State, err error) bool { return err == nil && s.Err() == nil }},
		{"failed", nil, renewErr, func(s *lease.State, err error) bool {
			return errors.Is(err, renewErr) && err.Error() == `testlock: extend "x": timeout` && s.Err() == nil
		}},
		{"gone", reason, nil, func(s *lease.State, err error) bool {
			return errors.Is(err, lock.ErrNotHeld) && errors.Is(err, lock.ErrLockLost) && errors.Is(err, reason) &&
				errors.Is(s.Err(), lock.ErrLockLost)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := started(t, ctx, nil, time.Second)
			calls := 0
			err := s.Extend(ctx, func(context.Context) (gone, err error) {
				calls++
				return tc.gone, tc.err
			})
			if calls != 1 || !tc.check(s, err) {
				t.Fatalf("Extend = %v (%d calls); lease's Err %v", err, calls, s.Err())
			}
		})
	}
	t.Run("ended", func(t *testing.T) {
		s := started(t, ctx, nil, time.Second)
		s.End(lock.ErrClosed)
		err := s.Extend(ctx, func(context.Context) (gone, err error) { t.Fatal("renewed an ended lease"); return nil, nil })
		if !errors.Is(err, lock.ErrNotHeld) || !errors.Is(err, lock.ErrClosed) {
			t.Fatalf("Extend of an ended lease = %v", err)
		}
	})
	t.Run("context", func(t *testing.T) {
		s := started(t, ctx, nil, time.Second)
		done, cancel := context.WithCancel(ctx)
		err := s.Extend(done, func(context.Context) (gone, err error) { cancel(); return nil, renewErr })
		if !errors.Is(err, context.Canceled) || errors.Is(err, renewErr) {
			t.Fatalf("Extend whose ctx ended = %v, want the context's error", err)
		}
	})
}

// Renew is Extend under another name, which its errors carry.
func TestRenew(t *testing.T) {
	ctx := context.Background()
	s := started(t, ctx, nil, time.Second)
	err := s.Renew(ctx, "downgrade", func(context.Context) (gone, err error) { return nil, errors.New("timeout") })
	if err == nil || err.Error() != `testlock: downgrade "x": timeout` || s.Err() != nil {
		t.Fatalf("Renew that failed = %v; lease's Err %v", err, s.Err())
	}
	err = s.Renew(ctx, "downgrade", func(context.Context) (gone, err error) { return errors.New("gone"), nil })
	if !errors.Is(err, lock.ErrLockLost) || !strings.HasPrefix(err.Error(), `testlock: downgrade "x": `) {
		t.Fatalf("Renew of a lease gone = %v", err)
	}
}
