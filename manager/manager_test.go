package manager_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/manager"
	"github.com/codomyrmex/concurrency/rw"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// logLock is a lock.Mutex that logs its locks and unlocks, and can be made
// to fail or panic in Lock.
type logLock struct {
	lock.Mutex
	name  string
	log   *eventLog
	fail  error
	panic bool
}

type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(e string) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *logLock) Lock(ctx context.Context) error {
	if l.panic {
		panic("lock " + l.name)
	}
	if l.fail != nil {
		return l.fail
	}
	err := l.Mutex.Lock(ctx)
	if err == nil {
		l.log.add("lock " + l.name)
	}
	return err
}

func (l *logLock) TryLock() bool {
	ok := l.fail == nil && !l.panic && l.Mutex.TryLock()
	if ok {
		l.log.add("lock " + l.name)
	}
	return ok
}

func (l *logLock) Unlock() {
	l.log.add("unlock " + l.name)
	l.Mutex.Unlock()
}

func register(t *testing.T, m *manager.Manager, log *eventLog, names ...string) map[string]*logLock {
	t.Helper()
	locks := map[string]*logLock{}
	for _, n := range names {
		l := &logLock{name: n, log: log}
		if err := m.Register(n, l); err != nil {
			t.Fatal(err)
		}
		locks[n] = l
	}
	return locks
}

func TestDuplicatesAndCanonicalOrder(t *testing.T) {
	ctx := context.Background()
	m := manager.New()
	log := new(eventLog)
	locks := register(t, m, log, "b", "a", "ab", "B")
	h, err := m.AcquireAll(ctx, "b", "ab", "a", "b", "B", "a")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := h.Names(), []string{"B", "a", "ab", "b"}; !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v (bytewise, each once)", got, want)
	}
	for n, l := range locks {
		if !l.Locked() {
			t.Errorf("%s not locked", n)
		}
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	want := []string{"lock B", "lock a", "lock ab", "lock b", "unlock b", "unlock ab", "unlock a", "unlock B"}
	if !slices.Equal(log.events, want) {
		t.Fatalf("events %v, want %v", log.events, want)
	}
	if err := h.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("second Release = %v, want ErrNotHeld", err)
	}
	if len(log.events) != len(want) {
		t.Fatal("second Release unlocked something")
	}
	var nilHeld *manager.Held
	if err := nilHeld.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("nil Release = %v", err)
	}
}

func TestModes(t *testing.T) {
	ctx := context.Background()
	m := manager.New()
	var x rw.RWMutex
	var mu lock.Mutex
	if err := m.Register("x", &x); err != nil {
		t.Fatal(err)
	}
	if err := m.Register("m", &mu); err != nil {
		t.Fatal(err)
	}
	// Read mode shares x.
	h, err := m.Acquire(ctx, manager.Read("x"))
	if err != nil {
		t.Fatal(err)
	}
	h2, err := m.Acquire(ctx, manager.Read("x"))
	if err != nil {
		t.Fatal(err)
	}
	if x.TryLock() {
		t.Fatal("writer got in while read-held")
	}
	h.Release(ctx)
	h2.Release(ctx)
	// Both modes in one call: write wins.
	h, err = m.Acquire(ctx, manager.Read("x"), manager.Write("x"), manager.Read("x"))
	if err != nil {
		t.Fatal(err)
	}
	if x.TryRLock() {
		t.Fatal("reader got in: write did not win")
	}
	h.Release(ctx)
	// A lock without a read side is taken exclusively.
	h, err = m.Acquire(ctx, manager.Read("m"))
	if err != nil {
		t.Fatal(err)
	}
	if !mu.Locked() {
		t.Fatal("read request on a Mutex did not lock it")
	}
	h.Release(ctx)
	if mu.Locked() || !x.TryLock() {
		t.Fatal("locks left held")
	}
	x.Unlock()
}

// TestOppositeOrdersNeverDeadlock: two goroutines repeatedly take {a, b}
// and {b, a}; canonical ordering means neither waits forever.
func TestOppositeOrdersNeverDeadlock(t *testing.T) {
	m := manager.New(manager.WithOnDemand())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, names := range [][]string{{"a", "b"}, {"b", "a"}} {
		wg.Go(func() {
			for range 3000 {
				h, err := m.AcquireAll(ctx, names...)
				if err != nil {
					t.Error(err) // a deadlock ends with the deadline
					return
				}
				h.Release(ctx)
			}
		})
	}
	wg.Wait()
}

