package check

import (
	"context"
	"slices"
	"testing"
	"testing/synctest"
)

// A FIFOTarget is a primitive under test seen as a weighted FIFO queue.
// Optional operations are nil when the primitive lacks them.
type FIFOTarget struct {
	Capacity   int64
	MaxWaiters int     // the bound the target was built with; 0 for none
	Weights    []int64 // the weights an acquire may ask for

	Acquire    func(ctx context.Context, n int64) error
	TryAcquire func(n int64) bool
	Release    func(n int64)
	Waiters    func() int
	// Result classifies an error of Acquire (never nil), Waiting for an
	// error the model has no result for.
	Result func(err error) Result

	// Downgrade turns a hold of weight n into one of a smaller weight and
	// returns it, or returns n if holds of weight n cannot be downgraded.
	Downgrade func(n int64) int64
	Resize    func(capacity int64)
	Close     func()
}

// DriveFIFO runs ops, a fuzzer's byte string, against a primitive built by
// newTarget and against a [FIFO] model, inside a testing/synctest bubble,
// and fails t at the first difference. Each byte is an operation (low 3
// bits) and its argument (high 5 bits): an acquire in a goroutine of its
// own, a TryAcquire, cancelling a queued waiter (alone, or followed by a
// release before it has run), releasing or downgrading a hold, an acquire
// with a context already done, Resize (alone, or racing the cancellation
// of a queued waiter), or Close. After each
// operation every goroutine is left to settle, then the result of every
// acquire (still waiting, granted, or failed and why) and the number of
// waiters must match the model.
func DriveFIFO(t *testing.T, ops []byte, newTarget func() FIFOTarget) {
	synctest.Test(t, func(t *testing.T) {
		d := &fifoDriver{t: t, tg: newTarget()}
		d.m = FIFO{Capacity: d.tg.Capacity, MaxWaiters: d.tg.MaxWaiters}
		defer d.stop()
		for i, op := range ops {
			d.step(op)
			synctest.Wait()
			d.compare(i, op)
			if t.Failed() {
				return
			}
		}
	})
}

type fifoDriver struct {
	t       *testing.T
	tg      FIFOTarget
	m       FIFO
	waiters []*fifoCall // every acquire started, in order
	holds   []int64     // weights held, granted or tried
	other   *FIFO       // after a racy step, the model of the other order
	racer   int         // the waiter cancelled in the racy step
}

type fifoCall struct {
	id     int
	n      int64
	cancel context.CancelFunc
	done   chan error // buffered; receives Acquire's error
	result Result     // observed so far
}

func (d *fifoDriver) step(op byte) {
	arg := int(op >> 3)
	switch op & 7 {
	case 0, 1:
		d.acquire(d.weight(arg))
	case 2:
		n := d.weight(arg)
		want := d.m.TryAcquire(n)
		if got := d.tg.TryAcquire(n); got != want {
			d.t.Fatalf("TryAcquire(%d) = %v, model %v", n, got, want)
		}
		if want {
			d.holds = append(d.holds, n)
		}
	case 3:
		if q := d.m.Queued(); len(q) > 0 {
			id := q[arg%len(q)]
			d.waiters[id].cancel()
			d.m.Cancel(id)
			if arg >= 16 && len(d.holds) > 0 {
				// Release before the cancelled waiter has run: the
				// release may still pick it, and then it must hand
				// on what it gets and fail.
				n := d.holds[0]
				d.holds = d.holds[1:]
				d.tg.Release(n)
				d.m.Release(n)
			}
		}
	case 4:
		if len(d.holds) > 0 {
			i := arg % len(d.holds)
			n := d.holds[i]
			d.holds = slices.Delete(d.holds, i, i+1)
			d.tg.Release(n)
			d.m.Release(n)
		}
	case 5:
		if d.tg.Downgrade != nil && len(d.holds) > 0 {
			i := arg % len(d.holds)
			if to := d.tg.Downgrade(d.holds[i]); to != d.holds[i] {
				d.m.Release(d.holds[i] - to)
				d.holds[i] = to
			}
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := d.tg.Acquire(ctx, d.weight(arg)); err == nil || d.tg.Result(err) != Cancelled {
			d.t.Fatalf("Acquire with a done context = %v", err)
		}
	case 6:
		if d.tg.Resize == nil {
			return
		}
		c := int64(arg % 16)
		if q := d.m.Queued(); arg >= 16 && len(q) > 0 {
			// Cancel a waiter and resize before it has run: either
			// may take effect first, so both orders are models.
			id := q[arg%len(q)]
			d.waiters[id].cancel()
			d.tg.Resize(c)
			other := d.m.Clone()
			d.m.Cancel(id)
			d.m.Resize(c)
			other.Resize(c)
			other.Cancel(id)
			d.other, d.racer = &other, id
			return
		}
		d.tg.Resize(c)
		d.m.Resize(c)
	case 7:
		if d.tg.Close != nil && arg%8 == 0 {
			d.tg.Close()
			d.m.Close()
		}
	}
}

func (d *fifoDriver) weight(arg int) int64 { return d.tg.Weights[arg%len(d.tg.Weights)] }

func (d *fifoDriver) acquire(n int64) {
	ctx, cancel := context.WithCancel(context.Background())
	c := &fifoCall{id: len(d.waiters), n: n, cancel: cancel, done: make(chan error, 1)}
	d.waiters = append(d.waiters, c)
	d.m.Acquire(c.id, n)
	go func() { c.done <- d.tg.Acquire(ctx, n) }()
}

// compare checks the target against the model once everything settled.
// After a racy step it takes the model of whichever order the target
// matches.
func (d *fifoDriver) compare(i int, op byte) {
	d.collect()
	if d.other != nil {
		if !d.matches(&d.m) && d.matches(d.other) {
			d.m = *d.other
			// Failed by the resize after its context ended, the
			// racer may report either.
			d.m.results[d.racer] = d.waiters[d.racer].result
		}
		d.other = nil
	}
	for _, c := range d.waiters {
		if want := d.m.Result(c.id); c.result != want {
			d.t.Fatalf("after op %d (%#02x): acquire %d of weight %d is %v, model %v (queue %v)",
				i, op, c.id, c.n, c.result, want, d.m.Queued())
		}
	}
	if got, want := d.tg.Waiters(), d.m.Waiters(); got != want {
		d.t.Fatalf("after op %d (%#02x): Waiters() = %d, model %d", i, op, got, want)
	}
}

// matches reports whether the target's results and waiter count are those
// of m, one of the models after a racy step.
func (d *fifoDriver) matches(m *FIFO) bool {
	for _, c := range d.waiters {
		want := m.Result(c.id)
		if c.id == d.racer && want == Oversized && c.result == Cancelled {
			continue
		}
		if c.result != want {
			return false
		}
	}
	return d.tg.Waiters() == m.Waiters()
}

// collect records the results of the acquires that returned.
func (d *fifoDriver) collect() {
	for _, c := range d.waiters {
		if c.result == Waiting {
			select {
			case err := <-c.done:
				c.result = Granted
				if err != nil {
					if c.result = d.tg.Result(err); c.result == Waiting {
						d.t.Fatalf("acquire %d of weight %d: unexpected error %v", c.id, c.n, err)
					}
				} else if c.n > 0 {
					d.holds = append(d.holds, c.n)
				}
			default:
			}
		}
	}
}

// stop cancels every wait left, so that the bubble's goroutines all return.
func (d *fifoDriver) stop() {
	for _, c := range d.waiters {
		c.cancel()
	}
	synctest.Wait()
}
