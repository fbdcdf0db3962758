package redislock_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/internal/proctest"
	"github.com/codomyrmex/concurrency/internal/redistest"
	"github.com/codomyrmex/concurrency/redislock"
)

// commandCounter is a go-redis hook that counts the commands its client
// sends, in pipelines too.
type commandCounter struct{ n atomic.Int64 }

func (c *commandCounter) DialHook(next redis.DialHook) redis.DialHook { return next }

func (c *commandCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		c.n.Add(1)
		return next(ctx, cmd)
	}
}

func (c *commandCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		c.n.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// A release hands the lock to the queued waiter directly: between the
// holder's Release and the waiter's Obtain returning, the waiter's Client
// sends Redis nothing; its message is the grant.
func TestHandoffSendsNothing(t *testing.T) {
	s, rdb := real(t)
	ctx := testCtx(t, 10*time.Second)
	holder := newClient(t, rdb)
	var sent commandCounter
	wrdb := dial(t, s.Addr())
	wrdb.AddHook(&sent)
	waiter := newClient(t, wrdb)
	for i := range 20 {
		l, err := holder.Obtain(ctx, "quiet")
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan int64, 1)
		go func() {
			lw, err := waiter.Obtain(ctx, "quiet")
			got <- sent.n.Load()
			if err != nil {
				t.Error(err)
				return
			}
			if err := lw.Release(ctx); err != nil {
				t.Error(err)
			}
		}()
		waitQueued(t, rdb, "lock:{quiet}", 1)
		before := sent.n.Load()
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if after := <-got; after != before {
			t.Fatalf("round %d: the waiter sent %d commands between the release and its grant", i, after-before)
		}
		waitQueued(t, rdb, "lock:{quiet}", 0)
		for rdb.Exists(ctx, "lock:{quiet}").Val() != 0 {
			time.Sleep(time.Millisecond) // the waiter's release
		}
	}
}

