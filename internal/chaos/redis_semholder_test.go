//go:build linux

package chaos_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/chaos"
	"github.com/codomyrmex/concurrency/internal/check"
	"github.com/codomyrmex/concurrency/internal/proctest"
	"github.com/codomyrmex/concurrency/internal/redistest"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
	"github.com/redis/go-redis/v9"
)

// envLease is what the "redis-lease-holder" helper takes: "sem" (weight
// holderWeight of a semaphore of size holderSize), "write" or "read" (a
// lease of an RW lock).
const envLease = "CHAOS_LEASE"

const (
	holderSize   = 3
	holderWeight = 2
	// reclaimDue bounds how long after a holder's death its weight or
	// lock goes to a waiter: the lease expires in Redis within the TTL of
	// its last renewal, and the next call of the script (a waiter's
	// refresh, every third of its entry's lifetime) grants it.
	reclaimDue = shortTTL + handoffRefresh + slack
)

func init() {
	helpers["redis-lease-holder"] = redisLeaseHolder
	helpers["redis-lease-waiter"] = redisLeaseWaiter
	helpers["redis-lease-sleeper"] = redisLeaseSleeper
}

// TestRedisLeaseHolderKilled is scenario 3 of issue 16: a helper process
// holds semaphore weight, a write lease or a read lease, renews it a few
// times, and is killed (SIGKILL) with waiters of this process queued
// behind it. Nobody releases its lease; it expires in Redis within its
// TTL, and the waiters that then fit are granted within reclaimDue of the
// kill, with fences above the helper's; the weight and lock held at once
// never exceed what they may (check.OverAdmitted, the helper's hold
// ending at its death); the waiters that do not fit yet (a reader's
// phase, a writer behind readers) are granted once those ahead release.
func TestRedisLeaseHolderKilled(t *testing.T) {
	srv := redistest.Start(t)
	rdb := dialRedis(t, srv.Addr())
	a := newLocks(t, rdb, redislock.WithWatchdog(shortTTL, shortRenew))
	b := newLocks(t, dialRedis(t, srv.Addr()), redislock.WithWatchdog(shortTTL, shortRenew))
	var sum chaos.Summary
	sum.Processes = 2
	reclaimed := map[string][]time.Duration{}
	for round := range plan.Rounds(1) {
		for i, kind := range []string{"sem", "write", "read"} {
			name := fmt.Sprintf("chaos-holder-%s-%d", kind, round)
			// The helper dies after 0, 1, 2 or 3 renewals of its lease
			// (every shortRenew), at various points between them.
			k := round*3 + i
			alive := time.Duration(k%4)*shortRenew + time.Duration(k*71%190)*time.Millisecond
			victim := proctest.StartHelper(t, "redis-lease-holder", setenv(envRedis, srv.Addr()), setenv(envLease, kind), setenv(envDir, name))
			line, err := victim.Expect("held ", 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var held check.Grant
			if _, err := fmt.Sscanf(line, "held fence=%d weight=%d called=%d granted=%d", &held.Token, &held.Weight, &held.Called, &held.Granted); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			held.Owner = uint64(victim.PID())
			time.Sleep(alive)
			var d time.Duration
			var gs []check.Grant
			switch kind {
			case "sem":
				d, gs = semAfterKill(t, a, b, name, victim, &held)
			default:
				d, gs = rwAfterKill(t, rdb, a, b, name, kind, victim, &held)
			}
			reclaimed[kind] = append(reclaimed[kind], d)
			sum.Faults++
			sum.Acquisitions += int64(len(gs))
			size := int64(holderSize)
			if kind != "sem" {
				size = rwWriter
			}
			checkGrants(t, round, gs, size, &sum)
			if t.Failed() {
				return
			}
		}
	}
	for _, kind := range []string{"sem", "write", "read"} {
		sum.Note(fmt.Sprintf("killed %s holder's lease reclaimed %s after the kill", kind, durations(reclaimed[kind])))
	}
	sum.Note(fmt.Sprintf("TTL %v, bound %v", shortTTL, reclaimDue))
	t.Log(sum)
}

// acquired is the outcome of an acquisition started in a goroutine, with
// its grant (Called, Granted, Token and Weight filled in).
type acquired struct {
	l    *redislock.Lease
	g    check.Grant
	stop func() // ends the context that bounds the hold
	err  error
}

// obtainLater runs obtain (bounded by 10s for the wait; its context ends
// when the lease is released) in a goroutine and returns the channel of
// its outcome.
func obtainLater(owner uint64, w int64, obtain func(ctx context.Context) (*redislock.Lease, error)) <-chan acquired {
	ch := make(chan acquired, 1)
	go func() {
		g := check.Grant{Owner: owner, Weight: w, Called: check.Now()}
		l, stop, err := takeWithin(10*time.Second, obtain)
		g.Granted = check.Now()
		if err == nil {
			g.Token = l.Fence()
		}
		ch <- acquired{l, g, stop, err}
	}()
	return ch
}

// got waits for the outcome of ch until due; it fails the test if there
// is none, or an error, and returns how long it took from since.
func got(t *testing.T, what string, ch <-chan acquired, since time.Time, due time.Duration) (acquired, time.Duration) {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("%s: %v", what, r.err)
		}
		return r, time.Since(since)
	case <-time.After(time.Until(since.Add(due))):
		t.Fatalf("%s: not granted within %v of the kill", what, due)
		return acquired{}, 0
	}
}