func TestRollbackOnFailure(t *testing.T) {
	ctx := context.Background()
	m := manager.New()
	log := new(eventLog)
	locks := register(t, m, log, "a", "b", "d")
	boom := errors.New("boom")
	if err := m.Register("c", &logLock{name: "c", log: log, fail: boom}); err != nil {
		t.Fatal(err)
	}
	_, err := m.AcquireAll(ctx, "d", "c", "b", "a")
	var ae *manager.AcquireError
	if !errors.As(err, &ae) || ae.Name != "c" || !errors.Is(err, boom) {
		t.Fatalf("err = %v, want an AcquireError for c wrapping boom", err)
	}
	want := []string{"lock a", "lock b", "unlock b", "unlock a"}
	if !slices.Equal(log.events, want) {
		t.Fatalf("events %v, want %v", log.events, want)
	}
	for n, l := range locks {
		if l.Locked() {
			t.Errorf("%s left locked", n)
		}
	}
	st, _ := m.Stats("c")
	if st.Failures != 1 || st.Holders != 0 {
		t.Errorf("stats of c: %+v", st)
	}
}

func TestRollbackOnCancel(t *testing.T) {
	ctx := context.Background()
	m := manager.New()
	log := new(eventLog)
	locks := register(t, m, log, "a", "b", "c")
	locks["b"].Mutex.Lock(ctx) // held outside the manager
	tctx, cancel := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel()
	_, err := m.AcquireAll(tctx, "a", "b", "c")
	var ae *manager.AcquireError
	if !errors.As(err, &ae) || ae.Name != "b" || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want an AcquireError for b wrapping DeadlineExceeded", err)
	}
	if locks["a"].Locked() || locks["c"].Locked() {
		t.Fatal("locks left held after cancellation")
	}
	st, _ := m.Stats("b")
	if st.Cancellations != 1 || st.Contended != 1 || st.Waiters != 0 || st.WaitTotal <= 0 {
		t.Errorf("stats of b: %+v", st)
	}
	locks["b"].Mutex.Unlock()
}

func TestPanicInLockReleasesTaken(t *testing.T) {
	ctx := context.Background()
	m := manager.New()
	log := new(eventLog)
	locks := register(t, m, log, "a")
	if err := m.Register("p", &logLock{name: "p", log: log, panic: true}); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if r := recover(); r != "lock p" {
				t.Fatalf("recovered %v", r)
			}
		}()
		m.AcquireAll(ctx, "p", "a")
	}()
	if locks["a"].Locked() {
		t.Fatal("a left locked after a panic")
	}
	if st, _ := m.Stats("a"); st.Holders != 0 {
		t.Fatalf("stats of a: %+v", st)
	}
	if st, _ := m.Stats("p"); st.Waiters != 0 || st.Holders != 0 {
		t.Fatalf("stats of p: %+v", st)
	}
}

func TestPanicInUnlockReleasesRest(t *testing.T) {
	ctx := context.Background()
	m := manager.New()
	var a, c lock.Mutex
	m.Register("a", &a)
	m.Register("b", panicUnlock{})
	m.Register("c", &c)
	h, err := m.AcquireAll(ctx, "a", "b", "c")
	if err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if r := recover(); r != "unlock b" {
				t.Fatalf("recovered %v", r)
			}
		}()
		h.Release(ctx)
	}()
	if a.Locked() || c.Locked() {
		t.Fatal("locks left held after a panicking Unlock")
	}
	if st := m.TotalStats(); st.Holders != 0 {
		t.Fatalf("holders after a panicking Unlock: %+v", st)
	}
}

type panicUnlock struct{}

func (panicUnlock) Lock(context.Context) error { return nil }
func (panicUnlock) Unlock()                    { panic("unlock b") }