// A lock handed over by a release is valid, before its first renewal, for
// the queue entry's lifetime (3s) from the waiter's last queue refresh,
// and its key lives no longer; a lease with a fixed TTL longer than that
// is extended to its full TTL at once.
func TestHandoffValidity(t *testing.T) {
	_, rdb := real(t)
	ctx := testCtx(t, 10*time.Second)
	holder, waiter := newClient(t, rdb), newClient(t, rdb)
	for _, tc := range []struct {
		name string
		opts []redislock.Option
		pttl time.Duration // the key's once the waiter holds it for a moment
	}{
		{"watchdog", nil, redislock.DefaultTTL},
		{"fixed TTL", []redislock.Option{redislock.WithTTL(10 * time.Second)}, 10 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := holder.Obtain(ctx, "valid")
			if err != nil {
				t.Fatal(err)
			}
			got := make(chan *redislock.Lease, 1)
			go func() {
				lw, err := waiter.Obtain(ctx, "valid", tc.opts...)
				if err != nil {
					t.Error(err)
				}
				got <- lw
			}()
			waitQueued(t, rdb, "lock:{valid}", 1)
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
			lw := <-got
			if lw == nil {
				t.FailNow()
			}
			// Unless the fixed TTL's extension has landed already.
			if v := lw.Validity(); v <= 0 || v > 3*time.Second && tc.opts == nil {
				t.Fatalf("Validity of a handed-over lease = %v, want at most the entry's 3s", v)
			}
			if pttl := rdb.PTTL(ctx, "lock:{valid}").Val(); pttl > 3*time.Second && tc.opts == nil {
				t.Fatalf("PTTL of a handed-over lock = %v, want at most 3s", pttl)
			}
			// The first renewal (at half the validity), or the
			// extension (at once), sets the full TTL.
			if !eventually(3*time.Second, func() bool { return rdb.PTTL(ctx, "lock:{valid}").Val() > tc.pttl-time.Second }) {
				t.Fatalf("PTTL = %v, want about %v", rdb.PTTL(ctx, "lock:{valid}").Val(), tc.pttl)
			}
			// The server applies the extension before its reply reaches
			// the renewer, which then sets the validity: wait for it.
			if tc.opts != nil && !eventually(time.Second, func() bool { return lw.Validity() > 3*time.Second }) {
				t.Fatalf("Validity after the extension = %v, want about 10s", lw.Validity())
			}
			if err := lw.Release(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// waiterHelper starts a helper process that obtains "queued" on the lock
// server at addr, with LOCK_TTL ttl if not zero, and waits until it is queued
// (n tokens in the queue).
func waiterHelper(t *testing.T, addr string, rdb *redis.Client, ttl time.Duration, n int64) *proctest.Proc {
	t.Helper()
	env := []string{"LOCK_ADDR=" + addr, "ORACLE_ADDR=" + addr}
	if ttl > 0 {
		env = append(env, "LOCK_TTL="+ttl.String())
	}
	h := proctest.StartHelper(t, "waiter", env...)
	waitQueued(t, rdb, "lock:{queued}", n)
	return h
}

// On a standalone server, a queued waiter whose process was killed is
// skipped by the release itself: its Client's subscription is gone, so
// the grant's PUBLISH reaches nobody, and the next waiter gets the lock in
// the same script, within 50ms.
func TestHandoffSkipsKilledWaiter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a helper process")
	}
	s, rdb := real(t)
	ctx := testCtx(t, 20*time.Second)
	holder, live := newClient(t, rdb), newClient(t, rdb)
	l, err := holder.Obtain(ctx, "queued")
	if err != nil {
		t.Fatal(err)
	}
	h := waiterHelper(t, s.Addr(), rdb, 0, 1)
	got := make(chan time.Time, 1)
	go func() {
		lw, err := live.Obtain(ctx, "queued")
		got <- time.Now()
		if err != nil {
			t.Error(err)
			return
		}
		_ = lw.Release(ctx)
	}()
	waitQueued(t, rdb, "lock:{queued}", 2)
	h.Kill()
	// The server has seen the helper's connections close: only the
	// holder's and the live waiter's Clients subscribe.
	if !eventually(5*time.Second, func() bool { return len(rdb.PubSubChannels(ctx, "lock:client:*").Val()) == 1 }) {
		t.Fatalf("channels %q after the kill", rdb.PubSubChannels(ctx, "lock:client:*").Val())
	}
	released := time.Now()
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if d := (<-got).Sub(released); d > 50*time.Millisecond {
		t.Fatalf("the live waiter got the lock %v after the release, want within 50ms", d)
	}
	waitQueued(t, rdb, "lock:{queued}", 0)
}

// A queued waiter whose process is stopped (SIGSTOP) at the head of the
// queue is handed the lock, which it cannot take up; the lock passes on
// when its queue entry dies, within the entry's lifetime and one refresh
// of the next waiter. Resumed, the stopped waiter finds its grant too old
// to prove, claims it, finds it gone, queues again, and gets the lock only
// after the next holder released it: the two never overlap.
func TestHandoffSkipsStoppedWaiter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a helper process")
	}
	s, rdb := real(t)
	ctx := testCtx(t, 30*time.Second)
	const ttl = 600 * time.Millisecond // the entry's lifetime too
	holder := newClient(t, rdb)
	live := newClient(t, rdb, redislock.WithWatchdog(ttl, ttl/3))
	l, err := holder.Obtain(ctx, "queued")
	if err != nil {
		t.Fatal(err)
	}
	h := waiterHelper(t, s.Addr(), rdb, ttl, 1)
	if err := h.Stop(); err != nil {
		t.Fatal(err)
	}
	resumed := false
	defer func() {
		if !resumed {
			_ = h.Cont()
		}
	}()
	got := make(chan *redislock.Lease, 1)
	go func() {
		lw, err := live.Obtain(ctx, "queued")
		if err != nil {
			t.Error(err)
		}
		got <- lw
	}()
	waitQueued(t, rdb, "lock:{queued}", 2)
	released := time.Now()
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	lw := <-got
	if lw == nil {
		t.FailNow()
	}
	if d := time.Since(released); d > ttl+ttl/3+300*time.Millisecond { // 300ms for a loaded machine
		t.Fatalf("the live waiter got the lock %v after the release, want within the stopped waiter's entry (%v) and a refresh", d, ttl)
	}
	if err := h.Cont(); err != nil {
		t.Fatal(err)
	}
	resumed = true
	time.Sleep(2 * ttl) // the resumed waiter's grant message, claim and queueing
	if lw.Err() != nil {
		t.Fatalf("the live waiter's lease ended: %v", lw.Err())
	}
	liveReleased := time.Now()
	if err := lw.Release(ctx); err != nil {
		t.Fatal(err)
	}
	line, err := h.Expect("got ", 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ns, _ := strconv.ParseInt(strings.TrimPrefix(line, "got "), 10, 64)
	if at := time.Unix(0, ns); at.Before(liveReleased) {
		t.Fatalf("the resumed waiter got the lock %v before the live waiter released it", liveReleased.Sub(at))
	}
	_ = h.Send("release")
	if err := h.Wait(helperTimeout); err != nil {
		t.Fatal(err)
	}
}

// A waiter whose Obtain is cancelled as the holder releases, so that the
// release may hand it the lock, gives the lock on at once: the next waiter
// has it within a round trip or so, not at the grant's expiry (3s), every
// time.
func TestHandoffCancelAtRelease(t *testing.T) {
	_, rdb := real(t)
	ctx := testCtx(t, 60*time.Second)
	holder, quitter, next := newClient(t, rdb), newClient(t, rdb), newClient(t, rdb)
	var slowest time.Duration
	for i := range 50 {
		l, err := holder.Obtain(ctx, "quit")
		if err != nil {
			t.Fatal(err)
		}
		qctx, cancel := context.WithCancel(ctx)
		quit := make(chan error, 1)
		go func() {
			lq, err := quitter.Obtain(qctx, "quit")
			if err == nil {
				err = lq.Release(ctx) // the release came first
			}
			quit <- err
		}()
		waitQueued(t, rdb, "lock:{quit}", 1)
		got := make(chan time.Time, 1)
		go func() {
			ln, err := next.Obtain(ctx, "quit")
			got <- time.Now()
			if err != nil {
				t.Error(err)
				return
			}
			_ = ln.Release(ctx)
		}()
		waitQueued(t, rdb, "lock:{quit}", 2)
		var wg sync.WaitGroup
		wg.Go(func() {
			time.Sleep(time.Duration(i%5) * 50 * time.Microsecond)
			cancel()
		})
		released := time.Now()
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
		if err := <-quit; err != nil && !errors.Is(err, context.Canceled) {
			t.Fatalf("round %d: the cancelled waiter: %v", i, err)
		}
		d := (<-got).Sub(released)
		slowest = max(slowest, d)
		if d > 500*time.Millisecond {
			t.Fatalf("round %d: the next waiter got the lock %v after the release", i, d)
		}
		waitQueued(t, rdb, "lock:{quit}", 0)
		if !eventually(time.Second, func() bool { return rdb.Exists(ctx, "lock:{quit}").Val() == 0 }) {
			t.Fatalf("round %d: the lock is left held", i)
		}
	}
	t.Logf("slowest handoff past a cancelled waiter: %v", slowest)
}

// When the Client's subscription connection is killed while it waits, the
// waiter checks at once (the grant may have been lost), queues without
// its channel until the subscription is back, and gets the lock.
func TestHandoffSubscriptionKilled(t *testing.T) {
	s, rdb := real(t)
	ctx := testCtx(t, 20*time.Second)
	admin := dial(t, s.Addr())
	holder, waiter := newClient(t, rdb), newClient(t, dial(t, s.Addr()))
	for i := range 5 {
		l, err := holder.Obtain(ctx, "sub")
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan error, 1)
		go func() {
			lw, err := waiter.Obtain(ctx, "sub")
			if err == nil {
				err = lw.Release(ctx)
			}
			got <- err
		}()
		waitQueued(t, rdb, "lock:{sub}", 1)
		if err := admin.Do(ctx, "client", "kill", "type", "pubsub").Err(); err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 {
			time.Sleep(20 * time.Millisecond) // or release at once
		}
		released := time.Now()
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if err := <-got; err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		// At worst the waiter was skipped (its channel had no
		// subscriber), or was queued without its channel, and finds the
		// lock when the subscription is back: well within its refresh.
		d := time.Since(released)
		if d > 500*time.Millisecond {
			t.Fatalf("round %d: the waiter got the lock %v after the release", i, d)
		}
		t.Logf("round %d: the waiter got the lock %v after the release", i, d)
	}
}

