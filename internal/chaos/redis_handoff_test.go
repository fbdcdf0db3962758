//go:build linux

package chaos_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/chaos"
	"github.com/codomyrmex/concurrency/internal/faultproxy"
	"github.com/codomyrmex/concurrency/internal/proctest"
	"github.com/codomyrmex/concurrency/internal/redistest"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
	"github.com/redis/go-redis/v9"
)

// The handoff scenarios: a release hands the lock straight to the first
// live waiter in the queue, by a message to its Client's subscription.
// They break what that relies on: the waiter's process, its Client, its
// subscription connection, and the message. Leases use the short TTL of
// the fencing scenarios, which bounds a queue entry's lifetime too, so
// that a grant that nobody takes up passes on within shortTTL.
const (
	handoffRounds   = 5 // grants broken per round of each scenario
	handoffGoroutes = 3 // goroutines of the redis-closer helper
	handoffQueueKey = "lock:{" + lockName + "}:waiters"
	handoffRefresh  = shortTTL / 3                      // a waiter's queue refresh
	handoffPrompt   = 500 * time.Millisecond            // a handoff that no entry's death delays, on a loaded machine
	handoffEntryDue = shortTTL + handoffRefresh + slack // one that waits for a dead grantee's entry
)

// handoffFaults are the contention scenario's faults that hit the
// handoff: every subscription connection killed (the waiters check at once
// and queue without a channel until their Clients have subscribed again),
// and the grant messages dropped by the proxy for a while (a waiter finds
// its grant at its next queue refresh).
var handoffFaults = []fault{
	{"kill subscriptions", func(t *testing.T, _ *faultproxy.Proxy, admin *redis.Client) {
		ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
		defer cancel()
		if err := admin.Do(ctx, "client", "kill", "type", "pubsub").Err(); err != nil {
			t.Errorf("CLIENT KILL TYPE pubsub: %v", err)
		}
	}},
	{"drop messages", func(t *testing.T, p *faultproxy.Proxy, _ *redis.Client) {
		proxyFor(t, p, faultproxy.DropMessages, 300*time.Millisecond)
	}},
}

// TestRedisHandoffFaults is the contention scenario (several processes,
// cancellation churn, the oracle counter, fencing, porcupine) under the
// faults that hit the handoff: subscription connections killed mid-wait
// and grant messages lost. No wait may stall (the churn's 10s bound), no
// holds overlap, and the merged history is linearizable.
func TestRedisHandoffFaults(t *testing.T) { runRedisContention(t, handoffFaults) }

