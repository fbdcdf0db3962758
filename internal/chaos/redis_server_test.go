//go:build linux

package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/chaos"
	"github.com/codomyrmex/concurrency/internal/check"
	"github.com/codomyrmex/concurrency/internal/redistest"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
)

// Leases of the server scenarios.
const (
	serverTTL   = 2 * time.Second
	serverRenew = 300 * time.Millisecond
	aofRestarts = 5 // per round
)

// lockFor takes the lock through m within 10s.
func lockFor(t *testing.T, m *redislock.Mutex) *redislock.Lease {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	return m.Lease()
}

// TestRedisRestartWithoutPersistence restarts the lock's server, which
// loses every key. The holder's lease must be found lost within one renewal
// interval (plus slack). The next holder's token starts again from 1, so
// tokens regress: the fenced resource rejects the new holder's writes
// (safe, but unavailable), which is why fencing needs a persistent counter.
func TestRedisRestartWithoutPersistence(t *testing.T) {
	srv := redistest.Start(t)
	oracle := dialRedis(t, redistest.Start(t).Addr())
	locks := newLocks(t, dialRedis(t, srv.Addr()), redislock.WithWatchdog(serverTTL, serverRenew))
	var sum chaos.Summary
	sum.Processes = 1
	var lostAfter []time.Duration
	var regressions int64
	for round := range plan.Rounds(1) {
		ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
		oracle.Del(ctx, resourceKey)
		cancel()
		m := locks.NewMutex(lockName)
		for range 3 { // a few grants, so that the token is past 1
			lockFor(t, m)
			m.Unlock()
		}
		lease := lockFor(t, m)
		before := check.Interval{Start: check.Now(), Token: lease.Fence()}
		if stale, err := fencedWrite(oracle, lease.Fence(), "before restart"); stale || err != nil {
			t.Fatalf("round %d: write before restart: stale=%v, %v", round, stale, err)
		}
		restarted := time.Now()
		srv.Restart()
		sum.Faults++
		select {
		case <-lease.Done():
			lostAfter = append(lostAfter, time.Since(restarted))
		case <-time.After(serverRenew + slack):
			t.Fatalf("round %d: lease not found lost %v after the restart", round, serverRenew+slack)
		}
		if !errors.Is(lease.Err(), lock.ErrLockLost) {
			t.Errorf("round %d: Err = %v, want ErrLockLost", round, lease.Err())
		}
		m.Unlock()

		next := lockFor(t, m)
		sum.Acquisitions += 5
		after := check.Interval{Start: check.Now(), Token: next.Fence()}
		if reg := check.TokenRegressions([]check.Interval{before, after}); len(reg) != 1 {
			t.Errorf("round %d: token %d after a restart without persistence, %d before: expected a regression", round, next.Fence(), lease.Fence())
		} else {
			regressions++
		}
		if stale, err := fencedWrite(oracle, next.Fence(), "after restart"); !stale || err != nil {
			sum.Overlaps++
			t.Errorf("round %d: write with regressed token %d: stale=%v, %v; want it rejected", round, next.Fence(), stale, err)
		}
		m.Unlock()
		if t.Failed() {
			break
		}
	}
	sum.Note(fmt.Sprintf("leases found lost %s after the restart (renewal every %v)", durations(lostAfter), serverRenew))
	sum.Note(chaos.Count(regressions, "token regression") + " detected, every write with a regressed token rejected")
	t.Log(sum)
}

