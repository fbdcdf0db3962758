//go:build linux

package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/chaos"
	"github.com/codomyrmex/concurrency/internal/check"
	"github.com/codomyrmex/concurrency/internal/faultproxy"
	"github.com/codomyrmex/concurrency/internal/redistest"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
	"github.com/redis/go-redis/v9"
)

// The lease scenarios of the distributed semaphore and reader/writer
// lock (issue 16): per round, leaseClients redislock Clients in this
// process, leaseProxied of them through a fault proxy, each with
// leaseGoroutines goroutines that take leases of random weight (or
// readers, writers and downgrades) under cancellation churn, while the
// test injects the faults of leaseFaults in turn: stalls of the proxy
// and of the server beyond the TTL, killed and reset connections, lost
// grant messages and replies, SCRIPT FLUSH, delays, a shrink of the
// semaphore, and storms that cancel many waiters at once. Each hold is a
// check.Grant that ends at its release, at the end of its lease's
// validity or when its context (which bounds the hold of a lease from
// Acquire, ObtainRead or ObtainWrite) was cancelled, whichever comes
// first; the oracles are check.OverAdmitted, check.FenceDisorders,
// porcupine, the cancellation contract and progress.
const (
	leaseClients    = 4
	leaseProxied    = 2
	leaseGoroutines = 3
	leaseAttempts   = 30                    // per goroutine and round
	leaseRoundTime  = 5 * time.Second       // a goroutine starts no attempt after this
	leaseLongHold   = shortTTL + shortTTL/2 // a hold that spans a stall
	leaseStall      = shortTTL + 300*time.Millisecond
	leaseSettle     = shortTTL + handoffRefresh + slack // for the weight of a round to come back
	semSize         = 4
	semName         = "chaos-sem"
	rwName          = "chaos-rw"
	rwWriter        = 1 << 20 // a writer's weight for the RW oracles: above any number of readers
)

// A churnCtx is the context of one acquisition under cancellation churn,
// which also bounds the lease's hold for Acquire, ObtainRead and
// ObtainWrite: it records (with check.Now) when it was ended, before it
// is, so that a hold ended by it ends there.
type churnCtx struct {
	context.Context
	cancel context.CancelCauseFunc
	ended  atomic.Int64
	timer  *time.Timer
	storm  *storm
}

// newChurnCtx returns the context of an acquisition: already cancelled
// (5 %), cancelled within redisSpan (40 %), cancelled by the next
// cancellation storm (15 %; or after 3s if none comes), or not before
// stallTimeout (40 %), when it ends with cause errStall.
func newChurnCtx(rng *rand.Rand, s *storm) *churnCtx {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &churnCtx{Context: ctx, cancel: cancel}
	switch x := rng.IntN(100); {
	case x < 5:
		c.end(errChurn)
	case x < 45:
		c.timer = time.AfterFunc(time.Duration(rng.Int64N(int64(redisSpan))), func() { c.end(errChurn) })
	case x < 60:
		c.storm = s
		s.add(c)
		c.timer = time.AfterFunc(3*time.Second, func() { c.end(errChurn) })
	default:
		c.timer = time.AfterFunc(stallTimeout, func() { c.end(errStall) })
	}
	return c
}

// end records the time and cancels the context with cause, once.
func (c *churnCtx) end(cause error) {
	c.ended.CompareAndSwap(0, check.Now())
	c.cancel(cause)
}

// endedAt returns when the context was ended, or 0 if it was not.
func (c *churnCtx) endedAt() int64 { return c.ended.Load() }

// stop releases the context's resources; the context ends.
func (c *churnCtx) stop() {
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.storm != nil {
		c.storm.remove(c)
	}
	c.cancel(nil)
}

// A storm is the set of contexts that the next cancellation storm may
// cancel.
type storm struct {
	mu   sync.Mutex
	ctxs map[*churnCtx]struct{}
}

func (s *storm) add(c *churnCtx) {
	s.mu.Lock()
	if s.ctxs == nil {
		s.ctxs = map[*churnCtx]struct{}{}
	}
	s.ctxs[c] = struct{}{}
	s.mu.Unlock()
}

func (s *storm) remove(c *churnCtx) {
	s.mu.Lock()
	delete(s.ctxs, c)
	s.mu.Unlock()
}

// fire cancels each context of the storm with probability 1/2, at a
// random moment within 20ms, and returns how many it cancels.
func (s *storm) fire(rng *rand.Rand) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for c := range s.ctxs {
		if rng.IntN(2) == 0 {
			delete(s.ctxs, c)
			time.AfterFunc(time.Duration(rng.Int64N(int64(20*time.Millisecond))), func() { c.end(errChurn) })
			n++
		}
	}
	return n
}

// holdFor returns how long a goroutine holds a lease: a moment mostly,
// and now and then longer than the TTL, across a stall.
func holdFor(rng *rand.Rand) time.Duration {
	if rng.IntN(100) < 3 {
		return leaseLongHold
	}
	return time.Duration(rng.Int64N(int64(3 * time.Millisecond)))
}

