package telemetry_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/codomyrmex/concurrency/internal/lockotel"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/sem"
	"github.com/codomyrmex/concurrency/telemetry"
	"go.opentelemetry.io/otel"
)

// otelErrors collects what goes to otel.Handle until the test ends.
type otelErrors struct {
	mu   sync.Mutex
	errs []error
}

func (e *otelErrors) Handle(err error) {
	e.mu.Lock()
	e.errs = append(e.errs, err)
	e.mu.Unlock()
}

func (e *otelErrors) take() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	errs := e.errs
	e.errs = nil
	return errs
}

func catchOtelErrors(t *testing.T) *otelErrors {
	prev := otel.GetErrorHandler()
	e := new(otelErrors)
	otel.SetErrorHandler(e)
	t.Cleanup(func() { otel.SetErrorHandler(prev) })
	return e
}

func TestNewWeightedNil(t *testing.T) {
	defer func() {
		if r := recover(); r != "telemetry: NewWeighted with a nil *sem.Weighted" {
			t.Fatalf("NewWeighted(nil): panic %v", r)
		}
	}()
	telemetry.NewWeighted("pool", nil)
}

// An empty lock name is reported to otel.Handle as an invalid argument;
// the wrapper works, and records under the name "".
func TestEmptyName(t *testing.T) {
	ctx := context.Background()
	caught := catchOtelErrors(t)
	for _, tc := range []struct {
		ctor, scope string
		make        func(name string, opts []telemetry.Option) func()
	}{
		{"NewMutex", lockotel.ScopeLock, func(name string, opts []telemetry.Option) func() {
			m := telemetry.NewMutex(name, nil, opts...)
			return func() {
				if err := m.Lock(ctx); err != nil {
					t.Fatal(err)
				}
				m.Unlock()
			}
		}},
		{"NewRWMutex", lockotel.ScopeRW, func(name string, opts []telemetry.Option) func() {
			m := telemetry.NewRWMutex(name, nil, opts...)
			return func() {
				if err := m.RLock(ctx); err != nil {
					t.Fatal(err)
				}
				m.RUnlock()
			}
		}},
		{"NewWeighted", lockotel.ScopeSem, func(name string, opts []telemetry.Option) func() {
			w := telemetry.NewWeighted(name, sem.NewWeighted(1), opts...)
			return func() {
				if err := w.Acquire(ctx, 1); err != nil {
					t.Fatal(err)
				}
				w.Release(1)
			}
		}},
	} {
		s := newSDK(t)
		tc.make("named", s.opts)()
		if errs := caught.take(); len(errs) != 0 {
			t.Fatalf("%s with a name reported %v", tc.ctor, errs)
		}
		tc.make("", s.opts)()
		errs := caught.take()
		if len(errs) != 1 || !errors.Is(errs[0], lock.ErrInvalidArgument) || !strings.Contains(errs[0].Error(), tc.ctor) {
			t.Errorf("%s(\"\") reported %v, want one error wrapping lock.ErrInvalidArgument naming %s", tc.ctor, errs, tc.ctor)
		}
		names := s.metrics(t, tc.scope).Sums(t, "lock.acquisitions", lockotel.AttrName)
		_, unnamed := names[""]
		if _, named := names["named"]; !unnamed || !named {
			t.Errorf("%s: acquisitions recorded under the names %v, want \"named\" and \"\"", tc.ctor, names)
		}
	}
}

// Misuse of a wrapper panics as the wrapped lock does, and records
// nothing.
func TestWrapperMisusePanics(t *testing.T) {
	for _, tc := range []struct {
		name, scope, want string
		misuse            func(opts []telemetry.Option) func()
		holders           int64 // held when misused
	}{
		{"Mutex.Unlock", lockotel.ScopeLock, "lock: Unlock of unlocked Mutex", func(opts []telemetry.Option) func() {
			return telemetry.NewMutex("m", nil, opts...).Unlock
		}, 0},
		{"RWMutex.Unlock", lockotel.ScopeRW, "rw: Unlock of unlocked RWMutex", func(opts []telemetry.Option) func() {
			return telemetry.NewRWMutex("rw", nil, opts...).Unlock
		}, 0},
		{"RWMutex.RUnlock", lockotel.ScopeRW, "rw: RUnlock of unlocked RWMutex", func(opts []telemetry.Option) func() {
			return telemetry.NewRWMutex("rw", nil, opts...).RUnlock
		}, 0},
		{"RWMutex.Downgrade", lockotel.ScopeRW, "rw: Downgrade of unlocked RWMutex", func(opts []telemetry.Option) func() {
			return telemetry.NewRWMutex("rw", nil, opts...).Downgrade
		}, 0},
		{"Weighted.Release", lockotel.ScopeSem, "sem: Release(2) with 1 held", func(opts []telemetry.Option) func() {
			w := telemetry.NewWeighted("w", sem.NewWeighted(2), opts...)
			if !w.TryAcquire(1) {
				t.Fatal("TryAcquire failed")
			}
			return func() { w.Release(2) }
		}, 1},
	} {
		s := newSDK(t)
		if r := recovered(tc.misuse(s.opts)); r != tc.want {
			t.Errorf("%s: panic %v, want %q", tc.name, r, tc.want)
		}
		if holders := s.metrics(t, tc.scope).Sums(t, "lock.holders")[""]; holders != tc.holders {
			t.Errorf("%s: lock.holders %d after the panic, want %d", tc.name, holders, tc.holders)
		}
	}
}

// recovered calls f and returns what it panicked with, or nil.
func recovered(f func()) (r any) {
	defer func() { r = recover() }()
	f()
	return nil
}