// TestRedisLostGrant drops the message of a grant: the waiter (through the
// fault proxy, in DropMessages mode) is handed the lock but never told,
// and finds it at its next queue refresh, within a third of its entry's
// lifetime (plus slack), with a fence above the holder's.
func TestRedisLostGrant(t *testing.T) {
	lockSrv := redistest.Start(t)
	proxy, err := faultproxy.New(lockSrv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	holder := newLocks(t, dialRedis(t, lockSrv.Addr()), redislock.WithWatchdog(shortTTL, shortRenew))
	waiter := newLocks(t, dialRedis(t, proxy.Addr()), redislock.WithWatchdog(shortTTL, shortRenew))
	admin := dialRedis(t, lockSrv.Addr())
	var sum chaos.Summary
	sum.Processes = 1
	var waits []time.Duration
	for round := range plan.Rounds(1) {
		for i := range handoffRounds {
			held := lockFor(t, holder.NewMutex(lockName))
			got := lockLater(t, waiter.NewMutex(lockName))
			waitQueue(t, admin, 1)
			if err := proxy.Set(faultproxy.DropMessages); err != nil {
				t.Fatal(err)
			}
			dropped := proxy.Stats().DroppedMessages
			released := time.Now()
			if err := held.Release(context.Background()); err != nil {
				t.Fatalf("round %d.%d: %v", round, i, err)
			}
			lease := <-got
			if lease == nil {
				t.FailNow()
			}
			waits = append(waits, time.Since(released))
			sum.Acquisitions += 2
			sum.Faults++
			if d := time.Since(released); d > handoffRefresh+slack {
				t.Errorf("round %d.%d: the waiter found its grant %v after the release, want within its refresh (%v) and slack", round, i, d, handoffRefresh)
			}
			if proxy.Stats().DroppedMessages == dropped {
				t.Errorf("round %d.%d: the proxy dropped no message", round, i)
			}
			if lease.Fence() <= held.Fence() {
				t.Errorf("round %d.%d: fence %d after %d", round, i, lease.Fence(), held.Fence())
			}
			if err := proxy.Set(faultproxy.Pass); err != nil {
				t.Fatal(err)
			}
			_ = lease.Release(context.Background())
		}
		if t.Failed() {
			break
		}
	}
	sum.Note(fmt.Sprintf("%s lost: the waiter found its grant %v after the release (refresh every %v)",
		chaos.Count(int64(len(waits)), "grant message"), durations(waits), handoffRefresh))
	t.Log(sum)
}

// TestRedisGrantedWaiterKilled hands the lock to a waiter in a helper
// process that is stopped (SIGSTOP), so that it cannot take the grant up,
// and kills it (SIGKILL). Its subscription was alive when the release
// published the grant, so the lock is its until its queue entry dies; then
// the next waiter gets it, within the entry's lifetime and a refresh, with
// a higher fence.
func TestRedisGrantedWaiterKilled(t *testing.T) {
	lockSrv := redistest.Start(t)
	admin := dialRedis(t, lockSrv.Addr())
	holder := newLocks(t, dialRedis(t, lockSrv.Addr()), redislock.WithWatchdog(shortTTL, shortRenew))
	next := newLocks(t, dialRedis(t, lockSrv.Addr()), redislock.WithWatchdog(shortTTL, shortRenew))
	var sum chaos.Summary
	sum.Processes = 2
	var waits []time.Duration
	for round := range plan.Rounds(1) {
		for i := range handoffRounds {
			held := lockFor(t, holder.NewMutex(lockName))
			victim := proctest.StartHelper(t, "redis-waiter", setenv(envRedis, lockSrv.Addr()))
			waitQueue(t, admin, 1)
			if err := victim.Stop(); err != nil {
				t.Fatal(err)
			}
			got := lockLater(t, next.NewMutex(lockName))
			waitQueue(t, admin, 2)
			released := time.Now()
			if err := held.Release(context.Background()); err != nil {
				t.Fatal(err)
			}
			// The grant went to the stopped victim, whose token is
			// not the next waiter's.
			ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
			granted := admin.Get(ctx, "lock:{"+lockName+"}").Val()
			cancel()
			victim.Kill()
			sum.Faults += 2
			lease := <-got
			if lease == nil {
				t.FailNow()
			}
			d := time.Since(released)
			waits = append(waits, d)
			sum.Acquisitions += 2
			if d > handoffEntryDue {
				t.Errorf("round %d.%d: next waiter got the lock %v after the release, want within the dead grantee's entry %v, a refresh and slack", round, i, d, shortTTL)
			}
			if granted == "" {
				t.Errorf("round %d.%d: the release left the lock free, want it handed to the stopped waiter", round, i)
			}
			if lease.Fence() <= held.Fence()+1 {
				t.Errorf("round %d.%d: fence %d, want above the dead grantee's %d", round, i, lease.Fence(), held.Fence()+1)
			}
			_ = lease.Release(context.Background())
		}
		if t.Failed() {
			break
		}
	}
	sum.Note(fmt.Sprintf("%s granted the lock while stopped, then killed: the next waiter got it %v after the release (entry %v)",
		chaos.Count(int64(len(waits)), "waiter"), durations(waits), shortTTL))
	t.Log(sum)
}

// TestRedisClientClosedWithWaiters closes, in a helper process, a Client
// whose goroutines wait for the lock (one queued in Redis, the others in
// the Client's FIFO) just as the holder releases, so that the release may
// hand the lock to the closing Client. Every goroutine of the helper ends
// with lock.ErrClosed or, if the grant came first, holds the lock until
// Close releases it; Close returns promptly; and the next waiter, in
// another Client, gets the lock within a round trip or so, not at the
// grant's expiry, since the closed Client gives back what it was handed.
func TestRedisClientClosedWithWaiters(t *testing.T) {
	lockSrv := redistest.Start(t)
	admin := dialRedis(t, lockSrv.Addr())
	holder := newLocks(t, dialRedis(t, lockSrv.Addr()), redislock.WithWatchdog(shortTTL, shortRenew))
	next := newLocks(t, dialRedis(t, lockSrv.Addr()), redislock.WithWatchdog(shortTTL, shortRenew))
	var sum chaos.Summary
	sum.Processes = 2
	var waits, closes []time.Duration
	for round := range plan.Rounds(1) {
		for i := range handoffRounds {
			held := lockFor(t, holder.NewMutex(lockName))
			closer := proctest.StartHelper(t, "redis-closer", setenv(envRedis, lockSrv.Addr()), setenv(envGoroutines, handoffGoroutes))
			if _, err := closer.Expect("waiting", 30*time.Second); err != nil {
				t.Fatal(err)
			}
			waitQueue(t, admin, 1)
			got := lockLater(t, next.NewMutex(lockName))
			waitQueue(t, admin, 2)
			var wg sync.WaitGroup
			wg.Go(func() {
				time.Sleep(time.Duration(i) * 100 * time.Microsecond)
				if err := closer.Send("close"); err != nil {
					t.Error(err)
				}
			})
			released := time.Now()
			if err := held.Release(context.Background()); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			lease := <-got
			d := time.Since(released)
			if lease == nil {
				t.FailNow()
			}
			_ = lease.Release(context.Background())
			waits = append(waits, d)
			sum.Acquisitions += 2
			sum.Faults++
			if d > handoffPrompt {
				t.Errorf("round %d.%d: next waiter got the lock %v after the release, want within %v", round, i, d, handoffPrompt)
			}
			line, err := closer.Expect("closed ", 30*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			var took time.Duration
			var closedN, heldN int
			if _, err := fmt.Sscanf(line, "closed in %dns: %d closed, %d held", &took, &closedN, &heldN); err != nil {
				t.Fatalf("round %d.%d: %q: %v", round, i, line, err)
			}
			closes = append(closes, took)
			if closedN+heldN != handoffGoroutes || heldN > 1 {
				t.Errorf("round %d.%d: helper: %s, want every goroutine closed but at most one that held the lock", round, i, line)
			}
			if took > time.Second {
				t.Errorf("round %d.%d: Close took %v", round, i, took)
			}
			if err := closer.Wait(30 * time.Second); err != nil {
				t.Fatal(err)
			}
			waitQueue(t, admin, 0)
		}
		if t.Failed() {
			break
		}
	}
	sum.Note(fmt.Sprintf("%s closed as the lock was released to them: Close took %v, the next waiter got the lock %v after the release",
		chaos.Count(int64(len(waits)), "Client"), durations(closes), durations(waits)))
	t.Log(sum)
}

// lockLater locks m in a goroutine, within 10s, and sends its lease on
// the channel it returns, or nil after reporting the error.
func lockLater(t *testing.T, m *redislock.Mutex) <-chan *redislock.Lease {
	got := make(chan *redislock.Lease, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Lock(ctx); err != nil {
			t.Errorf("lock: %v", err)
			got <- nil
			return
		}
		got <- m.Lease()
	}()
	return got
}

// waitQueue waits until n tokens are queued for the lock in Redis.
func waitQueue(t *testing.T, admin *redis.Client, n int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	defer cancel()
	for admin.LLen(ctx, handoffQueueKey).Val() != n {
		if ctx.Err() != nil {
			t.Fatalf("%d tokens queued, want %d", admin.LLen(context.Background(), handoffQueueKey).Val(), n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// helperClient returns a lock Client of the helper process, on the server
// of envRedis, with the fencing scenarios' short lease, and a function
// that closes its go-redis client.
func helperClient() (*redislock.Client, func(), error) {
	rdb := redis.NewClient(redisOptions(os.Getenv(envRedis)))
	c, err := redislock.New(rdb, redislock.WithWatchdog(shortTTL, shortRenew))
	if err != nil {
		rdb.Close()
		return nil, nil, err
	}
	return c, func() { rdb.Close() }, nil
}

// redisWaiter is the "redis-waiter" helper: it waits for the lock, which
// its test hands it while it is stopped, and is killed.
func redisWaiter() error {
	c, closeRedis, err := helperClient()
	if err != nil {
		return err
	}
	defer closeRedis()
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = c.Obtain(ctx, lockName)
	return err
}

// redisCloser is the "redis-closer" helper: envGoroutines goroutines wait
// for the lock through one Client; it prints "waiting" once they have
// started, closes the Client at the line "close" on its standard input,
// and prints how long Close took and how the goroutines ended.
func redisCloser() error {
	goroutines, err := envInt(envGoroutines)
	if err != nil {
		return err
	}
	c, closeRedis, err := helperClient()
	if err != nil {
		return err
	}
	defer closeRedis()
	var (
		wg             sync.WaitGroup
		mu             sync.Mutex
		closedN, heldN int
		failures       []error
	)
	for range goroutines {
		wg.Go(func() {
			l, err := c.Obtain(context.Background(), lockName)
			if err == nil {
				<-l.Done() // ended by Close
				err = l.Err()
				if errors.Is(err, lock.ErrClosed) {
					err = nil
				}
				mu.Lock()
				heldN++
				mu.Unlock()
			} else if errors.Is(err, lock.ErrClosed) {
				mu.Lock()
				closedN++
				mu.Unlock()
				err = nil
			}
			if err != nil {
				mu.Lock()
				failures = append(failures, err)
				mu.Unlock()
			}
		})
	}
	fmt.Println("waiting")
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() || in.Text() != "close" {
		return errors.New("want the line close on stdin")
	}
	start := time.Now()
	c.Close()
	took := time.Since(start)
	wg.Wait()
	if len(failures) > 0 {
		return errors.Join(failures...)
	}
	fmt.Printf("closed in %dns: %d closed, %d held\n", took, closedN, heldN)
	return nil
}