// TestRedisRestartWithAOF restarts a server that persists every write
// (appendonly yes, appendfsync always): tokens keep increasing across
// restarts, and a lease held across a restart survives it.
func TestRedisRestartWithAOF(t *testing.T) {
	srv := redistest.Start(t, "--appendonly", "yes", "--appendfsync", "always")
	locks := newLocks(t, dialRedis(t, srv.Addr()), redislock.WithWatchdog(serverTTL, serverRenew))
	var sum chaos.Summary
	sum.Processes = 1
	var holds []check.Interval
	survived := int64(0)
	for round := range plan.Rounds(1) {
		for range aofRestarts {
			m := locks.NewMutex(lockName)
			lease := lockFor(t, m)
			holds = append(holds, check.Interval{Start: check.Now(), Token: lease.Fence()})
			srv.Restart()
			sum.Faults++
			time.Sleep(2 * serverRenew) // renewals after the restart
			if lease.Err() == nil && lease.Extend(context.Background()) == nil {
				survived++
			} else {
				t.Errorf("round %d: lease did not survive a restart with AOF: %v", round, lease.Err())
			}
			m.Unlock()
			sum.Acquisitions++
		}
		if t.Failed() {
			break
		}
	}
	if reg := check.TokenRegressions(holds); reg != nil {
		t.Errorf("%d token regressions across restarts with AOF, first: %v", len(reg), reg[0])
	}
	sum.Note(fmt.Sprintf("tokens %d..%d strictly increasing across %s", holds[0].Token, holds[len(holds)-1].Token, chaos.Count(sum.Faults, "restart")))
	sum.Note(chaos.Count(survived, "lease") + " held across a restart survived it")
	t.Log(sum)
}

// TestRedisServerPause stops the lock's server (SIGSTOP). During a pause
// shorter than the TTL, a waiter's deadline is honoured and the holder's
// lease survives; during one longer than the TTL, the holder's lease is
// found lost by its local validity, before the server could say so.
func TestRedisServerPause(t *testing.T) {
	srv := redistest.Start(t)
	holderLocks := newLocks(t, dialRedis(t, srv.Addr()), redislock.WithWatchdog(serverTTL, serverRenew))
	waiterLocks := newLocks(t, dialRedis(t, srv.Addr()), redislock.WithWatchdog(serverTTL, serverRenew))
	const waitDeadline = 200 * time.Millisecond
	var sum chaos.Summary
	sum.Processes = 1
	var waited, lostAfter []time.Duration
	for round := range plan.Rounds(1) {
		held := holderLocks.NewMutex(lockName)
		lease := lockFor(t, held)

		srv.Pause()
		paused := time.Now()
		sum.Faults++
		ctx, cancel := context.WithTimeout(context.Background(), waitDeadline)
		err := waiterLocks.NewMutex(lockName).Lock(ctx)
		cancel()
		waited = append(waited, time.Since(paused))
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("round %d: Lock during a pause = %v, want DeadlineExceeded", round, err)
		}
		if d := time.Since(paused); d > waitDeadline+slack {
			t.Errorf("round %d: Lock with a %v deadline returned after %v", round, waitDeadline, d)
		}
		time.Sleep(time.Until(paused.Add(serverTTL / 4)))
		srv.Resume()
		time.Sleep(2 * serverRenew)
		if err := lease.Err(); err != nil {
			t.Errorf("round %d: lease lost across a %v pause, TTL %v: %v", round, serverTTL/4, serverTTL, err)
		}

		srv.Pause()
		paused = time.Now()
		sum.Faults++
		select {
		case <-lease.Done():
			lostAfter = append(lostAfter, time.Since(paused))
		case <-time.After(serverTTL + slack):
			t.Errorf("round %d: lease not found lost %v into a pause", round, serverTTL+slack)
		}
		srv.Resume()
		held.Unlock()
		next := waiterLocks.NewMutex(lockName)
		lockFor(t, next)
		next.Unlock()
		sum.Acquisitions += 2
		if t.Failed() {
			break
		}
	}
	sum.Note(fmt.Sprintf("Lock with a %v deadline during a pause returned after %s", waitDeadline, durations(waited)))
	sum.Note(fmt.Sprintf("leases found lost %s into a pause longer than the %v TTL", durations(lostAfter), serverTTL))
	t.Log(sum)
}
