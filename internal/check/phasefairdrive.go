package check

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
)

// An RWTarget is a reader/writer lock under test, seen through its calls.
type RWTarget struct {
	RLock, Lock       func(ctx context.Context) error
	TryRLock, TryLock func() bool
	RUnlock, Unlock   func()
	Downgrade         func()
	SetMaxWaiters     func(n int)
	Waiters           func() int
	// Result classifies an error of RLock or Lock (never nil), Waiting for
	// an error the model has no result for.
	Result func(err error) Result
}

// DrivePhaseFair runs ops, a fuzzer's byte string, against a lock built by
// newTarget and against a [PhaseFair] model, inside a testing/synctest
// bubble, and fails t at the first difference. Each byte is an operation
// (low 3 bits) and its argument (high 5 bits):
//
//	0  RLock in a goroutine of its own
//	1  Lock in a goroutine of its own
//	2  TryRLock (even argument) or TryLock (odd)
//	3  cancel a waiting call
//	4  release a hold: RUnlock or Unlock
//	5  Downgrade the write lock if it is held, otherwise RLock (even
//	   argument) or Lock (odd) with a context already done, which must fail
//	6  SetMaxWaiters(argument % 4), 0 removing the bound
//	7  cancel a waiting call and, before its goroutine has run, release a
//	   hold: the two race, and the outcome must be that of this order
//
// After each operation every goroutine is left to settle, then the result
// of every call (still waiting, granted, or failed and why) and the number
// of waiters must match the model. At the end every waiting call is
// cancelled and every hold released, one at a time, each step compared
// likewise; then the lock must be free.
func DrivePhaseFair(t *testing.T, ops []byte, newTarget func() RWTarget) {
	synctest.Test(t, func(t *testing.T) {
		d := &rwDriver{t: t, tg: newTarget()}
		defer d.stop()
		for i, op := range ops {
			d.step(op)
			synctest.Wait()
			d.compare(i, op)
			if t.Failed() {
				return
			}
		}
		d.finish(len(ops))
	})
}

type rwDriver struct {
	t     *testing.T
	tg    RWTarget
	m     PhaseFair
	calls []*rwCall // every blocking call started, in order
	holds []bool    // locks held, granted or tried: true for the write lock
}

type rwCall struct {
	id     int
	write  bool
	cancel context.CancelFunc
	done   chan error // buffered; receives the call's error
	result Result     // observed so far
}

func (d *rwDriver) step(op byte) {
	arg := int(op >> 3)
	switch op & 7 {
	case 0, 1:
		d.call(op&1 == 1)
	case 2:
		if arg%2 == 0 {
			d.try(false, d.m.TryRLock(), d.tg.TryRLock())
		} else {
			d.try(true, d.m.TryLock(), d.tg.TryLock())
		}
	case 3:
		d.cancel(arg)
	case 4:
		d.release(arg)
	case 5:
		if i := slices.Index(d.holds, true); i >= 0 {
			d.tg.Downgrade()
			d.m.Downgrade()
			d.holds[i] = false
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		lock := d.tg.RLock
		if arg%2 == 1 {
			lock = d.tg.Lock
		}
		if err := lock(ctx); err == nil || d.tg.Result(err) != Cancelled {
			d.t.Fatalf("call with a done context = %v", err)
		}
	case 6:
		d.tg.SetMaxWaiters(arg % 4)
		d.m.MaxWaiters = arg % 4
	case 7:
		d.cancel(arg)
		d.release(arg)
	}
}

// call starts RLock or Lock in a goroutine of its own.
func (d *rwDriver) call(write bool) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &rwCall{id: len(d.calls), write: write, cancel: cancel, done: make(chan error, 1)}
	d.calls = append(d.calls, c)
	lock := d.tg.RLock
	if write {
		lock = d.tg.Lock
		d.m.Lock(c.id)
	} else {
		d.m.RLock(c.id)
	}
	go func() { c.done <- lock(ctx) }()
}

func (d *rwDriver) try(write, want, got bool) {
	if got != want {
		d.t.Fatalf("TryLock (write %v) = %v, model %v", write, got, want)
	}
	if got {
		d.holds = append(d.holds, write)
	}
}

// cancel cancels the waiting call that arg picks, if any.
func (d *rwDriver) cancel(arg int) {
	if w := d.m.Waiting(); len(w) > 0 {
		id := w[arg%len(w)]
		d.calls[id].cancel()
		d.m.Cancel(id)
	}
}

// release releases the hold that arg picks, if any.
func (d *rwDriver) release(arg int) {
	if len(d.holds) == 0 {
		return
	}
	i := arg % len(d.holds)
	write := d.holds[i]
	d.holds = slices.Delete(d.holds, i, i+1)
	if write {
		d.tg.Unlock()
		d.m.Unlock()
		return
	}
	d.tg.RUnlock()
	d.m.RUnlock()
}

// compare checks the target against the model once everything settled.
func (d *rwDriver) compare(i int, op byte) {
	for _, c := range d.calls {
		if c.result != Waiting {
			continue
		}
		select {
		case err := <-c.done:
			c.result = Granted
			if err != nil {
				if c.result = d.tg.Result(err); c.result == Waiting {
					d.t.Fatalf("call %d (write %v): unexpected error %v", c.id, c.write, err)
				}
			} else {
				d.holds = append(d.holds, c.write)
			}
		default:
		}
	}
	for _, c := range d.calls {
		if want := d.m.Result(c.id); c.result != want {
			d.t.Fatalf("after op %d (%#02x): call %d (write %v) is %v, model %v (waiting %v)",
				i, op, c.id, c.write, c.result, want, d.m.Waiting())
		}
	}
	if got, want := d.tg.Waiters(), d.m.Waiters(); got != want {
		d.t.Fatalf("after op %d (%#02x): Waiters() = %d, model %d", i, op, got, want)
	}
}

// finish cancels every waiting call, then releases every hold, comparing
// after each step, and checks that the lock is free at the end.
func (d *rwDriver) finish(i int) {
	for len(d.m.Waiting()) > 0 && !d.t.Failed() {
		d.cancel(0)
		synctest.Wait()
		d.compare(i, 3)
	}
	for len(d.holds) > 0 && !d.t.Failed() {
		d.release(0)
		synctest.Wait()
		d.compare(i, 4)
	}
	if d.t.Failed() {
		return
	}
	if !d.tg.TryLock() {
		d.t.Fatal("the lock is not free once every call was cancelled or released")
	}
	d.tg.Unlock()
}

// stop cancels every wait left, so that the bubble's goroutines all return.
func (d *rwDriver) stop() {
	for _, c := range d.calls {
		c.cancel()
	}
	synctest.Wait()
}
