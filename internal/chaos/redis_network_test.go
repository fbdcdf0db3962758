//go:build linux

package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/chaos"
	"github.com/codomyrmex/concurrency/internal/faultproxy"
	"github.com/codomyrmex/concurrency/internal/redistest"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
)

// TestRedisNetworkBeyondTTL cuts a holder off from Redis for longer than
// its TTL through the fault proxy, by a blackhole and by a delay of its
// requests. Each time, its lease must be found lost (Done closes within
// the TTL, plus slack), a second client must get the lock with a higher
// fencing token, the cut-off holder's write with its old token must be
// rejected, and the holder's late renewals must not disturb the new
// holder.
func TestRedisNetworkBeyondTTL(t *testing.T) {
	lockSrv := redistest.Start(t)
	oracle := dialRedis(t, redistest.Start(t).Addr())
	proxy, err := faultproxy.New(lockSrv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	holder := newLocks(t, dialRedis(t, proxy.Addr()), redislock.WithWatchdog(shortTTL, shortRenew))
	contender := newLocks(t, dialRedis(t, lockSrv.Addr()), redislock.WithWatchdog(shortTTL, shortRenew))

	cuts := []struct {
		name string
		cut  func()
	}{
		{"blackhole", func() { proxy.Set(faultproxy.Blackhole) }},
		{"delay", func() {
			proxy.SetDelay(3*shortTTL, 0)
			proxy.Set(faultproxy.Delay)
		}},
	}
	var sum chaos.Summary
	sum.Processes = 1
	var lostAfter []time.Duration
	for round := range plan.Rounds(1) {
		for _, c := range cuts {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			held := holder.NewMutex(lockName)
			if err := held.Lock(ctx); err != nil {
				t.Fatalf("round %d, %s: %v", round, c.name, err)
			}
			old := held.Lease()
			if stale, err := fencedWrite(oracle, old.Fence(), "holder"); stale || err != nil {
				t.Fatalf("round %d, %s: holder's write: stale=%v, %v", round, c.name, stale, err)
			}
			cutAt := time.Now()
			c.cut()
			sum.Faults++
			select {
			case <-old.Done():
				lostAfter = append(lostAfter, time.Since(cutAt))
			case <-time.After(shortTTL + slack):
				t.Fatalf("round %d, %s: lease not found lost %v after the cut", round, c.name, shortTTL+slack)
			}
			if err := old.Err(); !errors.Is(err, lock.ErrLockLost) {
				t.Errorf("round %d, %s: lost lease's Err = %v, want ErrLockLost", round, c.name, err)
			}

			next := contender.NewMutex(lockName)
			if err := next.Lock(ctx); err != nil {
				t.Fatalf("round %d, %s: second holder: %v", round, c.name, err)
			}
			sum.Acquisitions += 2
			lease := next.Lease()
			if lease.Fence() <= old.Fence() {
				t.Errorf("round %d, %s: token %d not above the lost lease's %d", round, c.name, lease.Fence(), old.Fence())
			}
			if stale, err := fencedWrite(oracle, lease.Fence(), "second holder"); stale || err != nil {
				t.Fatalf("round %d, %s: second holder's write: stale=%v, %v", round, c.name, stale, err)
			}
			if stale, err := fencedWrite(oracle, old.Fence(), "cut-off holder"); !stale || err != nil {
				sum.Overlaps++
				t.Errorf("round %d, %s: cut-off holder's write: stale=%v, %v; want it rejected", round, c.name, stale, err)
			}

			proxy.Set(faultproxy.Pass)
			// Whatever the cut-off holder still had in flight arrives now
			// or after the delay: none of it may touch the new lease.
			held.Unlock()
			time.Sleep(time.Until(cutAt.Add(3*shortTTL + 100*time.Millisecond)))
			if err := lease.Extend(ctx); err != nil {
				t.Errorf("round %d, %s: second holder's lease after the cut-off holder's late traffic: %v", round, c.name, err)
			}
			next.Unlock()
			cancel()
		}
		if t.Failed() {
			break
		}
	}
	sum.Note(fmt.Sprintf("blackhole and %v delay beyond a %v TTL: leases found lost after %s", 3*shortTTL, shortTTL, durations(lostAfter)))
	sum.Note("every cut-off holder's write rejected by the fence")
	t.Log(sum)
}

// watchdogLeases is how many leases TestRedisWatchdogStops takes per round.
const watchdogLeases = 20

// TestRedisWatchdogStops takes leases with a watchdog through the fault
// proxy and ends them, half by Release and half by cancelling the context
// given to Obtain. Then, from one renewal interval after the last lease
// ended and over three TTLs, the proxy must see no byte from the client:
// no renewal outlives its lease.
func TestRedisWatchdogStops(t *testing.T) {
	srv := redistest.Start(t)
	proxy, err := faultproxy.New(srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { proxy.Close() })
	locks := newLocks(t, dialRedis(t, proxy.Addr()), redislock.WithWatchdog(shortTTL, shortRenew))
	var sum chaos.Summary
	sum.Processes = 1
	for round := range plan.Rounds(1) {
		for i := range watchdogLeases {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			lease, err := locks.Obtain(ctx, fmt.Sprintf("%s-%d", lockName, i))
			if err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
			time.Sleep(shortRenew / 4) // let the watchdog run
			if i%2 == 0 {
				if err := lease.Release(ctx); err != nil {
					t.Errorf("round %d: Release: %v", round, err)
				}
			} else {
				cancel()
				sum.Faults++
			}
			select {
			case <-lease.Done():
			case <-time.After(shortTTL + slack):
				t.Fatalf("round %d: lease %d did not end", round, i)
			}
			cancel()
			sum.Acquisitions++
		}
		// A lease ended by its context is released in the background,
		// after Done closes: let that go out, then listen for renewals.
		time.Sleep(shortRenew)
		before := proxy.Stats().FromClients
		time.Sleep(3 * shortTTL)
		if sent := proxy.Stats().FromClients - before; sent != 0 {
			t.Errorf("round %d: %d bytes sent to Redis in the %v after every lease ended", round, sent, 3*shortTTL)
		}
		if t.Failed() {
			break
		}
	}
	sum.Note(fmt.Sprintf("no byte sent from %v to %v after the leases ended (half released, half ended by their context)", shortRenew, shortRenew+3*shortTTL))
	t.Log(sum)
}
