package rw_test

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/rw"
)

// The tests below race a cancellation with the release that ends the wait,
// in three orders: the cancellation first, the release first, and both at
// once. Whatever wins, a call that returns nil holds the lock and one that
// fails holds nothing; no grant is lost (every waiter returns), and once
// all is released the lock is free with no waiter left.

const rounds = 2000

// race runs cancel and release in the order that round i picks, some
// time apart, so that the first one's effect lands before the second, or
// after it, or while it runs.
func race(i int, cancel, release func()) {
	switch i % 3 {
	case 0:
		cancel()
		spin(i)
		release()
	case 1:
		release()
		spin(i)
		cancel()
	default:
		done := make(chan struct{})
		go func() { cancel(); close(done) }()
		release()
		<-done
	}
}

// spin busies the caller for a time that varies with i, up to a few
// tens of microseconds.
func spin(i int) {
	x := uint64(i)
	for range i * 7919 % 50000 {
		x = x*6364136223846793005 + 1
	}
	if x == 0 {
		sink.Add(1) // keeps the loop
	}
}

var sink atomic.Uint64

// settle waits until mu has n waiters.
func settle(t *testing.T, mu *rw.RWMutex, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for mu.Waiters() != n {
		if time.Now().After(deadline) {
			t.Fatalf("Waiters() = %d, want %d", mu.Waiters(), n)
		}
		runtime.Gosched()
	}
}

// result receives a call's error, failing t if the call does not return.
func result(t *testing.T, ch <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("%s: %v", what, err)
		}
		return err
	case <-time.After(10 * time.Second):
		t.Fatalf("%s never returned: a grant was lost", what)
		return nil
	}
}

// free checks that mu is unlocked with nobody waiting.
func free(t *testing.T, mu *rw.RWMutex, round int) {
	t.Helper()
	if w := mu.Waiters(); w != 0 || !mu.TryLock() {
		t.Fatalf("round %d: the lock is not free at the end (waiters %d)", round, w)
	}
	mu.Unlock()
}

// TestCancelBlockedReaderRacingUnlock: a reader waiting in a write phase is
// cancelled before, after or while the writer's Unlock ends the phase, with
// a second writer waiting for its turn, which then waits for the reader if
// it was admitted.
func TestCancelBlockedReaderRacingUnlock(t *testing.T) {
	var mu rw.RWMutex
	bg := context.Background()
	for i := range rounds {
		mu.Lock(bg)
		ctx, cancel := context.WithCancel(bg)
		reader, writer := make(chan error, 1), make(chan error, 1)
		go func() {
			err := mu.RLock(ctx)
			if err == nil {
				mu.RUnlock()
			}
			reader <- err
		}()
		settle(t, &mu, 1)
		go func() {
			err := mu.Lock(bg)
			if err == nil {
				mu.Unlock()
			}
			writer <- err
		}()
		settle(t, &mu, 2)
		race(i, cancel, mu.Unlock)
		result(t, reader, "the cancelled reader")
		if err := result(t, writer, "the next writer"); err != nil {
			t.Fatalf("round %d: the next writer: %v", i, err)
		}
		free(t, &mu, i)
	}
}

// TestCancelDrainingWriterRacingRUnlock: a writer waiting for the last
// reader inside is cancelled before, after or while that reader leaves,
// with a reader waiting in its phase and a writer waiting for its turn.
// Whether the writer gave up or held, the waiting reader is admitted
// before the next writer, which waits for it to leave: a departure of the
// gave-up phase must not count for the next one.
func TestCancelDrainingWriterRacingRUnlock(t *testing.T) {
	var mu rw.RWMutex
	bg := context.Background()
	for i := range rounds {
		mu.RLock(bg)
		ctx, cancel := context.WithCancel(bg)
		writer, reader, next := make(chan error, 1), make(chan error, 1), make(chan error, 1)
		admitted := make(chan struct{})
		var inside atomic.Bool
		go func() {
			err := mu.Lock(ctx)
			if err == nil {
				mu.Unlock()
			}
			writer <- err
		}()
		settle(t, &mu, 1)
		go func() {
			err := mu.RLock(bg)
			if err == nil {
				inside.Store(true)
				close(admitted)
				spin(i)
				inside.Store(false)
				mu.RUnlock()
			}
			reader <- err
		}()
		settle(t, &mu, 2)
		go func() {
			err := mu.Lock(bg)
			if err == nil {
				select {
				case <-admitted:
					if inside.Load() {
						err = errors.New("the next writer entered with a reader inside")
					}
				default:
					err = errors.New("the next writer entered before the reader of the previous phase")
				}
				mu.Unlock()
			}
			next <- err
		}()
		settle(t, &mu, 3)
		race(i, cancel, mu.RUnlock)
		result(t, writer, "the cancelled writer")
		if err := result(t, reader, "the reader in its phase"); err != nil {
			t.Fatalf("round %d: the reader: %v", i, err)
		}
		if err := <-next; err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		free(t, &mu, i)
	}
}

// TestCancelQueuedWriterRacingUnlock: a writer waiting for its turn is
// cancelled before, after or while the writer holding the lock unlocks,
// with a reader waiting in the holder's phase. The writer may give up
// before its turn, or get it and give up while the reader is inside, or
// hold; the reader is admitted in every case.
func TestCancelQueuedWriterRacingUnlock(t *testing.T) {
	var mu rw.RWMutex
	bg := context.Background()
	for i := range rounds {
		mu.Lock(bg)
		ctx, cancel := context.WithCancel(bg)
		reader, writer := make(chan error, 1), make(chan error, 1)
		go func() {
			err := mu.RLock(bg)
			if err == nil {
				mu.RUnlock()
			}
			reader <- err
		}()
		settle(t, &mu, 1)
		go func() {
			err := mu.Lock(ctx)
			if err == nil {
				mu.Unlock()
			}
			writer <- err
		}()
		settle(t, &mu, 2)
		race(i, cancel, mu.Unlock)
		result(t, writer, "the cancelled writer")
		if err := result(t, reader, "the reader in the phase"); err != nil {
			t.Fatalf("round %d: the reader: %v", i, err)
		}
		free(t, &mu, i)
	}
}