// notYet fails the test if ch has an outcome within d.
func notYet(t *testing.T, what string, ch <-chan acquired, d time.Duration) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("%s: granted (%v) while it should wait", what, r.err)
	case <-time.After(d):
	}
}

// release releases r's lease, which must have been held throughout, and
// returns its grant ending at the release call.
func release(t *testing.T, r acquired) check.Grant {
	t.Helper()
	r.g.End = check.Now()
	if err := r.l.Release(context.Background()); err != nil {
		t.Errorf("release of a lease taken after a kill: %v", err)
	}
	r.stop()
	return r.g
}

// semAfterKill: this process holds 1 of the semaphore's 3 beside the
// helper's 2; waiters for 2 (through b) and 1 (through a, behind it: no
// overtaking) queue. After the kill, the waiter for 2 is granted within
// reclaimDue; the one for 1 waits until this process releases its 1.
func semAfterKill(t *testing.T, a, b *redislock.Client, name string, victim *proctest.Proc, held *check.Grant) (time.Duration, []check.Grant) {
	t.Helper()
	s := a.NewSemaphore(name, holderSize)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mine := check.Grant{Owner: 1, Weight: 1, Called: check.Now()}
	l, err := s.TryAcquire(context.Background(), 1)
	if err != nil {
		t.Fatalf("the free weight: %v", err)
	}
	mine.Granted, mine.Token = check.Now(), l.Fence()
	two := obtainLater(2, 2, func(ctx context.Context) (*redislock.Lease, error) {
		return b.NewSemaphore(name, holderSize).Acquire(ctx, 2)
	})
	semWaiting(t, ctx, s, 1)
	one := obtainLater(3, 1, func(ctx context.Context) (*redislock.Lease, error) { return s.Acquire(ctx, 1) })
	semWaiting(t, ctx, s, 2)
	killed := time.Now()
	held.End = check.Now()
	victim.Kill()
	r2, d := got(t, "waiter for 2 after the holder of 2 was killed", two, killed, reclaimDue)
	notYet(t, "waiter for 1 while 3 of 3 are held", one, 2*handoffRefresh)
	if st, err := s.Stat(ctx); err != nil || st.Held != 3 || st.Holders != 2 || st.Waiting != 1 {
		t.Errorf("after the kill: %+v, %v; want 3 held by 2, 1 waiting", st, err)
	}
	mine.End = check.Now()
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	r1, _ := got(t, "waiter for 1 after a release", one, time.Now(), handoffPrompt)
	gs := []check.Grant{*held, mine, release(t, r2), release(t, r1)}
	for _, g := range gs[2:] {
		if g.Token <= held.Token {
			t.Errorf("fence %d after the killed holder's %d", g.Token, held.Token)
		}
	}
	return d, gs
}