// The renewer renews all the leases of a Client that are due in one
// pipelined round trip, and keeps them valid.
func TestRenewalsBatched(t *testing.T) {
	s, _ := real(t)
	ctx := testCtx(t, 10*time.Second)
	var sent commandCounter
	rdb := dial(t, s.Addr())
	c := newClient(t, rdb)
	var pipelines atomic.Int64
	rdb.AddHook(&sent)
	rdb.AddHook(pipelineCounter{&pipelines})
	const leases = 20
	var ls []*redislock.Lease
	for i := range leases {
		l, err := c.Obtain(ctx, "batch"+strconv.Itoa(i), redislock.WithWatchdog(time.Second, 200*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
	}
	before, pipesBefore := sent.n.Load(), pipelines.Load()
	time.Sleep(time.Second)
	renewals, pipes := sent.n.Load()-before, pipelines.Load()-pipesBefore
	for _, l := range ls {
		if l.Err() != nil || l.Validity() < 500*time.Millisecond {
			t.Fatalf("lease %s: Err %v, Validity %v", l.Name(), l.Err(), l.Validity())
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	// 5 intervals of 200ms: 100 renewals, in about 5 round trips (the
	// leases were obtained a little apart, so one more may split off, and
	// on a loaded machine a few); without batching, 100. A second that
	// overruns on a loaded machine can take in a sixth round and part of
	// a seventh (CI once saw 123 renewals in 7 pipelines); renewing twice
	// per interval would make 200.
	if renewals < 4*leases || renewals > 7*leases || pipes > 12 {
		t.Fatalf("%d renewals in %d pipelines in 1s, want 20 leases × 5 in about 5", renewals, pipes)
	}
	t.Logf("%d renewals in %d pipelines", renewals, pipes)
}

// pipelineCounter is a go-redis hook that counts pipelines.
type pipelineCounter struct{ n *atomic.Int64 }

func (p pipelineCounter) DialHook(next redis.DialHook) redis.DialHook          { return next }
func (p pipelineCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook { return next }
func (p pipelineCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		p.n.Add(1)
		return next(ctx, cmds)
	}
}

// ghostWaiter queues the token GHOST for the lock key through rdb, as the
// Client of a process that then died would have, with a queue entry that
// lives entry and the channel channel.
func ghostWaiter(t *testing.T, rdb redis.Scripter, key string, entry time.Duration, channel string) {
	t.Helper()
	ctx := testCtx(t, 5*time.Second)
	n, err := rdb.Eval(ctx, lockScript(t), lockKeys(key), "acquire", "GHOST", "0", 10000, entry.Milliseconds(), channel, 0).Int64()
	if err != nil || n >= 0 {
		t.Fatalf("ghost's acquire = %d, %v; want it queued", n, err)
	}
}

// handoffPast has holder hold the lock name, queues a ghost waiter first
// (see ghostWaiter) and waiter's Obtain second, releases, and returns how
// long the waiter took to get the lock.
func handoffPast(t *testing.T, rdb redis.UniversalClient, holder, waiter *redislock.Client, name string, entry time.Duration) time.Duration {
	t.Helper()
	ctx := testCtx(t, 10*time.Second)
	key := "lock:{" + name + "}"
	l, err := holder.Obtain(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	ghostWaiter(t, rdb, key, entry, "lock:client:GONE")
	got := make(chan time.Time, 1)
	go func() {
		lw, err := waiter.Obtain(ctx, name)
		got <- time.Now()
		if err != nil {
			t.Error(err)
			return
		}
		_ = lw.Release(ctx)
	}()
	for end := time.Now().Add(5 * time.Second); rdb.LLen(ctx, key+":waiters").Val() != 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the waiter did not queue")
		}
	}
	released := time.Now()
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	return (<-got).Sub(released)
}

// On a Redis Cluster, a release reaches the waiter's Client through the
// cluster's pub/sub (a PUBLISH goes to every node), within a round trip or
// so. PUBLISH counts the subscribers of one node only, so a waiter whose
// Client is gone is not skipped at once: the lock passes on when its
// queue entry dies.
func TestClusterHandoff(t *testing.T) {
	cluster := startCluster(t)
	rdb := cluster()
	holder, waiter := newClient(t, cluster()), newClient(t, cluster())
	for _, name := range []string{"a", "b", "c", "d"} { // on several nodes
		l, err := holder.Obtain(testCtx(t, 10*time.Second), name)
		if err != nil {
			t.Fatal(err)
		}
		got := make(chan time.Time, 1)
		go func() {
			lw, err := waiter.Obtain(testCtx(t, 10*time.Second), name)
			got <- time.Now()
			if err == nil {
				_ = lw.Release(context.Background())
			}
		}()
		key := "lock:{" + name + "}"
		for rdb.LLen(context.Background(), key+":waiters").Val() != 1 {
			time.Sleep(5 * time.Millisecond)
		}
		released := time.Now()
		if err := l.Release(context.Background()); err != nil {
			t.Fatal(err)
		}
		if d := (<-got).Sub(released); d > 500*time.Millisecond {
			t.Fatalf("%s: handoff took %v on a Cluster", name, d)
		}
	}
	const entry = 400 * time.Millisecond
	if d := handoffPast(t, rdb, holder, waiter, "ghost", entry); d < entry/2 || d > entry+time.Second {
		t.Fatalf("the waiter behind a dead one got the lock %v after the release, want about the dead one's %v entry", d, entry)
	}
}

// Through a Sentinel failover client (a *redis.Client of one primary at a
// time), a release hands the lock over by message, and skips at once a
// waiter whose Client is gone.
func TestSentinelHandoff(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a primary, a replica and a Sentinel")
	}
	primary := redistest.Start(t)
	sentinel := redistest.StartSentinel(t, "locks", primary)
	failover := func() *redis.Client {
		rdb := redis.NewFailoverClient(&redis.FailoverOptions{MasterName: sentinel.Name(), SentinelAddrs: []string{sentinel.Addr()},
			ContextTimeoutEnabled: true, ReadTimeout: time.Second, WriteTimeout: time.Second})
		t.Cleanup(func() { _ = rdb.Close() })
		return rdb
	}
	rdb := failover()
	holder, waiter := newClient(t, failover()), newClient(t, failover())
	if d := handoffPast(t, rdb, holder, waiter, "ghost", 10*time.Second); d > 500*time.Millisecond {
		t.Fatalf("the waiter behind one whose Client is gone got the lock %v after the release", d)
	}
}
