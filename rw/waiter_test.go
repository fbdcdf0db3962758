package rw

import (
	"context"
	"runtime"
	"testing"
	"testing/synctest"

	"github.com/codomyrmex/concurrency/internal/race"
)

// TestBubbleWaitersNotPooled: waits in a bubble leave nothing in the pool:
// waits outside it, after it, would otherwise use the bubble's channels,
// which is fatal.
func TestBubbleWaitersNotPooled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for range 10 {
			waits(func(*RWMutex, int) { synctest.Wait() })
		}
	})
	for range 10 {
		waits(func(mu *RWMutex, n int) {
			for mu.Waiters() != n {
				runtime.Gosched()
			}
		})
	}
}

// waits makes a writer wait for a reader to leave, and a reader wait in
// the writer's phase; settle(mu, n) returns once n goroutines wait for mu.
func waits(settle func(mu *RWMutex, n int)) {
	var mu RWMutex
	ctx := context.Background()
	mu.RLock(ctx)
	wrote, read := make(chan struct{}), make(chan struct{})
	go func() { mu.Lock(ctx); mu.Unlock(); close(wrote) }()
	settle(&mu, 1)
	go func() { mu.RLock(ctx); mu.RUnlock(); close(read) }()
	settle(&mu, 2)
	mu.RUnlock()
	<-wrote
	<-read
}

// TestWaitsAllocateNothing: a reader blocked behind a writer, and a writer
// waiting for a reader to leave, reuse pooled waiters.
func TestWaitsAllocateNothing(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector makes sync.Pool drop items")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu RWMutex
	wait := func(n int) {
		for mu.Waiters() != n {
			runtime.Gosched()
		}
	}
	read, write, done := make(chan struct{}), make(chan struct{}), make(chan struct{})
	go func() {
		for range read {
			mu.RLock(ctx)
			mu.RUnlock()
			done <- struct{}{}
		}
	}()
	go func() {
		for range write {
			mu.Lock(ctx)
			mu.Unlock()
			done <- struct{}{}
		}
	}()
	defer close(read)
	defer close(write)
	for name, round := range map[string]func(){
		"reader waiting in a write phase": func() {
			mu.Lock(ctx)
			read <- struct{}{}
			wait(1)
			mu.Unlock()
			<-done
		},
		"writer waiting for a reader": func() {
			mu.RLock(ctx)
			write <- struct{}{}
			wait(1)
			mu.RUnlock()
			<-done
		},
	} {
		if allocs := testing.AllocsPerRun(200, round); allocs != 0 {
			t.Errorf("%s: %v allocations per wait, want 0", name, allocs)
		}
	}
}