func TestErrors(t *testing.T) {
	ctx := context.Background()
	m := manager.New()
	var a lock.Mutex
	if err := m.Register("a", &a); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
	}{
		{"", m.Register("", &a)},
		{"nil lock", m.Register("x", nil)},
		{"duplicate", m.Register("a", new(lock.Mutex))},
	} {
		if !errors.Is(tc.err, lock.ErrInvalidArgument) {
			t.Errorf("Register %s: %v, want ErrInvalidArgument", tc.name, tc.err)
		}
	}
	if _, err := m.AcquireAll(ctx); !errors.Is(err, manager.ErrNoLocks) || !errors.Is(err, lock.ErrInvalidArgument) {
		t.Errorf("no names: %v", err)
	}
	if _, err := m.AcquireAll(ctx, "a", ""); !errors.Is(err, lock.ErrInvalidArgument) {
		t.Errorf("empty name: %v", err)
	}
	_, err := m.AcquireAll(ctx, "a", "zz")
	var ae *manager.AcquireError
	if !errors.As(err, &ae) || ae.Name != "zz" || !errors.Is(err, manager.ErrUnknownName) || !errors.Is(err, lock.ErrInvalidArgument) {
		t.Errorf("unknown name: %v", err)
	}
	done, cancel := context.WithCancelCause(ctx)
	cause := errors.New("shutting down")
	cancel(cause)
	if _, err := m.AcquireAll(done, "a"); !errors.Is(err, context.Canceled) || !errors.Is(err, cause) {
		t.Errorf("done ctx: %v", err)
	}
	if a.Locked() {
		t.Fatal("a failed call left a locked")
	}
	// Nothing was left referenced: the registered lock still works.
	h, err := m.AcquireAll(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	h.Release(ctx)
	if st := m.TotalStats(); st.Acquisitions != 1 || st.Holders != 0 || st.Failures+st.Cancellations != 0 {
		t.Errorf("stats after rejected calls: %+v", st)
	}
}

// lease is a lock with Release(ctx) error and Done, like a remote lease.
type lease struct {
	lock.Mutex
	done   chan struct{}
	relErr error
}

func (l *lease) Done() <-chan struct{} { return l.done }
func (l *lease) Release(context.Context) error {
	l.Mutex.Unlock()
	return l.relErr
}

func TestReleaseErrorsAndLostLeases(t *testing.T) {
	ctx := context.Background()
	m := manager.New()
	lostErr := fmt.Errorf("remote: %w: %w", lock.ErrNotHeld, lock.ErrLockLost)
	l1 := &lease{done: make(chan struct{}), relErr: lostErr}
	l2 := &lease{done: make(chan struct{})}
	l3 := &lease{done: make(chan struct{})}
	m.Register("l1", l1)
	m.Register("l2", l2)
	m.Register("l3", l3)
	h, err := m.AcquireAll(ctx, "l1", "l2", "l3")
	if err != nil {
		t.Fatal(err)
	}
	close(l2.done) // lost while held, noticed at release
	err = h.Release(ctx)
	if !errors.Is(err, lock.ErrLockLost) || !errors.Is(err, lock.ErrNotHeld) {
		t.Fatalf("Release = %v, want the lease's error", err)
	}
	if want := `manager: release "l1": remote: lock: not held: lock: lost`; err.Error() != want {
		t.Errorf("Release error %q, want %q", err, want)
	}
	if l1.Locked() || l2.Locked() || l3.Locked() {
		t.Fatal("leases not released")
	}
	for name, lost := range map[string]int64{"l1": 1, "l2": 1, "l3": 0} {
		if st, _ := m.Stats(name); st.LostLeases != lost {
			t.Errorf("%s: LostLeases = %d, want %d", name, st.LostLeases, lost)
		}
	}
	if st := m.TotalStats(); st.LostLeases != 2 {
		t.Errorf("total LostLeases = %d", st.LostLeases)
	}
}

