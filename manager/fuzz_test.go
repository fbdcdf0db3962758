package manager_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"testing/synctest"

	"github.com/codomyrmex/concurrency/manager"
	"github.com/codomyrmex/concurrency/rw"
)

// FuzzManager runs multi-lock acquisitions from goroutines of their own over
// three registered reader/writer locks and one on-demand lock, with
// cancellations and releases in between, inside a synctest bubble, and
// checks after every step that:
//   - the holders of each lock are compatible (one writer, or readers only);
//   - a failed acquisition failed only through its context, and holds
//     nothing;
//   - Stats count each waiter and cancellation, and at least each hold;
//
// and at the end, releasing holders until no call is left waiting, that the
// canonical order lets every waiter through (no deadlock) and that every
// lock is free again and the on-demand one evicted.
//
// Each byte is an operation: an acquisition (bits 2-5 pick the names, bit 6
// takes them for reading, bit 7 lists them backwards with a duplicate),
// releasing a holder, or cancelling a waiter.
func FuzzManager(f *testing.F) {
	f.Add([]byte{0x04, 0x08, 0x3c, 0x02, 0x13, 0x02, 0x02})
	f.Add([]byte{0x1c, 0xb8, 0x5c, 0x44, 0x03, 0x02, 0x07, 0x02})
	f.Add([]byte{0x0c, 0x34, 0xa8, 0x2c, 0x02, 0x06, 0x03, 0x02})
	f.Fuzz(func(t *testing.T, ops []byte) {
		synctest.Test(t, func(t *testing.T) { driveManager(t, ops) })
	})
}

var fuzzNames = []string{"a", "b", "c", "d"} // "d" is on demand

type mcall struct {
	names  []string
	read   bool
	cancel context.CancelFunc
	done   chan struct{}
	held   *manager.Held
	err    error
	over   bool // the result was collected
}

func driveManager(t *testing.T, ops []byte) {
	m := manager.New(manager.WithOnDemand())
	locks := map[string]*rw.RWMutex{}
	for _, name := range fuzzNames[:3] {
		locks[name] = new(rw.RWMutex)
		if err := m.Register(name, locks[name]); err != nil {
			t.Fatal(err)
		}
	}
	var calls []*mcall
	var holders []*mcall
	var acquired, cancelled int64
	release := func(c *mcall) {
		if err := c.held.Release(context.Background()); err != nil {
			t.Fatalf("Release %v: %v", c.names, err)
		}
		holders = slices.DeleteFunc(holders, func(h *mcall) bool { return h == c })
	}
	collect := func() {
		synctest.Wait()
		for _, c := range calls {
			if c.over {
				continue
			}
			select {
			case <-c.done:
			default:
				continue
			}
			c.over = true
			switch {
			case c.err == nil:
				holders = append(holders, c)
				acquired += int64(len(c.held.Names()))
			case errors.Is(c.err, context.Canceled):
				cancelled++
			default:
				t.Fatalf("Acquire %v: %v", c.names, c.err)
			}
		}
		checkHolders(t, holders)
		var waiting int64
		for _, c := range calls {
			if !c.over {
				waiting++
			}
		}
		tot := m.TotalStats()
		// A cancelled call may have taken some of its locks first.
		if tot.Acquisitions < acquired || tot.Cancellations != cancelled || tot.Failures != 0 {
			t.Fatalf("TotalStats %+v; want at least %d acquisitions, %d cancellations, 0 failures", tot, acquired, cancelled)
		}
		// Every waiting call waits on exactly one lock; every holder holds
		// one hold per distinct name.
		var holds int64
		for _, h := range holders {
			holds += int64(len(h.held.Names()))
		}
		if tot.Waiters != waiting || tot.Holders < holds {
			t.Fatalf("TotalStats %+v; want %d waiters and at least %d holders", tot, waiting, holds)
		}
	}

	for _, op := range ops {
		switch op & 3 {
		case 0, 1:
			c := newCall(op)
			calls = append(calls, c)
			ctx, cancel := context.WithCancel(context.Background())
			c.cancel = cancel
			go func() {
				defer close(c.done)
				reqs := make([]manager.Request, len(c.names))
				for i, name := range c.names {
					reqs[i] = manager.Write(name)
					if c.read {
						reqs[i] = manager.Read(name)
					}
				}
				c.held, c.err = m.Acquire(ctx, reqs...)
			}()
		case 2:
			if len(holders) > 0 {
				release(holders[int(op>>2)%len(holders)])
			}
		case 3:
			var waiting []*mcall
			for _, c := range calls {
				if !c.over {
					waiting = append(waiting, c)
				}
			}
			if len(waiting) > 0 {
				waiting[int(op>>2)%len(waiting)].cancel()
			}
		}
		collect()
	}

	// Drain: while calls wait, someone must hold a lock they wait for.
	for range len(calls) + 1 {
		if len(holders) == 0 {
			break
		}
		release(holders[0])
		collect()
	}
	for _, c := range calls {
		if !c.over {
			t.Fatalf("Acquire %v still waits with every lock released: deadlock", c.names)
		}
		c.cancel()
	}
	for name, l := range locks {
		if !l.TryLock() {
			t.Fatalf("lock %q still held after every release", name)
		}
		l.Unlock()
	}
	if _, ok := m.Stats("d"); ok {
		t.Fatal("on-demand lock d not evicted with nobody holding or waiting")
	}
}

func newCall(op byte) *mcall {
	c := &mcall{read: op&0x40 != 0, done: make(chan struct{})}
	for i, name := range fuzzNames {
		if op>>2&(1<<i) != 0 {
			c.names = append(c.names, name)
		}
	}
	if len(c.names) == 0 {
		c.names = []string{"a"}
	}
	if op&0x80 != 0 {
		slices.Reverse(c.names)
		c.names = append(c.names, c.names[0])
	}
	return c
}

// checkHolders fails t if two holders hold one lock incompatibly.
func checkHolders(t *testing.T, holders []*mcall) {
	t.Helper()
	readers, writers := map[string]int{}, map[string]int{}
	for _, h := range holders {
		for _, name := range h.held.Names() {
			if h.read {
				readers[name]++
			} else {
				writers[name]++
			}
		}
	}
	for _, name := range fuzzNames {
		if w := writers[name]; w > 1 || w == 1 && readers[name] > 0 {
			t.Fatalf("lock %q held by %d writers and %d readers", name, w, readers[name])
		}
	}
}
