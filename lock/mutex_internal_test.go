package lock

import (
	"context"
	"errors"
	"runtime"
	"testing"
	"time"
)

// TestPickedWaiterOvertaken: a Lock whose ctx has ended finds itself
// picked (every goroutine in its queue counted off: the value is in
// flight to it), but before it takes the value a newcomer counts itself
// in and takes it. The cancelled Lock must then leave in the newcomer's
// place at once, not wait for the newcomer's Unlock.
func TestPickedWaiterOvertaken(t *testing.T) {
	// On one P, the cancelled waiter runs only once the test goroutine
	// blocks, so the Unlock below finds it off the channel and leaves the
	// value in the buffer, for whoever receives first.
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	var mu Mutex
	mu.Lock(context.Background())
	hooked := false
	newcomerHolds, newcomerUnlock := make(chan struct{}), make(chan struct{})
	testHookPicked = func() {
		testHookPicked, hooked = nil, true
		go func() {
			mu.Lock(context.Background())
			close(newcomerHolds)
			<-newcomerUnlock
			mu.Unlock()
		}()
		<-newcomerHolds
	}
	defer func() { testHookPicked = nil }()
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() { res <- mu.Lock(ctx) }()
	for mu.Waiters() == 0 {
		runtime.Gosched()
	}
	cancel()
	mu.Unlock()
	select {
	case err := <-res:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled Lock: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("the cancelled Lock waits for the newcomer that overtook it")
	}
	if !hooked {
		t.Fatal("the cancelled Lock did not find itself picked: the test did not test the case")
	}
	if !mu.Locked() || mu.Waiters() != 0 {
		t.Fatalf("while the newcomer holds: locked %v, waiters %d", mu.Locked(), mu.Waiters())
	}
	close(newcomerUnlock)
	for mu.Locked() {
		runtime.Gosched()
	}
}