// holdLease holds l for d, sampling its validity, and returns the last
// end of validity it reported (check.ValidUntil), or from if none was
// left at the first sample. It does not stop when the lease ends, as a
// holder past its last check would not: its hold then counts until the
// end of validity that the lease last reported, which is what
// check.OverAdmitted holds the lease to.
func holdLease(l *redislock.Lease, d time.Duration, from int64) int64 {
	valid := check.ValidUntil(l.Validity)
	if valid == 0 {
		return from
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-timer.C:
			if v := check.ValidUntil(l.Validity); v != 0 {
				valid = v
			}
			return valid
		case <-tick.C:
			if v := check.ValidUntil(l.Validity); v != 0 {
				valid = v
			}
		}
	}
}

// endOfHold returns the end of a hold that stopped at end: the context's
// end, if the context bounded the hold and ended earlier.
func endOfHold(end int64, c *churnCtx, bounds bool) int64 {
	if at := c.endedAt(); bounds && at != 0 && at < end {
		return at
	}
	return end
}

// leaseTally counts what the goroutines of a lease round saw.
type leaseTally struct {
	grants, cancelled, lost, ctxEnded, contract, stalls, unexpected atomic.Int64
	refused, tryErrors                                              atomic.Int64 // tries
	shrunk                                                          atomic.Int64 // refused while the semaphore was smaller
	goneAtRelease                                                   atomic.Int64 // live leases whose key was gone when their release ran
	byKind                                                          sync.Map     // kind → *atomic.Int64
	maxWait                                                         sync.Map     // kind → *atomic.Int64, the longest wait of a grant
}

