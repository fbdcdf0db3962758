package redislock_test

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
)

// Short leases keep the tests fast: 300ms TTL renewed every 100ms.
var shortWatchdog = redislock.WithWatchdog(300*time.Millisecond, 100*time.Millisecond)

func TestWatchdogKeepsLeaseAlive(t *testing.T) {
	_, rdb := real(t)
	c := newClient(t, rdb)
	ctx := testCtx(t, 10*time.Second)
	// 4 TTLs; the TTL leaves room for a loaded machine (-race, 2 cores).
	l, err := c.Obtain(ctx, "wd", redislock.WithWatchdog(500*time.Millisecond, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	token := rdb.Get(ctx, "lock:{wd}").Val()
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(25 * time.Millisecond) {
		if l.Err() != nil || l.Validity() <= 0 {
			t.Fatalf("lease ended while renewed: %v", l.Err())
		}
		if pttl := rdb.PTTL(ctx, "lock:{wd}").Val(); pttl <= 0 {
			t.Fatalf("PTTL = %v while held", pttl)
		}
		if v := rdb.Get(ctx, "lock:{wd}").Val(); v != token {
			t.Fatal("token changed while held")
		}
	}
	if l.Fence() != 1 || rdb.Get(ctx, "lock:{wd}:fence").Val() != "1" {
		t.Fatal("renewals changed the fencing counter")
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	// No key and no renewal traffic after Release.
	before := rdb.Info(ctx, "commandstats").Val()
	time.Sleep(400 * time.Millisecond)
	after := rdb.Info(ctx, "commandstats").Val()
	if rdb.Exists(ctx, "lock:{wd}").Val() != 0 {
		t.Fatal("key left after Release")
	}
	for _, cmd := range []string{"evalsha", "eval"} {
		if b, a := commandCalls(before, cmd), commandCalls(after, cmd); a != b {
			t.Fatalf("%d %s calls after Release", a-b, cmd)
		}
	}
}

// Many leases taken and given up at random points leave no key and no
// traffic behind.
func TestWatchdogStops(t *testing.T) {
	_, rdb := real(t)
	c := newClient(t, rdb)
	bg := testCtx(t, 20*time.Second)
	for i := range 200 {
		ctx, cancel := context.WithTimeout(bg, time.Duration(i%7)*time.Millisecond)
		l, err := c.Obtain(ctx, "s"+itoa(i%5), shortWatchdog)
		if err == nil && i%2 == 0 {
			_ = l.Release(bg)
		}
		cancel() // ends the other leases
	}
	if !eventually(time.Second, func() bool { return len(rdb.Keys(bg, "lock:{*}").Val()) == 0 }) {
		t.Fatalf("keys left: %q", rdb.Keys(bg, "lock:{*}").Val())
	}
	time.Sleep(200 * time.Millisecond) // let the last abandoned acquires be undone
	before := rdb.Info(bg, "commandstats").Val()
	time.Sleep(400 * time.Millisecond)
	after := rdb.Info(bg, "commandstats").Val()
	if b, a := commandCalls(before, "evalsha"), commandCalls(after, "evalsha"); a != b {
		t.Fatalf("%d script calls with no lease held", a-b)
	}
}

func TestLostLeaseIsSignalled(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		c := newClient(t, rdb)
		ctx := testCtx(t, 10*time.Second)
		l, err := c.Obtain(ctx, "gone", shortWatchdog)
		if err != nil {
			t.Fatal(err)
		}
		rdb.Del(ctx, "lock:{gone}")
		deleted := time.Now()
		select {
		case <-l.Done():
		case <-time.After(time.Second):
			t.Fatal("Done not closed after the key was deleted")
		}
		if d := time.Since(deleted); d > 350*time.Millisecond { // 250ms for scheduling
			t.Fatalf("loss seen after %v, want within one renewal interval (100ms)", d)
		}
		if !errors.Is(l.Err(), lock.ErrLockLost) || !errors.Is(context.Cause(l.Context()), lock.ErrLockLost) {
			t.Fatalf("Err() = %v, cause = %v", l.Err(), context.Cause(l.Context()))
		}
		// The watchdog never takes the free key again.
		if rdb.Exists(ctx, "lock:{gone}").Val() != 0 {
			t.Fatal("a lost lease re-created its key")
		}
		if err := l.Extend(ctx); !errors.Is(err, lock.ErrLockLost) {
			t.Fatalf("Extend of a lost lease = %v", err)
		}
		if err := l.Release(ctx); !errors.Is(err, lock.ErrLockLost) || !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("Release of a lost lease = %v", err)
		}
	})
}