// semWaiting waits until n calls are queued for s.
func semWaiting(t *testing.T, ctx context.Context, s *redislock.Semaphore, n int64) {
	t.Helper()
	for {
		st, err := s.Stat(ctx)
		if err == nil && st.Waiting == n {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("waiting for %d queued: %+v, %v", n, st, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// rwAfterKill: the helper holds a write lease, with two readers (one
// through each Client) waiting in its write phase and a writer behind
// them; or a read lease, with a writer waiting for it and a reader
// waiting in that writer's phase. After the kill, the waiters first in
// line are granted within reclaimDue; the last waits for them to
// release.
func rwAfterKill(t *testing.T, rdb *redis.Client, a, b *redislock.Client, name, kind string, victim *proctest.Proc, held *check.Grant) (time.Duration, []check.Grant) {
	t.Helper()
	ma, mb := a.NewRWMutex(name), b.NewRWMutex(name)
	read := func(m *redislock.RWMutex) func(context.Context) (*redislock.Lease, error) { return m.ObtainRead }
	write := func(m *redislock.RWMutex) func(context.Context) (*redislock.Lease, error) { return m.ObtainWrite }
	var first []<-chan acquired
	var last <-chan acquired
	if kind == "write" {
		first = append(first, obtainLater(1, 1, read(ma)), obtainLater(2, 1, read(mb)))
		rwQueued(t, rdb, name, 2, 0) // in the helper's write phase
		last = obtainLater(3, rwWriter, write(ma))
		rwQueued(t, rdb, name, 2, 1) // waiting for its turn
	} else {
		first = append(first, obtainLater(1, rwWriter, write(mb)))
		rwWriterWaits(t, rdb, name) // its turn came: it waits for the helper
		last = obtainLater(2, 1, read(ma))
		rwQueued(t, rdb, name, 1, 0) // in that writer's phase
	}
	killed := time.Now()
	held.End = check.Now()
	victim.Kill()
	var gs []check.Grant
	var rs []acquired
	var took time.Duration
	for i, ch := range first {
		r, d := got(t, fmt.Sprintf("waiter %d after the %s holder was killed", i+1, kind), ch, killed, reclaimDue)
		rs = append(rs, r)
		took = max(took, d)
	}
	notYet(t, "the waiter behind them", last, 2*handoffRefresh)
	released := time.Now()
	for _, r := range rs {
		gs = append(gs, release(t, r))
	}
	r, _ := got(t, "the waiter behind them after they released", last, released, handoffPrompt)
	gs = append(gs, release(t, r), *held)
	for _, g := range gs[:len(gs)-1] {
		if g.Token <= held.Token {
			t.Errorf("fence %d after the killed holder's %d", g.Token, held.Token)
		}
	}
	return took, gs
}

// rwKey is the key of the RW lock called name with the given suffix, with
// the default prefix.
func rwKey(name, suffix string) string {
	return redislock.DefaultPrefix + ":{" + name + "}:rw" + suffix
}

// rwQueued waits until blocked readers wait in the current write phase of
// the RW lock called name and queued writers wait for their turn.
func rwQueued(t *testing.T, rdb *redis.Client, name string, blocked, queued int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	defer cancel()
	for {
		b, errB := rdb.ZCard(ctx, rwKey(name, ":blocked")).Result()
		q, errQ := rdb.ZCard(ctx, rwKey(name, ":queue")).Result()
		if errB == nil && errQ == nil && b == blocked && q == queued {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("RW lock %q: %d readers blocked and %d writers queued (%v, %v), want %d and %d", name, b, q, errB, errQ, blocked, queued)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// rwWriterWaits waits until a writer of the RW lock called name has its
// turn and waits for the readers inside.
func rwWriterWaits(t *testing.T, rdb *redis.Client, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	defer cancel()
	for {
		held, err := rdb.HGet(ctx, rwKey(name, ":writer"), "held").Result()
		if err == nil && held == "0" {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("RW lock %q: no writer waiting for readers (%q, %v)", name, held, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// redisLeaseHolder is the "redis-lease-holder" helper: it takes what
// envLease says (on the semaphore or RW lock called envDir), prints "held
// fence=F weight=W called=C granted=G" (check.Now readings), and holds it
// until killed, or releases it when its standard input ends.
func redisLeaseHolder() error {
	c, closeRedis, err := helperClient()
	if err != nil {
		return err
	}
	defer closeRedis()
	defer c.Close()
	name := os.Getenv(envDir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	called := check.Now()
	var l *redislock.Lease
	w := int64(1)
	switch kind := os.Getenv(envLease); kind {
	case "sem":
		w = holderWeight
		l, err = c.NewSemaphore(name, holderSize).Acquire(ctx, w)
	case "write":
		w = rwWriter
		l, err = c.NewRWMutex(name).ObtainWrite(ctx)
	case "read":
		l, err = c.NewRWMutex(name).ObtainRead(ctx)
	default:
		return fmt.Errorf("%s=%q", envLease, kind)
	}
	if err != nil {
		return err
	}
	fmt.Printf("held fence=%d weight=%d called=%d granted=%d\n", l.Fence(), w, called, check.Now())
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
	}
	if err := l.Release(context.Background()); err != nil && !errors.Is(err, lock.ErrLockLost) {
		return err
	}
	return nil
}

// TestRedisLeaseWaiterKilled: a helper process waits, queued in Redis,
// for semaphore weight, a write lease or a read lease, and is killed
// (SIGKILL) with a waiter of this process queued behind it (or, for the
// reader, a writer waiting for its phase to end). When this process
// releases what the helper waited for, the script grants the helper
// first: its grant message reaches no subscriber (its Client is gone
// with its connections), so the grant is undone at once and the waiter
// of this process served within handoffPrompt, not at the dead entry's
// deadline.
func TestRedisLeaseWaiterKilled(t *testing.T) {
	srv := redistest.Start(t)
	rdb := dialRedis(t, srv.Addr())
	a := newLocks(t, rdb, redislock.WithWatchdog(shortTTL, shortRenew))
	b := newLocks(t, dialRedis(t, srv.Addr()), redislock.WithWatchdog(shortTTL, shortRenew))
	var sum chaos.Summary
	sum.Processes = 2
	served := map[string][]time.Duration{}
	kinds := []string{"sem", "write", "read"}
	for round := range plan.Rounds(1) {
		for _, kind := range kinds {
			name := fmt.Sprintf("chaos-waiter-%s-%d", kind, round)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			var holder *redislock.Lease
			var err error
			var next <-chan acquired
			var capacity int64 = rwWriter
			start := func() *proctest.Proc {
				return proctest.StartHelper(t, "redis-lease-waiter", setenv(envRedis, srv.Addr()), setenv(envLease, kind), setenv(envDir, name))
			}
			var victim *proctest.Proc
			switch kind {
			case "sem":
				capacity = holderSize
				s := a.NewSemaphore(name, holderSize)
				if holder, err = s.Acquire(ctx, holderSize); err != nil {
					t.Fatal(err)
				}
				victim = start()
				semWaiting(t, ctx, s, 1)
				next = obtainLater(2, holderWeight, func(ctx context.Context) (*redislock.Lease, error) {
					return b.NewSemaphore(name, holderSize).Acquire(ctx, holderWeight)
				})
				semWaiting(t, ctx, s, 2)
			case "write": // the helper's turn has come; a reader waits in its phase
				if holder, err = a.NewRWMutex(name).ObtainRead(ctx); err != nil {
					t.Fatal(err)
				}
				victim = start()
				rwWriterWaits(t, rdb, name)
				next = obtainLater(2, 1, b.NewRWMutex(name).ObtainRead)
				rwQueued(t, rdb, name, 1, 0)
			case "read": // the helper waits in a write phase; a writer waits for its turn
				if holder, err = a.NewRWMutex(name).ObtainWrite(ctx); err != nil {
					t.Fatal(err)
				}
				victim = start()
				rwQueued(t, rdb, name, 1, 0)
				next = obtainLater(2, rwWriter, b.NewRWMutex(name).ObtainWrite)
				rwQueued(t, rdb, name, 1, 1)
			}
			victim.Kill()
			sum.Faults++
			g := check.Grant{Owner: 1, Weight: capacity, Token: holder.Fence(), Granted: check.Now()}
			if kind == "write" {
				g.Weight = 1
			}
			released := time.Now()
			g.End = check.Now()
			if err := holder.Release(ctx); err != nil {
				t.Fatal(err)
			}
			r, d := got(t, "the waiter behind the killed one, after the release", next, released, handoffPrompt)
			served[kind] = append(served[kind], d)
			gs := []check.Grant{g, release(t, r)}
			checkGrants(t, round, gs, capacity, &sum)
			sum.Acquisitions += 2
			cancel()
			if t.Failed() {
				return
			}
		}
	}
	for _, kind := range kinds {
		sum.Note(fmt.Sprintf("behind a killed %s waiter, served %s after the release", kind, durations(served[kind])))
	}
	sum.Note(fmt.Sprintf("bound %v; a dead entry lives %v", handoffPrompt, shortTTL))
	t.Log(sum)
}

// redisLeaseWaiter is the "redis-lease-waiter" helper: it waits for what
// envLease says (weight holderWeight of the semaphore, or a lease of the
// RW lock, called envDir) until it is killed.
func redisLeaseWaiter() error {
	c, closeRedis, err := helperClient()
	if err != nil {
		return err
	}
	defer closeRedis()
	defer c.Close()
	name := os.Getenv(envDir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	switch kind := os.Getenv(envLease); kind {
	case "sem":
		_, err = c.NewSemaphore(name, holderSize).Acquire(ctx, holderWeight)
	case "write":
		_, err = c.NewRWMutex(name).ObtainWrite(ctx)
	case "read":
		_, err = c.NewRWMutex(name).ObtainRead(ctx)
	default:
		return fmt.Errorf("%s=%q", envLease, kind)
	}
	if err == nil {
		return errors.New("granted while it should have been killed")
	}
	return err
}

// TestRedisLeaseWaiterStopped: a helper process waits, queued in Redis,
// for semaphore weight or a write lease, with a waiter of this process
// behind it, and is stopped (SIGSTOP). The release that follows grants
// the helper first; its Client's connection is open, so the message is
// counted as delivered, but nobody takes the grant up. Once the grant's
// entry dies in Redis (its lifetime, shortTTL here) the waiter behind is
// served, within reclaimDue of the release. Then the helper resumes and
// finds its grant too old to trust: it must ask Redis again, and hold
// only once the waiter of this process has released (check.OverAdmitted
// over both holds, the helper's ending at its lease's validity).
func TestRedisLeaseWaiterStopped(t *testing.T) {
	srv := redistest.Start(t)
	rdb := dialRedis(t, srv.Addr())
	a := newLocks(t, rdb, redislock.WithWatchdog(shortTTL, shortRenew))
	b := newLocks(t, dialRedis(t, srv.Addr()), redislock.WithWatchdog(shortTTL, shortRenew))
	var sum chaos.Summary
	sum.Processes = 2
	served := map[string][]time.Duration{}
	kinds := []string{"sem", "write"}
	for round := range plan.Rounds(1) {
		for _, kind := range kinds {
			name := fmt.Sprintf("chaos-stopped-%s-%d", kind, round)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			var holder *redislock.Lease
			var err error
			var next <-chan acquired
			var capacity int64 = rwWriter
			start := func() *proctest.Proc {
				return proctest.StartHelper(t, "redis-lease-sleeper", setenv(envRedis, srv.Addr()), setenv(envLease, kind), setenv(envDir, name))
			}
			var victim *proctest.Proc
			switch kind {
			case "sem":
				capacity = holderSize
				s := a.NewSemaphore(name, holderSize)
				if holder, err = s.Acquire(ctx, holderSize); err != nil {
					t.Fatal(err)
				}
				victim = start()
				semWaiting(t, ctx, s, 1)
				next = obtainLater(2, holderWeight, func(ctx context.Context) (*redislock.Lease, error) {
					return b.NewSemaphore(name, holderSize).Acquire(ctx, holderWeight)
				})
				semWaiting(t, ctx, s, 2)
			case "write":
				if holder, err = a.NewRWMutex(name).ObtainRead(ctx); err != nil {
					t.Fatal(err)
				}
				victim = start()
				rwWriterWaits(t, rdb, name)
				next = obtainLater(2, 1, b.NewRWMutex(name).ObtainRead)
				rwQueued(t, rdb, name, 1, 0)
			}
			if err := victim.Stop(); err != nil {
				t.Fatal(err)
			}
			waitStopped(t, victim.PID())
			sum.Faults++
			g := check.Grant{Owner: 1, Weight: capacity, Token: holder.Fence(), Granted: check.Now()}
			if kind == "write" {
				g.Weight = 1
			}
			released := time.Now()
			g.End = check.Now()
			if err := holder.Release(ctx); err != nil {
				t.Fatal(err)
			}
			r, d := got(t, "the waiter behind the stopped one, after the release", next, released, reclaimDue)
			served[kind] = append(served[kind], d)
			if err := victim.Cont(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * handoffRefresh) // the helper must not hold meanwhile
			if lines := victim.Lines("held "); len(lines) > 0 {
				t.Errorf("%s: the resumed helper holds beside the waiter behind it: %v", name, lines)
			}
			mine := release(t, r)
			line, err := victim.Expect("held ", 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var h check.Grant
			if _, err := fmt.Sscanf(line, "held fence=%d weight=%d called=%d granted=%d", &h.Token, &h.Weight, &h.Called, &h.Granted); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			line, err = victim.Expect("end ", 10*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fmt.Sscanf(line, "end end=%d valid=%d", &h.End, &h.ValidUntil); err != nil {
				t.Fatalf("%q: %v", line, err)
			}
			h.Owner = uint64(victim.PID())
			if err := victim.Wait(10 * time.Second); err != nil {
				t.Fatal(err)
			}
			checkGrants(t, round, []check.Grant{g, mine, h}, capacity, &sum)
			if h.Granted < mine.End {
				t.Errorf("%s: the resumed helper got its lease at %d, before the waiter behind it released at %d", name, h.Granted, mine.End)
			}
			sum.Acquisitions += 3
			cancel()
			if t.Failed() {
				return
			}
		}
	}
	for _, kind := range kinds {
		sum.Note(fmt.Sprintf("behind a stopped %s waiter granted at the release, served %s after it", kind, durations(served[kind])))
	}
	sum.Note(fmt.Sprintf("bound %v; each resumed waiter held only after the other had released", reclaimDue))
	t.Log(sum)
}

// waitStopped waits until every thread of process pid is stopped: SIGSTOP
// takes effect when each thread next enters the kernel, and until then
// the process may still take a grant.
func waitStopped(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
		stopped := err == nil && len(tasks) > 0
		for _, task := range tasks {
			b, err := os.ReadFile(task)
			// The state follows the command, which is in parentheses.
			i := bytes.LastIndexByte(b, ')')
			if err != nil || i < 0 || i+2 >= len(b) || (b[i+2] != 'T' && b[i+2] != 't') {
				stopped = false
				break
			}
		}
		if stopped {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("process %d not stopped 5s after SIGSTOP", pid)
		}
		time.Sleep(time.Millisecond)
	}
}

// redisLeaseSleeper is the "redis-lease-sleeper" helper: it waits for
// what envLease says (weight holderWeight of the semaphore, or a write
// lease of the RW lock, called envDir), prints "held fence=F weight=W
// called=C granted=G", holds it for a moment, then prints "end end=E
// valid=V" (check.Now readings: the end of the hold and the end of
// validity the lease last reported) and releases it.
func redisLeaseSleeper() error {
	c, closeRedis, err := helperClient()
	if err != nil {
		return err
	}
	defer closeRedis()
	defer c.Close()
	name := os.Getenv(envDir)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	called := check.Now()
	var l *redislock.Lease
	w := int64(holderWeight)
	switch kind := os.Getenv(envLease); kind {
	case "sem":
		l, err = c.NewSemaphore(name, holderSize).Acquire(ctx, w)
	case "write":
		w = rwWriter
		l, err = c.NewRWMutex(name).ObtainWrite(ctx)
	default:
		return fmt.Errorf("%s=%q", envLease, kind)
	}
	if err != nil {
		return err
	}
	granted := check.Now()
	fmt.Printf("held fence=%d weight=%d called=%d granted=%d\n", l.Fence(), w, called, granted)
	valid := holdLease(l, 50*time.Millisecond, granted)
	fmt.Printf("end end=%d valid=%d\n", check.Now(), valid)
	return l.Release(context.Background())
}