func (t *leaseTally) kind(k string) {
	v, _ := t.byKind.LoadOrStore(k, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// waited records that a grant of kind waited d.
func (t *leaseTally) waited(kind string, d time.Duration) {
	v, _ := t.maxWait.LoadOrStore(kind, new(atomic.Int64))
	m := v.(*atomic.Int64)
	for old := m.Load(); int64(d) > old && !m.CompareAndSwap(old, int64(d)); old = m.Load() {
	}
}

// waits returns the longest wait of a grant of each kind.
func (t *leaseTally) waits() map[string]time.Duration {
	m := map[string]time.Duration{}
	t.maxWait.Range(func(k, v any) bool {
		m[k.(string)] = time.Duration(v.(*atomic.Int64).Load()).Round(time.Millisecond)
		return true
	})
	return m
}

func (t *leaseTally) kinds() map[string]int64 {
	m := map[string]int64{}
	t.byKind.Range(func(k, v any) bool { m[k.(string)] = v.(*atomic.Int64).Load(); return true })
	return m
}

// failed records an acquisition that returned err under c: a context's
// end must be reported with an error wrapping ctx.Err() and its cause,
// and nothing else may fail a wait. A try (TryAcquire, TryObtainRead,
// TryObtainWrite) called before its context ended may also be refused
// (lock.ErrNotAcquired; the context may end meanwhile: the refusal is
// still the answer) or fail on a Redis error, which it does not retry;
// neither holds anything.
func (t *leaseTally) failed(tb testing.TB, c *churnCtx, err error, try bool, called int64) {
	live := c.endedAt() == 0 || c.endedAt() > called
	switch {
	case try && live && errors.Is(err, lock.ErrNotAcquired):
		t.refused.Add(1)
		return
	case try && c.Err() == nil:
		t.tryErrors.Add(1)
		return
	}
	if c.Err() == nil {
		if t.unexpected.Add(1) <= maxReported {
			tb.Errorf("acquisition failed with its context live: %v", err)
		}
		return
	}
	t.cancelled.Add(1)
	if !errors.Is(err, c.Err()) || !errors.Is(err, context.Cause(c)) {
		if t.contract.Add(1) <= maxReported {
			tb.Errorf("contract: error %q for a context ended by %q", err, context.Cause(c))
		}
	}
	if errors.Is(context.Cause(c), errStall) && t.stalls.Add(1) <= maxReported {
		tb.Errorf("a wait stalled: nothing granted or refused it for %v", stallTimeout)
	}
}

// released records in h the end of a hold of weight w by client, called
// at end, after rel (the lease's Release, at end) returned err: OK if it
// returned nil; if the lease had ended (lost, or its context done), a
// release that may have happened at any time since the grant; otherwise
// (a transport error) one that may have happened since the call.
func released(h *check.History, client int, w int64, granted, end int64, err error, tally *leaseTally) {
	in := check.Input{Client: client, Kind: check.Release, Weight: w}
	switch {
	case err == nil:
		h.Add(check.Operation{ClientId: client, Input: in, Call: end, Output: check.OK, Return: check.Now()})
	case errors.Is(err, lock.ErrNotHeld):
		if errors.Is(err, lock.ErrLockLost) {
			tally.lost.Add(1)
		} else {
			tally.ctxEnded.Add(1)
		}
		h.Add(check.Operation{ClientId: client, Input: in, Call: granted, Output: check.Ambiguous, Return: math.MaxInt64})
	default:
		h.Add(check.Operation{ClientId: client, Input: in, Call: end, Output: check.Ambiguous, Return: math.MaxInt64})
	}
}

// leaseFaults are the faults of the lease scenarios, injected in turn:
// a stall of the proxy longer than the TTL while a proxied Client holds
// a lease (see stallHolder), every connection killed, the proxied
// connections reset, grant messages dropped, replies dropped (requests
// take effect, their answers never come), SCRIPT FLUSH, short delays,
// a shrink of the semaphore, the server stopped (SIGSTOP) beyond the TTL,
// and cancellation storms.
func (r *leaseRound) leaseFaults(rng *rand.Rand) []fault {
	storm := func(t *testing.T, _ *faultproxy.Proxy, _ *redis.Client) {
		r.st.fire(rng)
		r.stormWaiters(t, rng)
	}
	return []fault{
		{"stall beyond the TTL", r.stallHolder},
		{"cancellation storm", storm},
		{"server paused beyond the TTL", func(*testing.T, *faultproxy.Proxy, *redis.Client) {
			// Every Client's leases run out of validity; the commands
			// sent meanwhile (renewals, acquisitions, releases) run when
			// the server resumes, after the leases they were for ended.
			r.srv.Pause()
			time.Sleep(leaseStall)
			r.srv.Resume()
		}},
		{"shrink and grow", r.shrink},
		{"kill connections", func(t *testing.T, _ *faultproxy.Proxy, admin *redis.Client) {
			ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
			defer cancel()
			for _, typ := range []string{"normal", "pubsub"} {
				if err := admin.Do(ctx, "client", "kill", "type", typ).Err(); err != nil {
					t.Errorf("CLIENT KILL TYPE %s: %v", typ, err)
				}
			}
		}},
		{"cancellation storm", storm},
		{"reset", func(t *testing.T, p *faultproxy.Proxy, _ *redis.Client) {
			proxyFor(t, p, faultproxy.Reset, 30*time.Millisecond)
		}},
		{"drop messages", func(t *testing.T, p *faultproxy.Proxy, _ *redis.Client) {
			proxyFor(t, p, faultproxy.DropMessages, 200*time.Millisecond)
		}},
		{"cancellation storm", storm},
		{"drop replies", func(t *testing.T, p *faultproxy.Proxy, _ *redis.Client) {
			proxyFor(t, p, faultproxy.DropReplies, 100*time.Millisecond)
		}},
		{"script flush", func(t *testing.T, _ *faultproxy.Proxy, admin *redis.Client) {
			ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
			defer cancel()
			if err := admin.ScriptFlush(ctx).Err(); err != nil {
				t.Errorf("SCRIPT FLUSH: %v", err)
			}
		}},
		{"delay", func(t *testing.T, p *faultproxy.Proxy, _ *redis.Client) {
			p.SetDelay(20*time.Millisecond, 20*time.Millisecond)
			proxyFor(t, p, faultproxy.Delay, 200*time.Millisecond)
		}},
	}
}

// shrink resizes the semaphore to semSize−1 for 150ms, then back to
// semSize (nothing for an RW lock). Holders keep their weight; waiters
// for semSize are refused with lock.ErrInvalidArgument meanwhile.
func (r *leaseRound) shrink(t *testing.T, _ *faultproxy.Proxy, _ *redis.Client) {
	if r.resize == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	defer cancel()
	r.resized.Store(true)
	if err := r.resize(ctx, semSize-1); err != nil {
		t.Errorf("shrink: %v", err)
	}
	time.Sleep(150 * time.Millisecond)
	if err := r.resize(ctx, semSize); err != nil {
		t.Errorf("grow: %v", err)
	}
}

// stallHolder takes a lease through the proxy (r.take on r.victim, as
// owner leaseOwners, within 2s), stalls the proxy for leaseStall, and
// holds the lease meanwhile: it must be found lost, by its validity,
// within the TTL and slack, with an error wrapping lock.ErrLockLost. Its
// grant and history count with the others'; its weight goes to the
// direct Clients once it expires in Redis.
func (r *leaseRound) stallHolder(t *testing.T, p *faultproxy.Proxy, _ *redis.Client) {
	const owner = leaseOwners
	called := check.Now()
	l, w, stop, err := r.take(r.victim)
	if err != nil {
		proxyFor(t, p, faultproxy.Blackhole, leaseStall)
		return
	}
	defer stop()
	granted := check.Now()
	r.hist.Add(check.Operation{ClientId: owner, Input: check.Input{Client: owner, Kind: check.Acquire, Weight: w}, Call: called, Output: check.OK, Return: granted})
	if err := p.Set(faultproxy.Blackhole); err != nil {
		t.Errorf("proxy blackhole: %v", err)
	}
	stalled := time.Now()
	var lostAfter atomic.Int64
	context.AfterFunc(l.Context(), func() { lostAfter.Store(int64(time.Since(stalled))) })
	valid := holdLease(l, leaseStall, granted)
	end := check.Now()
	if err := p.Set(faultproxy.Pass); err != nil {
		t.Errorf("proxy back to pass: %v", err)
	}
	r.grants.Add(check.Grant{Owner: owner, Weight: w, Token: l.Fence(), Called: called, Granted: granted, End: end, ValidUntil: valid})
	select {
	case <-l.Done():
		r.lostAfter = append(r.lostAfter, time.Duration(lostAfter.Load()))
		if !errors.Is(l.Err(), lock.ErrLockLost) {
			t.Errorf("a lease stalled beyond its TTL ended with %v, want ErrLockLost", l.Err())
		}
	default:
		t.Errorf("a lease stalled %v, TTL %v, is still held: validity %v", leaseStall, shortTTL, l.Validity())
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
	err = l.Release(rctx)
	rcancel()
	released(&r.hist, owner, w, granted, end, err, &r.tally)
}

// stormWaiters is a cancellation storm on waiters of its own: it starts
// stormSize waits (r.wait) on random Clients of the round, and cancels
// each at a random moment within stormSpan. Each must return promptly
// (within stormPrompt of its cancellation), with the context's error if
// not granted; one granted meanwhile is released at once, its hold ending
// at its context's end. Their operations and grants count with the
// others'.
func (r *leaseRound) stormWaiters(t *testing.T, rng *rand.Rand) {
	if r.wait == nil {
		return
	}
	var wg sync.WaitGroup
	for i := range stormSize {
		cl := r.clients[rng.IntN(len(r.clients))]
		after := time.Duration(rng.Int64N(int64(stormSpan)))
		seed := rng.Uint64()
		owner := stormOwners + i
		wg.Go(func() {
			ctx, cancel := context.WithCancelCause(context.Background())
			c := &churnCtx{Context: ctx, cancel: cancel}
			c.timer = time.AfterFunc(after, func() { c.end(errChurn) })
			defer c.stop()
			called := check.Now()
			// The weight is known only once the wait returns: record the
			// call then, with its call time.
			l, w, err := r.wait(c, cl, rand.New(rand.NewPCG(seed, 1)))
			ret := check.Now()
			in := check.Input{Client: owner, Kind: check.Acquire, Weight: w}
			if at := c.endedAt(); at != 0 && ret-at > r.lateMax.Load() {
				r.lateMax.Store(ret - at) // racy max: good enough for a report
			}
			if at := c.endedAt(); at != 0 && time.Duration(ret-at) > stormPrompt {
				t.Errorf("a storm waiter returned %v after its cancellation (%v)", time.Duration(ret-at), err)
			}
			if err != nil {
				// A failed acquire is a no-op anywhere in its window: left
				// out of the history, where sixteen at once would only
				// slow porcupine down.
				r.tally.failed(t, c, err, false, called)
				r.stormed.Add(1)
				return
			}
			r.hist.Add(check.Operation{ClientId: owner, Input: in, Call: called, Output: check.OK, Return: ret})
			r.tally.grants.Add(1)
			end := endOfHold(check.Now(), c, true)
			r.grants.Add(check.Grant{Owner: uint64(owner), Weight: w, Token: l.Fence(), Called: called, Granted: ret, End: end,
				ValidUntil: check.ValidUntil(l.Validity)})
			rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
			err = l.Release(rctx)
			rcancel()
			released(&r.hist, owner, w, ret, end, err, &r.tally)
		})
	}
	wg.Wait()
}

// takeWithin takes a lease with obtain, whose context bounds the hold,
// giving up after d; stop ends that context.
func takeWithin(d time.Duration, obtain func(ctx context.Context) (*redislock.Lease, error)) (l *redislock.Lease, stop func(), err error) {
	ctx, cancel := context.WithCancel(context.Background())
	timer := time.AfterFunc(d, cancel)
	l, err = obtain(ctx)
	if !timer.Stop() { // the wait was cancelled: whatever came of it has ended
		err = errors.Join(context.DeadlineExceeded, err)
	}
	if err != nil {
		cancel()
		return nil, nil, err
	}
	return l, cancel, nil
}

// A leaseRound is what one round of a lease scenario needs and collects.
type leaseRound struct {
	srv    *redistest.Server
	proxy  *faultproxy.Proxy
	admin  *redis.Client
	st     storm
	hist   check.History
	grants check.Grants
	tally  leaseTally
	faults map[string]int
	// take takes the lease of stallHolder through c, the victim Client,
	// and its weight; stop ends the context that bounds its hold.
	take      func(c *redislock.Client) (l *redislock.Lease, w int64, stop func(), err error)
	victim    *redislock.Client
	lostAfter []time.Duration // stallHolder's leases: when each was found lost
	// wait starts a wait through c, bounded by ctx (which bounds the
	// hold too), for a storm's waiter, and returns its weight.
	wait    func(ctx context.Context, c *redislock.Client, rng *rand.Rand) (*redislock.Lease, int64, error)
	clients []*redislock.Client
	// attempts is how many acquisitions each goroutine makes at most
	// (leaseAttempts if 0), until its time is up.
	attempts int
	// resize, if set, resizes the semaphore: the resize fault shrinks it
	// by one for a moment, then restores it.
	resize  func(ctx context.Context, size int64) error
	resized atomic.Bool  // the semaphore has been shrunk in the round
	stormed atomic.Int64 // storm waiters cancelled
	lateMax atomic.Int64 // the longest a storm waiter took to return after its cancellation
}

// attemptsEach returns how many acquisitions each goroutine makes at
// most.
func (r *leaseRound) attemptsEach() int {
	if r.attempts > 0 {
		return r.attempts
	}
	return leaseAttempts
}

// leaseOwners is the number of goroutines of a lease round, and the owner
// number of its stallHolder.
const leaseOwners = leaseClients * leaseGoroutines

// Storm waiters: how many each storm starts, the span within which it
// cancels them, how promptly each must return, and their owner numbers.
const (
	stormSize   = 16
	stormSpan   = 30 * time.Millisecond
	stormPrompt = time.Second
	stormOwners = 1000
)

// run starts the Clients of a round and, in each of their goroutines,
// work(c, owner, rng, until); it injects the lease faults in turn until
// every goroutine is done, and returns the number of faults.
func (r *leaseRound) run(t *testing.T, round int, work func(c *redislock.Client, owner int, rng *rand.Rand, until time.Time)) int64 {
	rng := rand.New(rand.NewPCG(uint64(round), 16))
	until := time.Now().Add(leaseRoundTime)
	var wg sync.WaitGroup
	for i := range leaseClients {
		addr := r.srv.Addr()
		if i < leaseProxied {
			addr = r.proxy.Addr()
		}
		c := newLocks(t, dialRedis(t, addr), redislock.WithWatchdog(shortTTL, shortRenew))
		r.clients = append(r.clients, c)
		for g := range leaseGoroutines {
			owner := i*leaseGoroutines + g
			wg.Go(func() { work(c, owner, rand.New(rand.NewPCG(uint64(round), uint64(owner))), until) })
		}
	}
	r.victim = newLocks(t, dialRedis(t, r.proxy.Addr()), redislock.WithWatchdog(shortTTL, shortRenew))
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	faults := r.leaseFaults(rng)
	// Every wait ends by stallTimeout: goroutines still busy well after
	// that are stuck.
	stuck := until.Add(stallTimeout + 5*time.Second)
	var n int64
	for i := 0; i < 1000 && time.Now().Before(stuck); i++ {
		select {
		case <-done:
			return n
		case <-time.After(faultEvery):
		}
		f := faults[i%len(faults)]
		f.inject(t, r.proxy, r.admin)
		r.faults[f.name]++
		n++
	}
	select {
	case <-done:
	case <-time.After(time.Until(stuck)):
		t.Errorf("round %d: goroutines still busy %v after the last attempt could start", round, stallTimeout+5*time.Second)
		<-done // go test's -timeout prints where they are
	}
	return n
}

// TestRedisSemaphoreFaults is scenario 1 of issue 16: a Semaphore of size
// semSize, weights 1 to semSize taken through SemaphoreLocker (whose
// context bounds only the wait) and Acquire (whose context bounds the
// hold too) under churn and the lease faults, the semaphore shrunk by
// one for a moment now and then (waits for all of it are refused
// meanwhile, with lock.ErrInvalidArgument). At no instant may the
// leases still valid hold more than semSize; fences are one per grant and
// increase in real time; the merged history is linearizable for a
// semaphore; no wait stalls; every weight is granted now and then (a
// request for the whole semaphore is not starved by small ones); and once
// the round is over, the weight and the queue come back empty.
func TestRedisSemaphoreFaults(t *testing.T) {
	srv := redistest.Start(t)
	admin := dialRedis(t, srv.Addr())
	var sum chaos.Summary
	sum.Processes = 1
	byWeight := map[string]int64{}
	faults := map[string]int{}
	var ops, lost, ctxEnded, cancelled, refused, tryErrors, stormed, shrunk, gone int64
	var lateMax time.Duration
	longest := map[string]time.Duration{}
	var stalledLost []time.Duration
	for round := range plan.Rounds(1) {
		proxy, err := faultproxy.New(srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%s-%d", semName, round)
		r := &leaseRound{srv: srv, proxy: proxy, admin: admin, faults: faults,
			take: func(c *redislock.Client) (*redislock.Lease, int64, func(), error) {
				l, stop, err := takeWithin(2*time.Second, func(ctx context.Context) (*redislock.Lease, error) {
					return c.NewSemaphore(name, semSize).Acquire(ctx, 1)
				})
				return l, 1, stop, err
			},
			resize: newLocks(t, admin).NewSemaphore(name, semSize).Resize,
			wait: func(ctx context.Context, c *redislock.Client, rng *rand.Rand) (*redislock.Lease, int64, error) {
				w := 1 + rng.Int64N(semSize)
				l, err := c.NewSemaphore(name, semSize).Acquire(ctx, w)
				return l, w, err
			}}
		sum.Faults += r.run(t, round, func(c *redislock.Client, owner int, rng *rand.Rand, until time.Time) {
			semWorker(t, r, c.NewSemaphore(name, semSize), semSize, owner, rng, until)
		})
		proxy.Close()
		gs := r.grants.All()
		o := r.hist.Operations()
		checkGrants(t, round, gs, semSize, &sum)
		if err := check.CheckSemaphore(semSize, o, historyTimeout); err != nil {
			t.Errorf("round %d: %v", round, err)
		}
		settled(t, round, newLocks(t, admin).NewSemaphore(name, semSize))
		for k, d := range r.tally.waits() {
			longest[k] = max(longest[k], d)
		}
		for k, v := range r.tally.kinds() {
			byWeight[k] += v
		}
		sum.Acquisitions += int64(len(gs))
		ops += int64(len(o))
		stalledLost = append(stalledLost, r.lostAfter...)
		lost += r.tally.lost.Load()
		ctxEnded += r.tally.ctxEnded.Load()
		cancelled += r.tally.cancelled.Load()
		refused += r.tally.refused.Load()
		stormed += r.stormed.Load()
		shrunk += r.tally.shrunk.Load()
		gone += r.tally.goneAtRelease.Load()
		lateMax = max(lateMax, time.Duration(r.lateMax.Load()))
		tryErrors += r.tally.tryErrors.Load()
		if t.Failed() {
			break
		}
	}
	for w := int64(1); w <= semSize; w++ {
		if byWeight[fmt.Sprint("weight ", w)] == 0 {
			t.Errorf("no acquisition of weight %d: starved (%v)", w, byWeight)
		}
	}
	sum.Note(fmt.Sprintf("grants by weight %v, longest waits %v", byWeight, longest))
	sum.Note(chaos.Count(cancelled, "cancelled wait"))
	sum.Note(fmt.Sprintf("%s cancelled in storms of %d, each returned within %v of its cancellation", chaos.Count(stormed, "waiter"), stormSize, lateMax.Round(time.Microsecond)))
	sum.Note(chaos.Count(refused, "try") + " refused, " + chaos.Count(tryErrors, "try") + " failed on a Redis error")
	sum.Note(chaos.Count(shrunk, "wait") + " for the whole semaphore refused while it was shrunk")
	sum.Note(chaos.Count(gone, "live lease") + " whose key had expired when its release ran")
	sum.Note(chaos.Count(lost, "lease") + " lost (stalls beyond the TTL), " + chaos.Count(ctxEnded, "lease") + " ended by their context while held")
	sum.Note(fmt.Sprintf("%s held through a stall found lost %s into it (TTL %v)", chaos.Count(int64(len(stalledLost)), "lease"), durations(stalledLost), shortTTL))
	sum.Note(chaos.Count(ops, "operation") + " linearizable for a semaphore of size 4; fences in order; weight and queue empty after each round")
	sum.Note(fmt.Sprintf("faults by kind %v", faults))
	t.Log(sum)
}

// semWorker is one goroutine of TestRedisSemaphoreFaults: it takes
// weights from 1 to size of s.
func semWorker(t *testing.T, r *leaseRound, s *redislock.Semaphore, size int64, owner int, rng *rand.Rand, until time.Time) {
	for range r.attemptsEach() {
		if time.Now().After(until) {
			return
		}
		w := 1 + rng.Int64N(size)
		c := newChurnCtx(rng, &r.st)
		mode := rng.IntN(10)
		try := mode == 0
		viaAcquire := mode < 4 // the context bounds the hold
		var lk *redislock.SemaphoreLocker
		called := check.Now()
		call := r.hist.Call(owner, check.Acquire, w)
		var l *redislock.Lease
		var err error
		switch {
		case try:
			l, err = s.TryAcquire(c, w)
		case viaAcquire:
			l, err = s.Acquire(c, w)
		default:
			lk = s.Locker(w)
			if err = lk.Lock(c); err == nil {
				l = lk.Lease()
			}
		}
		if err != nil {
			call.Return(check.Failed)
			if w == semSize && r.resized.Load() && errors.Is(err, lock.ErrInvalidArgument) {
				r.tally.shrunk.Add(1) // refused while the semaphore was smaller
			} else {
				r.tally.failed(t, c, err, try, called)
			}
			c.stop()
			continue
		}
		call.Return(check.OK)
		granted := check.Now()
		r.tally.kind(fmt.Sprint("weight ", w))
		r.tally.waited(fmt.Sprint("weight ", w), time.Duration(granted-called))
		valid := holdLease(l, holdFor(rng), granted)
		end := endOfHold(check.Now(), c, viaAcquire)
		r.grants.Add(check.Grant{Owner: uint64(owner), Weight: w, Token: l.Fence(), Called: called, Granted: granted, End: end, ValidUntil: valid})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if viaAcquire {
			err = l.Release(ctx)
		} else {
			err = lk.Release(ctx)
		}
		cancel()
		released(&r.hist, owner, w, granted, end, err, &r.tally)
		if errors.Is(err, lock.ErrLockLost) && !errors.Is(l.Err(), lock.ErrLockLost) {
			// The lease was live when Release ended it, and its key was
			// gone when the release ran: it expired in between (the
			// server stopped, or the release came as the validity ran
			// out). Its hold ended at the call, or at its validity.
			r.tally.goneAtRelease.Add(1)
		}
		c.stop()
	}
}

// checkGrants checks the grants of a round: never more than size held
// at once by valid leases, fences in order.
func checkGrants(t *testing.T, round int, gs []check.Grant, size int64, sum *chaos.Summary) {
	t.Helper()
	if ex := check.OverAdmitted(gs, size); ex != nil {
		sum.Overlaps += len(ex)
		t.Errorf("round %d: %d over-admissions among %d grants, first: %v", round, len(ex), len(gs), ex[0])
	}
	if d := check.FenceDisorders(gs); d != nil {
		t.Errorf("round %d: %d fences out of order, first: %v", round, len(d), d[0])
	}
}

// settled waits until the semaphore holds no weight and queues nobody:
// whatever the faults and cancellations, no grant is left behind once
// the leases of the round have expired.
func settled(t *testing.T, round int, s *redislock.Semaphore) {
	t.Helper()
	deadline := time.Now().Add(leaseSettle)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
		st, err := s.Stat(ctx)
		cancel()
		if err == nil && st.Held == 0 && st.Waiting == 0 && st.Holders == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("round %d: %v after the round: %+v, %v; want nothing held or queued", round, leaseSettle, st, err)
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRedisRWMutexFaults is scenario 2 of issue 16: readers (ObtainRead),
// writers (ObtainWrite) and writers that downgrade midway (Lease.
// Downgrade), under churn and the lease faults. A writer's hold weighs
// rwWriter and a reader's 1, so that check.OverAdmitted with size
// rwWriter finds any writer that held with anyone else; a downgraded
// writer's write hold ends when it calls Downgrade (after which it only
// reads, whatever the outcome), its read hold begins there. Fences are in
// order, the merged history (a downgrade is a release of rwWriter−1) is
// linearizable for a semaphore of size rwWriter, no wait stalls, and both
// sides make progress: readers, writers and downgrades are granted in
// every round.
func TestRedisRWMutexFaults(t *testing.T) {
	srv := redistest.Start(t)
	admin := dialRedis(t, srv.Addr())
	var sum chaos.Summary
	sum.Processes = 1
	byKind := map[string]int64{}
	faults := map[string]int{}
	var ops, lost, ctxEnded, cancelled, refused, tryErrors, stormed int64
	var lateMax time.Duration
	longest := map[string]time.Duration{}
	var stalledLost []time.Duration
	for round := range plan.Rounds(1) {
		proxy, err := faultproxy.New(srv.Addr())
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("%s-%d", rwName, round)
		stalls := 0
		r := &leaseRound{srv: srv, proxy: proxy, admin: admin, faults: faults,
			take: func(c *redislock.Client) (*redislock.Lease, int64, func(), error) {
				if stalls++; stalls%2 == 1 {
					l, stop, err := takeWithin(2*time.Second, c.NewRWMutex(name).ObtainRead)
					return l, 1, stop, err
				}
				l, stop, err := takeWithin(2*time.Second, c.NewRWMutex(name).ObtainWrite)
				return l, rwWriter, stop, err
			},
			wait: func(ctx context.Context, c *redislock.Client, rng *rand.Rand) (*redislock.Lease, int64, error) {
				if rng.IntN(2) == 0 {
					l, err := c.NewRWMutex(name).ObtainRead(ctx)
					return l, 1, err
				}
				l, err := c.NewRWMutex(name).ObtainWrite(ctx)
				return l, rwWriter, err
			}}
		sum.Faults += r.run(t, round, func(c *redislock.Client, owner int, rng *rand.Rand, until time.Time) {
			rwWorker(t, r, c.NewRWMutex(name), owner, rng, until)
		})
		proxy.Close()
		gs := r.grants.All()
		o := r.hist.Operations()
		checkGrants(t, round, gs, rwWriter, &sum)
		if err := check.CheckSemaphore(rwWriter, o, historyTimeout); err != nil {
			t.Errorf("round %d: %v", round, err)
		}
		for k, d := range r.tally.waits() {
			longest[k] = max(longest[k], d)
		}
		kinds := r.tally.kinds()
		for _, k := range []string{"read", "write", "downgrade"} {
			if kinds[k] == 0 {
				t.Errorf("round %d: no %s granted: %v", round, k, kinds)
			}
			byKind[k] += kinds[k]
		}
		sum.Acquisitions += r.tally.grants.Load()
		ops += int64(len(o))
		stalledLost = append(stalledLost, r.lostAfter...)
		lost += r.tally.lost.Load()
		ctxEnded += r.tally.ctxEnded.Load()
		cancelled += r.tally.cancelled.Load()
		refused += r.tally.refused.Load()
		stormed += r.stormed.Load()
		lateMax = max(lateMax, time.Duration(r.lateMax.Load()))
		tryErrors += r.tally.tryErrors.Load()
		if t.Failed() {
			break
		}
	}
	sum.Note(fmt.Sprintf("grants by kind %v, longest waits %v", byKind, longest))
	sum.Note(chaos.Count(cancelled, "cancelled wait"))
	sum.Note(fmt.Sprintf("%s cancelled in storms of %d, each returned within %v of its cancellation", chaos.Count(stormed, "waiter"), stormSize, lateMax.Round(time.Microsecond)))
	sum.Note(chaos.Count(refused, "try") + " refused, " + chaos.Count(tryErrors, "try") + " failed on a Redis error")
	sum.Note(chaos.Count(lost, "lease") + " lost (stalls beyond the TTL), " + chaos.Count(ctxEnded, "lease") + " ended by their context while held")
	sum.Note(fmt.Sprintf("%s held through a stall found lost %s into it (TTL %v)", chaos.Count(int64(len(stalledLost)), "lease"), durations(stalledLost), shortTTL))
	sum.Note(chaos.Count(ops, "operation") + " linearizable; no writer with anyone else; fences in order")
	sum.Note(fmt.Sprintf("faults by kind %v", faults))
	t.Log(sum)
}

// rwWorker is one goroutine of TestRedisRWMutexFaults: 40 % writers, a
// third of which downgrade midway, 60 % readers.
func rwWorker(t *testing.T, r *leaseRound, m *redislock.RWMutex, owner int, rng *rand.Rand, until time.Time) {
	for range r.attemptsEach() {
		if time.Now().After(until) {
			return
		}
		write := rng.IntN(100) < 40
		downgrade := write && rng.IntN(3) == 0
		w := int64(1)
		if write {
			w = rwWriter
		}
		c := newChurnCtx(rng, &r.st)
		try := rng.IntN(10) == 0
		called := check.Now()
		call := r.hist.Call(owner, check.Acquire, w)
		var l *redislock.Lease
		var err error
		switch {
		case write && try:
			l, err = m.TryObtainWrite(c)
		case write:
			l, err = m.ObtainWrite(c)
		case try:
			l, err = m.TryObtainRead(c)
		default:
			l, err = m.ObtainRead(c)
		}
		if err != nil {
			call.Return(check.Failed)
			r.tally.failed(t, c, err, try, called)
			c.stop()
			continue
		}
		call.Return(check.OK)
		granted := check.Now()
		r.tally.grants.Add(1)
		kind := "read"
		if write {
			kind = "write"
		}
		r.tally.kind(kind)
		r.tally.waited(kind, time.Duration(granted-called))
		g := check.Grant{Owner: uint64(owner), Weight: w, Token: l.Fence(), Called: called, Granted: granted}
		g.ValidUntil = holdLease(l, holdFor(rng), granted)
		g.End = endOfHold(check.Now(), c, true)
		if downgrade && l.Err() == nil {
			// The write hold ends at the call; the read hold begins there.
			at := check.Now()
			g.End = min(g.End, at)
			r.grants.Add(g)
			ctx, cancel := context.WithTimeout(c, time.Second)
			err := l.Downgrade(ctx)
			cancel()
			if errors.Is(err, lock.ErrNotHeld) { // lost, or its context ended
				released(&r.hist, owner, w, granted, at, err, &r.tally)
				_ = l.Release(context.Background())
				c.stop()
				continue
			}
			if err == nil {
				r.tally.kind("downgrade")
				r.hist.Add(check.Operation{ClientId: owner, Input: check.Input{Client: owner, Kind: check.Release, Weight: rwWriter - 1},
					Call: at, Output: check.OK, Return: check.Now()})
			} else { // unknown: reading or writing, it writes no more
				r.hist.Add(check.Operation{ClientId: owner, Input: check.Input{Client: owner, Kind: check.Release, Weight: rwWriter - 1},
					Call: at, Output: check.Ambiguous, Return: math.MaxInt64})
			}
			w, granted = 1, at
			g = check.Grant{Owner: uint64(owner), Weight: 1, Called: at, Granted: at}
			g.ValidUntil = holdLease(l, holdFor(rng), at)
			g.End = endOfHold(check.Now(), c, true)
		}
		r.grants.Add(g)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err = l.Release(ctx)
		cancel()
		released(&r.hist, owner, w, granted, g.End, err, &r.tally)
		c.stop()
	}
}