func TestFixedTTL(t *testing.T) {
	_, rdb := real(t)
	c := newClient(t, rdb)
	ctx := testCtx(t, 10*time.Second)
	start := time.Now()
	l, err := c.Obtain(ctx, "ttl", redislock.WithTTL(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(120 * time.Millisecond)
	if err := l.Extend(ctx); err != nil {
		t.Fatal(err)
	}
	if v := l.Validity(); !within(v, 100*time.Millisecond, 200*time.Millisecond) {
		t.Fatalf("Validity() after Extend = %v", v)
	}
	<-l.Done()
	if d := time.Since(start); !within(d, 300*time.Millisecond, 600*time.Millisecond) {
		t.Fatalf("lease ended after %v, want ~320ms", d)
	}
	if !errors.Is(l.Err(), lock.ErrLockLost) {
		t.Fatalf("Err() = %v", l.Err())
	}
	// The key expires on the server no earlier than the local validity.
	if !eventually(100*time.Millisecond, func() bool { return rdb.Exists(ctx, "lock:{ttl}").Val() == 0 }) {
		t.Fatal("key outlived its TTL")
	}
}

// A restart without persistence loses the key; the holder learns it within
// one renewal interval.
func TestServerRestart(t *testing.T) {
	s, rdb := real(t)
	c := newClient(t, rdb)
	ctx := testCtx(t, 10*time.Second)
	l, err := c.Obtain(ctx, "r", redislock.WithWatchdog(time.Second, 200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s.Restart()
	restarted := time.Now()
	select {
	case <-l.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("Done not closed after a restart without persistence")
	}
	if d := time.Since(restarted); d > 450*time.Millisecond { // 250ms for scheduling
		t.Fatalf("loss seen %v after the restart, want within one renewal interval (200ms)", d)
	}
	if !errors.Is(l.Err(), lock.ErrLockLost) {
		t.Fatalf("Err() = %v", l.Err())
	}
	_ = l.Release(ctx)
	// The restarted server has an empty script cache: NOSCRIPT, then EVAL.
	l2, err := c.Obtain(ctx, "r")
	if err != nil {
		t.Fatalf("Obtain after restart: %v", err)
	}
	if err := l2.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// Against a stopped server every call returns by its deadline, and the
// holder's validity runs out on time.
func TestServerPaused(t *testing.T) {
	s, rdb := real(t)
	c := newClient(t, rdb)
	bg := testCtx(t, 20*time.Second)
	l, err := c.Obtain(bg, "p", redislock.WithWatchdog(500*time.Millisecond, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	s.Pause()
	paused := time.Now()
	resumed := false
	defer func() {
		if !resumed {
			s.Resume()
		}
	}()
	const deadline = 150 * time.Millisecond
	late := func(name string, f func(ctx context.Context) error) {
		t.Helper()
		ctx, cancel := context.WithTimeout(bg, deadline)
		defer cancel()
		start := time.Now()
		err := f(ctx)
		// The slack is for a loaded machine; without the fix the calls
		// would wait for ReadTimeout (1s).
		if d := time.Since(start); d > deadline+300*time.Millisecond {
			t.Errorf("%s returned after %v, deadline %v", name, d, deadline)
		}
		if err == nil {
			t.Errorf("%s succeeded against a stopped server", name)
		}
	}
	other := newClient(t, dial(t, s.Addr()))
	late("Obtain", func(ctx context.Context) error { _, err := other.Obtain(ctx, "q"); return err })
	late("TryObtain", func(ctx context.Context) error { _, err := other.TryObtain(ctx, "p"); return err })
	late("Extend", l.Extend)

	select {
	case <-l.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("Done not closed while the server was stopped")
	}
	if d := time.Since(paused); !within(d, 300*time.Millisecond, 900*time.Millisecond) {
		t.Fatalf("lease ended %v after the pause, want by its validity (~500ms)", d)
	}
	if !errors.Is(l.Err(), lock.ErrLockLost) {
		t.Fatalf("Err() = %v", l.Err())
	}
	late("Release", l.Release)
	s.Resume()
	resumed = true

	// The Obtain of "q" that timed out reached the server after all; it
	// is undone by its token, so no lock is left that nobody holds.
	if !eventually(2*time.Second, func() bool { return rdb.Exists(bg, "lock:{q}").Val() == 0 }) {
		t.Fatal("an abandoned acquire left its key")
	}
	l2, err := other.Obtain(bg, "p")
	if err != nil {
		t.Fatalf("Obtain after resume: %v", err)
	}
	_ = l2.Release(bg)
}

// A holder paused past its lease is fenced off: the next holder has a
// higher token and the stale write is rejected by the resource.
func TestFencingRejectsStaleHolder(t *testing.T) {
	_, rdb := real(t)
	_, resource := real(t)
	ctx := testCtx(t, 10*time.Second)
	a, b := newClient(t, rdb), newClient(t, dial(t, rdb.Options().Addr))

	la, err := a.Obtain(ctx, "f", redislock.WithTTL(150*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if err := redislock.FencedSet(ctx, resource, "doc", la.Fence(), "a1"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // a "pauses" past its TTL
	lb, err := b.Obtain(ctx, "f")
	if err != nil {
		t.Fatal(err)
	}
	if lb.Fence() <= la.Fence() {
		t.Fatalf("fence went from %d to %d", la.Fence(), lb.Fence())
	}
	if err := redislock.FencedSet(ctx, resource, "doc", lb.Fence(), "b1"); err != nil {
		t.Fatal(err)
	}
	// a wakes up and writes with its old token.
	if err := redislock.FencedSet(ctx, resource, "doc", la.Fence(), "a2"); !errors.Is(err, redislock.ErrStaleFence) {
		t.Fatalf("stale write = %v, want ErrStaleFence", err)
	}
	if v := resource.HGet(ctx, "doc", "value").Val(); v != "b1" {
		t.Fatalf("resource = %q, want b1", v)
	}
	// The holder may write more than once with its token.
	if err := redislock.FencedSet(ctx, resource, "doc", lb.Fence(), "b2"); err != nil {
		t.Fatal(err)
	}
	if err := la.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("stale Release = %v, want ErrLockLost", err)
	}
	if rdb.Exists(ctx, "lock:{f}").Val() != 1 {
		t.Fatal("the stale holder's Release deleted the new holder's key")
	}
	if err := lb.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestFencesIncrease(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		c := newClient(t, rdb)
		ctx := testCtx(t, 10*time.Second)
		var last int64
		for range 20 {
			l, err := c.Obtain(ctx, "inc")
			if err != nil {
				t.Fatal(err)
			}
			if l.Fence() <= last {
				t.Fatalf("fence %d after %d", l.Fence(), last)
			}
			last = l.Fence()
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// SCRIPT FLUSH while leases are renewed and taken: everything recovers by
// reloading the scripts.
func TestScriptFlush(t *testing.T) {
	_, rdb := real(t)
	c := newClient(t, rdb)
	ctx := testCtx(t, 10*time.Second)
	l, err := c.Obtain(ctx, "held", redislock.WithWatchdog(time.Second, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		if i%10 == 5 {
			if err := rdb.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
		}
		l2, err := c.Obtain(ctx, "loop")
		if err != nil {
			t.Fatalf("Obtain after SCRIPT FLUSH: %v", err)
		}
		if err := l2.Release(ctx); err != nil {
			t.Fatalf("Release after SCRIPT FLUSH: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // past the TTL: renewals got through
	if l.Err() != nil {
		t.Fatalf("renewal did not survive SCRIPT FLUSH: %v", l.Err())
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// A token other than the holder's can neither release nor extend the lock,
// and the holder's value and TTL are left alone.
func TestForeignToken(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		c := newClient(t, rdb)
		ctx := testCtx(t, 10*time.Second)
		l, err := c.Obtain(ctx, "own", redislock.WithTTL(10*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		token := rdb.Get(ctx, "lock:{own}").Val()
		script := lockScript(t)
		extend, err := os.ReadFile("lua/extend.lua")
		if err != nil {
			t.Fatal(err)
		}
		for _, foreign := range []string{"", "x", token[:len(token)-1], token + "x", "\x00"} {
			if n, err := rdb.Eval(ctx, script, lockKeys("lock:{own}"), "release", foreign, "1").Int(); err != nil || n != 0 {
				t.Fatalf("release with token %q = %d, %v", foreign, n, err)
			}
			if n, err := rdb.Eval(ctx, string(extend), []string{"lock:{own}"}, foreign, 60000).Int(); err != nil || n != 0 {
				t.Fatalf("extend with token %q = %d, %v", foreign, n, err)
			}
		}
		if v := rdb.Get(ctx, "lock:{own}").Val(); v != token {
			t.Fatal("holder's value changed")
		}
		if pttl := rdb.PTTL(ctx, "lock:{own}").Val(); pttl > 10*time.Second {
			t.Fatalf("foreign extend changed the TTL to %v", pttl)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	})
}

// Tokens are long, random and never reused.
func TestTokens(t *testing.T) {
	_, rdb := mini(t)
	c := newClient(t, rdb)
	ctx := testCtx(t, 10*time.Second)
	seen := make(map[string]bool)
	for range 200 {
		l, err := c.Obtain(ctx, "tok")
		if err != nil {
			t.Fatal(err)
		}
		token := rdb.Get(ctx, "lock:{tok}").Val()
		if len(token) < 26 || seen[token] {
			t.Fatalf("token %q: short or reused", token)
		}
		seen[token] = true
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// A context cancelled without a deadline stops calls against a stopped
// server at once, though go-redis would wait for its ReadTimeout; the
// abandoned acquire is undone once it completes.
func TestCancelOnlyContextOnStoppedServer(t *testing.T) {
	s, rdb := real(t)
	c := newClient(t, rdb)
	bg := testCtx(t, 20*time.Second)
	l, err := c.Obtain(bg, "held", redislock.WithWatchdog(5*time.Second, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	other := newClient(t, dial(t, s.Addr()))
	s.Pause()
	resumed := false
	defer func() {
		if !resumed {
			s.Resume()
		}
	}()
	prompt := func(name string, f func(ctx context.Context) error) {
		t.Helper()
		ctx, cancel := context.WithCancel(bg)
		errc := make(chan error, 1)
		go func() { errc <- f(ctx) }()
		time.Sleep(50 * time.Millisecond)
		cancel()
		start := time.Now()
		select {
		case err := <-errc:
			if !errors.Is(err, context.Canceled) {
				t.Errorf("%s = %v, want Canceled", name, err)
			}
		case <-time.After(2 * time.Second):
			t.Fatalf("%s did not return after cancellation", name)
		}
		if d := time.Since(start); d > 200*time.Millisecond { // ReadTimeout is 1s
			t.Errorf("%s returned %v after cancellation", name, d)
		}
	}
	prompt("Obtain", func(ctx context.Context) error { _, err := other.Obtain(ctx, "q"); return err })
	prompt("Extend", l.Extend)
	prompt("Release", l.Release)
	s.Resume()
	resumed = true
	if !eventually(3*time.Second, func() bool { return rdb.Exists(bg, "lock:{q}").Val() == 0 }) {
		t.Fatal("the abandoned acquire left its key")
	}
}

// The watchdog rides out half a second of broken connections: the lease
// keeps its token and its key keeps a TTL throughout.
func TestWatchdogRidesOutConnectionKills(t *testing.T) {
	s, rdb := real(t)
	c := newClient(t, rdb)
	admin := dial(t, s.Addr())
	ctx := testCtx(t, 10*time.Second)
	l, err := c.Obtain(ctx, "k", redislock.WithWatchdog(time.Second, 333*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	token := admin.Get(ctx, "lock:{k}").Val()
	kills := 0
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		// Every client connection but admin's.
		if err := admin.Do(ctx, "client", "kill", "type", "normal", "skipme", "yes").Err(); err == nil {
			kills++
		}
		if admin.Get(ctx, "lock:{k}").Val() != token || admin.PTTL(ctx, "lock:{k}").Val() <= 0 {
			t.Fatal("the key lost its token or TTL")
		}
	}
	time.Sleep(time.Second) // renewals resume
	if l.Err() != nil {
		t.Fatalf("lease lost after %d connection kills: %v", kills, l.Err())
	}
	if admin.Get(ctx, "lock:{k}").Val() != token {
		t.Fatal("token changed")
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}

// A server restart breaks the shared subscription: waiters are woken and
// take the lock the restart freed, without waiting for the old holder's TTL.
func TestRestartWakesWaiters(t *testing.T) {
	s, rdb := real(t)
	a, b := newClient(t, rdb), newClient(t, dial(t, s.Addr()))
	ctx := testCtx(t, 20*time.Second)
	la, err := a.Obtain(ctx, "w") // 30s lease
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan error, 1)
	go func() {
		lb, err := b.Obtain(ctx, "w")
		if err == nil {
			err = lb.Release(ctx)
		}
		got <- err
	}()
	time.Sleep(100 * time.Millisecond) // b subscribes and waits
	s.Restart()
	restarted := time.Now()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not woken by the restart")
	}
	if d := time.Since(restarted); d > time.Second {
		t.Fatalf("waiter took the lock %v after the restart", d)
	}
	_ = la.Release(ctx) // lost in the restart
}

// An acquire retried with the same token (its first reply was lost) is
// told it holds the lock, with the fence of its grant: never "not
// obtained" because of its own token, and no second fence.
func TestRetriedAcquireIsOurs(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := testCtx(t, 5*time.Second)
		script, keys := lockScript(t), lockKeys("lock:{re}")
		// The reply is the fence (>= 0) for a grant, -2 - pttl otherwise.
		acquire := func(tok string, entry int) (int64, error) {
			return rdb.Eval(ctx, script, keys, "acquire", tok, "1", 10000, entry, "", 0).Int64()
		}
		first, err := acquire("tok", 0)
		if err != nil || first < 1 {
			t.Fatalf("first acquire = %v, %v", first, err)
		}
		again, err := acquire("tok", 0)
		if err != nil || again != first {
			t.Fatalf("retried acquire = %v, %v; first was %v", again, err, first)
		}
		other, err := acquire("other", 3000)
		if err != nil || other >= -2 {
			t.Fatalf("foreign acquire = %v, %v, want -2 - pttl with pttl > 0", other, err)
		}
		// The holder vanishes without a release; "other" is queued, so
		// a caller that is not is refused (the lock goes to "other"),
		// and "other" gets the next fence, again when it retries.
		rdb.Del(ctx, "lock:{re}")
		if n, err := acquire("newcomer", 0); err != nil || n >= -2 {
			t.Fatalf("newcomer's acquire of a free lock with a waiter queued = %v, %v, want refused", n, err)
		}
		for range 2 {
			if n, err := acquire("other", 3000); err != nil || n != first+1 {
				t.Fatalf("queued waiter's acquire = %v, %v, want fence %d", n, err, first+1)
			}
		}
	})
}

// CLIENT PAUSE stalls the server: no renewal is confirmed, and the
// holder's lease ends by its local validity, no later than the key's
// expiry on the server (give or take the scheduling of the timer).
func TestValidityIsConservative(t *testing.T) {
	s, rdb := real(t)
	c := newClient(t, rdb)
	admin := dial(t, s.Addr())
	ctx := testCtx(t, 10*time.Second)
	l, err := c.Obtain(ctx, "v", redislock.WithWatchdog(400*time.Millisecond, 100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	var pttl *redis.DurationCmd
	if _, err := admin.Pipelined(ctx, func(p redis.Pipeliner) error {
		pttl = p.PTTL(ctx, "lock:{v}")
		p.Do(ctx, "client", "pause", 800, "all")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	expiry := time.Now().Add(pttl.Val()) // no earlier than the server's
	select {
	case <-l.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("lease kept while no renewal could be confirmed")
	}
	if late := time.Since(expiry); late > 50*time.Millisecond {
		t.Fatalf("lease ended %v after the key expired on the server", late)
	}
	if !errors.Is(l.Err(), lock.ErrLockLost) {
		t.Fatalf("Err() = %v", l.Err())
	}
	_ = l.Release(ctx)
}

// Many goroutines of one Client waiting for a held lock cost the server
// one contender's commands, not one per goroutine.
func TestManyLocalWaitersOneContender(t *testing.T) {
	_, rdb := real(t)
	holder, c := newClient(t, rdb), newClient(t, rdb)
	ctx := testCtx(t, 20*time.Second)
	l, err := holder.Obtain(ctx, "crowd")
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	for range 1000 {
		wg.Go(func() { _, _ = c.Obtain(wctx, "crowd") })
	}
	time.Sleep(200 * time.Millisecond) // all queued
	before := rdb.Info(ctx, "commandstats").Val()
	time.Sleep(time.Second)
	after := rdb.Info(ctx, "commandstats").Val()
	cancel()
	wg.Wait()
	calls := commandCalls(after, "evalsha") - commandCalls(before, "evalsha")
	if calls > 5 { // the contender re-checks at most every 2s; renewals are every 10s
		t.Fatalf("%d script calls in 1s from 1000 waiters", calls)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
}