// TestStatsHammer: goroutines take random sets of names, some of them
// registered and some on demand, guarding counters; afterwards every count
// adds up.
func TestStatsHammer(t *testing.T) {
	ctx := context.Background()
	m := manager.New(manager.WithOnDemand())
	names := []string{"a", "b", "c", "d", "e"}
	var rwc rw.RWMutex
	m.Register("a", new(lock.Mutex))
	m.Register("b", &rwc)
	counters := map[string]*int{}
	for _, n := range names {
		counters[n] = new(int)
	}
	var acquired [5]atomic.Int64
	const goroutines, rounds = 8, 400
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range rounds {
				var pick []string
				var idx []int
				for i, n := range names {
					if r.IntN(2) == 0 {
						pick = append(pick, n)
						idx = append(idx, i)
					}
				}
				if len(pick) == 0 {
					continue
				}
				h, err := m.AcquireAll(ctx, pick...)
				if err != nil {
					t.Error(err)
					return
				}
				for k, n := range pick {
					*counters[n]++
					acquired[idx[k]].Add(1)
				}
				if err := h.Release(ctx); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	var total manager.Stats
	for i, n := range names {
		if *counters[n] != int(acquired[i].Load()) {
			t.Errorf("%s: counter %d, acquisitions %d", n, *counters[n], acquired[i].Load())
		}
		st, ok := m.Stats(n)
		if !ok {
			if n == "a" || n == "b" {
				t.Fatalf("registered %s evicted", n)
			}
			continue
		}
		total.Acquisitions += st.Acquisitions
		if st.Acquisitions != acquired[i].Load() || st.Holders != 0 || st.Waiters != 0 ||
			st.Contended > st.Acquisitions || st.WaitMax > st.WaitTotal || st.HoldMax > st.HoldTotal ||
			st.HoldTotal <= 0 || st.Failures+st.Cancellations != 0 {
			t.Errorf("%s: acquired %d, stats %+v", n, acquired[i].Load(), st)
		}
	}
	var want int64
	for i := range acquired {
		want += acquired[i].Load()
	}
	if st := m.TotalStats(); st.Acquisitions != want || st.Holders != 0 || st.Waiters != 0 {
		t.Errorf("total %+v, want %d acquisitions", st, want)
	}
}

// TestEvictionNeverDoublesAHolder: on-demand names are created and evicted
// constantly while goroutines hold and wait for them, some giving up; no
// name ever has two holders.
func TestEvictionNeverDoublesAHolder(t *testing.T) {
	m := manager.New(manager.WithOnDemand())
	names := []string{"x", "y", "z"}
	var inside [3]atomic.Int32
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 2))
			for range 1500 {
				i := r.IntN(len(names))
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(r.IntN(50))*time.Microsecond)
				h, err := m.AcquireAll(ctx, names[i])
				cancel()
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Error(err)
						return
					}
					failed.Add(1)
					continue
				}
				if n := inside[i].Add(1); n != 1 {
					t.Errorf("%d holders of %s", n, names[i])
				}
				inside[i].Add(-1)
				h.Release(context.Background())
				ok.Add(1)
			}
		})
	}
	wg.Wait()
	for _, n := range names {
		if _, live := m.Stats(n); live {
			t.Errorf("%s not evicted after its last holder", n)
		}
	}
	st := m.TotalStats()
	if st.Acquisitions != ok.Load() || st.Holders != 0 || st.Waiters != 0 {
		t.Errorf("total %+v, want %d acquisitions", st, ok.Load())
	}
	// A failure before the ctx check (deadline already passed) is not
	// counted, so cancellations are at most the failures seen.
	if st.Cancellations > failed.Load() {
		t.Errorf("cancellations %d > failures seen %d", st.Cancellations, failed.Load())
	}
}

func TestOrderCheck(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var got []manager.Violation
	m := manager.New(manager.WithOnDemand(), manager.WithOrderCheck(func(v manager.Violation) {
		mu.Lock()
		got = append(got, v)
		mu.Unlock()
	}))
	take := func(reqs ...manager.Request) *manager.Held {
		t.Helper()
		h, err := m.Acquire(ctx, reqs...)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	// In order: a then b, nested. Nothing to report.
	h1 := take(manager.Write("a"))
	h2 := take(manager.Write("b"))
	h2.Release(ctx)
	h1.Release(ctx)
	if len(got) != 0 {
		t.Fatalf("in-order nesting reported %v", got)
	}
	// b then a: out of order, and an inversion of the above.
	h1 = take(manager.Write("b"))
	h2 = take(manager.Write("a"))
	h2.Release(ctx)
	h1.Release(ctx)
	// d then c: out of order, never seen the other way.
	h1 = take(manager.Write("d"))
	h2 = take(manager.Write("c"))
	h2.Release(ctx)
	h1.Release(ctx)
	// A reader asking again for what it holds.
	h1 = take(manager.Read("r"))
	h2 = take(manager.Read("r"))
	h2.Release(ctx)
	h1.Release(ctx)
	// Other goroutines' holds are not this goroutine's.
	h1 = take(manager.Write("q"))
	done := make(chan struct{})
	go func() {
		defer close(done)
		h, err := m.AcquireAll(ctx, "p")
		if err == nil {
			h.Release(ctx)
		}
	}()
	<-done
	h1.Release(ctx)

	want := []manager.Violation{
		{Held: "b", Requested: "a", Inversion: true},
		{Held: "d", Requested: "c"},
		{Held: "r", Requested: "r"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("violations %v, want %v", got, want)
	}
	for _, v := range got {
		if v.String() == "" {
			t.Fatal("empty description")
		}
	}
}
