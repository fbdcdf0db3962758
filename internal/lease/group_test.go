package lease_test

import (
	"context"
	"errors"
	"testing"

	"github.com/codomyrmex/concurrency/internal/lease"
)

func TestGroup(t *testing.T) {
	var g lease.Group
	g.Init()
	if !g.Track() {
		t.Fatal("Track refused before Close")
	}
	release := make(chan struct{})
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		defer g.Exit()
		<-release
	}()
	ran := make(chan struct{})
	g.Go(func() { <-release; close(ran) })

	cause := errors.New("closed")
	if !g.Close(cause) || g.Close(errors.New("again")) {
		t.Fatal("Close did not report closing g exactly once")
	}
	if context.Cause(g.Context()) != cause {
		t.Fatalf("the context's cause is %v, want %v", context.Cause(g.Context()), cause)
	}
	if g.Track() {
		t.Fatal("Track counted a goroutine in after Close")
	}
	now := false
	g.Go(func() { now = true })
	if !now {
		t.Fatal("Go after Close did not run f at once")
	}
	close(release)
	g.Wait()
	select {
	case <-returned:
	default:
		t.Fatal("Wait returned before a tracked goroutine")
	}
	select {
	case <-ran:
	default:
		t.Fatal("Wait returned before Go's goroutine")
	}
}
