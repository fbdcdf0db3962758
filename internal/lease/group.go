package lease

import (
	"context"
	"sync"
)

// A Group is what a backend's Client keeps to be closed: a context that
// Close cancels, and the goroutines (lease goroutines, background
// releases) that Wait waits for. Init it before use.
type Group struct {
	ctx    context.Context // cancelled by Close, with its cause
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup

	mu     sync.Mutex
	closed bool
}

// Init prepares g.
func (g *Group) Init() {
	g.ctx, g.cancel = context.WithCancelCause(context.Background())
}

// Context returns a context that Close cancels, with its cause.
func (g *Group) Context() context.Context { return g.ctx }

// Track counts in a goroutine that Wait must wait for; the goroutine calls
// Exit when it returns. It reports false, counting nothing, once g is
// closed.
func (g *Group) Track() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.wg.Add(1)
	return true
}

// Exit counts out a goroutine that Track counted in; the goroutine calls
// it as it returns.
func (g *Group) Exit() { g.wg.Done() }

// Go runs f in a goroutine that Wait waits for, or runs it now if g is
// closed.
func (g *Group) Go(f func()) {
	if !g.Track() {
		f()
		return
	}
	go func() {
		defer g.Exit()
		f()
	}()
}

// Close cancels g's context with cause, and Track refuses from then on.
// It reports whether it closed g: false if g was closed already.
func (g *Group) Close(cause error) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false
	}
	g.closed = true
	g.cancel(cause)
	return true
}

// Wait waits until every goroutine that Track counted in has returned.
func (g *Group) Wait() { g.wg.Wait() }
