//go:build linux

package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/chaos"
	"github.com/codomyrmex/concurrency/internal/check"
	"github.com/codomyrmex/concurrency/internal/redistest"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
	"github.com/redis/go-redis/v9"
)

// The Sentinel scenarios: the name the Sentinel monitors the primary
// under, the leases, the socket timeouts of the clients, and how long the
// Sentinel may take to promote the replica. Promotion takes 0.7-1.5s here
// (down after 300ms, then up to the 1s INFO period until the replica
// reports role:master; a failover that finds no replica to promote is
// retried only after twice the 2s failover timeout), and a lease must
// outlive it from its last renewal before the kill: hence a TTL of 3s, not
// the manual scenarios' 2s, which left 0.2s to spare with two test
// processes on two cores.
const (
	sentinelMaster   = "chaos"
	sentinelTTL      = 3 * time.Second
	sentinelRenew    = failoverRenew
	sentinelTimeout  = 500 * time.Millisecond
	sentinelPromoted = 10 * time.Second
)

// failoverClient returns a go-redis client that finds the primary through
// the Sentinel s, with redislock's settings (context deadlines honoured,
// short socket timeouts, no retries). dial, if not nil, dials every
// connection, to the Sentinel and to the primary. It is closed at the end
// of the test.
func failoverClient(t *testing.T, s *redistest.Sentinel, dial func(ctx context.Context, network, addr string) (net.Conn, error)) *redis.Client {
	rdb := redis.NewFailoverClient(&redis.FailoverOptions{
		MasterName:            s.Name(),
		SentinelAddrs:         []string{s.Addr()},
		Dialer:                dial,
		ContextTimeoutEnabled: true,
		DialTimeout:           sentinelTimeout,
		ReadTimeout:           sentinelTimeout,
		WriteTimeout:          sentinelTimeout,
		MaxRetries:            -1,
	})
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// startSentinelTrio starts a primary, a replica of it and a Sentinel that
// monitors the primary and knows the replica as one it may promote.
func startSentinelTrio(t *testing.T) (primary, replica *redistest.Server, s *redistest.Sentinel) {
	t.Helper()
	primary, replica = startReplicatedPair(t)
	s = redistest.StartSentinel(t, sentinelMaster, primary)
	if err := s.WaitReplicas(15*time.Second, replica); err != nil {
		t.Fatalf("sentinel: %v", err)
	}
	return primary, replica, s
}

// waitPromoted waits until the Sentinel gives the replica's address for
// the primary, and returns how long that took since killed.
func waitPromoted(t *testing.T, s *redistest.Sentinel, replica *redistest.Server, killed time.Time) time.Duration {
	t.Helper()
	if err := s.WaitMaster(replica.Addr(), sentinelPromoted); err != nil {
		t.Fatalf("the Sentinel did not promote the replica: %v; sentinel log: %s", err, s.Log())
	}
	d := time.Since(killed)
	if d < redistest.SentinelDownAfter {
		t.Logf("promoted %v after the kill, sooner than the Sentinel's down-after %v: it found the primary down before the kill; sentinel log: %s",
			d, redistest.SentinelDownAfter, s.Log())
	}
	return d
}

// TestRedisSentinelFailover repeats the manual failover scenarios
// (TestRedisFailoverLosesLock) with a real failover: a Sentinel (quorum 1,
// down after 300ms) promotes the replica after the primary is killed, and
// the clients are go-redis failover clients that ask the Sentinel for the
// primary.
//
// Replicated: a lease whose grant reached the replica (WAIT 1 returns 1,
// the replica holds the key and the counter) survives: its watchdog's
// renewals fail while the Sentinel promotes the replica and then succeed on
// the new primary within the TTL, the lease never ends, Extend succeeds,
// the key is on the new primary, and the next grant's token is higher.
//
// Lagging: the replica is stopped and its link cut, so the grant never
// reaches it (WAIT 1 200 returns 0); the primary is killed and the replica
// resumed. The Sentinel promotes the lagging replica all the same, the key
// is gone, and a second failover client gets the lock while the first
// lease is still valid: two holders with the same token (the documented
// hazard). The first client is cut off from the new primary (its dialer
// refuses the replica's address) until the second holds the lock, as a
// client partitioned from the new primary would be: otherwise which of the
// first lease's renewals and the second client's acquire reaches the new
// primary first is a race. Once the cut is lifted, the first lease is found
// lost, with ErrLockLost, at its next renewal.
func TestRedisSentinelFailover(t *testing.T) {
	oracle := dialRedis(t, redistest.Start(t).Addr())
	var sum chaos.Summary
	sum.Processes = 1
	var promoted, lostAfter, lostSinceKill []time.Duration
	var survived, doubleGrants int64
	for round := range plan.Rounds(1) {
		t.Run(fmt.Sprintf("round-%d/replicated", round), func(t *testing.T) {
			d, ok := sentinelReplicated(t, oracle, &sum)
			if d > 0 {
				promoted = append(promoted, d)
			}
			if ok {
				survived++
			}
		})
		t.Run(fmt.Sprintf("round-%d/lagging", round), func(t *testing.T) {
			r := sentinelLagging(t, oracle, &sum)
			if r.promoted > 0 {
				promoted = append(promoted, r.promoted)
			}
			if r.doubleGrant {
				doubleGrants++
			}
			if r.lostAfter > 0 {
				lostAfter = append(lostAfter, r.lostAfter)
				lostSinceKill = append(lostSinceKill, r.lostSinceKill)
			}
		})
		if t.Failed() {
			break
		}
	}
	sum.Note(fmt.Sprintf("the Sentinel promoted the replica %s after the primary's SIGKILL", durations(promoted)))
	sum.Note(chaos.Count(survived, "replicated lease") + " survived a Sentinel failover (renewed on the new primary, key there, next token higher)")
	sum.Note(chaos.Count(doubleGrants, "double grant") + " after a Sentinel failover to a lagging replica, same token (the documented hazard; they are the overlaps counted)")
	sum.Note(fmt.Sprintf("first leases found lost %s after their client could reach the new primary, %s after the kill (TTL %v, renewal every %v)",
		durations(lostAfter), durations(lostSinceKill), sentinelTTL, sentinelRenew))
	t.Log(sum)
}

// sentinelReplicated runs the replicated case; it returns how long the
// Sentinel took to promote the replica and whether the lease survived.
func sentinelReplicated(t *testing.T, oracle *redis.Client, sum *chaos.Summary) (promoted time.Duration, ok bool) {
	resetResource(t, oracle)
	primary, replica, s := startSentinelTrio(t)
	holder := newLocks(t, failoverClient(t, s, nil), redislock.WithWatchdog(sentinelTTL, sentinelRenew))
	m := holder.NewMutex(lockName)
	lease, before, token := holdReplicated(t, m, oracle, primary, replica, sum)
	replicaRdb := dialRedis(t, replica.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	defer cancel()

	primary.Kill()
	killed := time.Now()
	sum.Faults++
	promoted = waitPromoted(t, s, replica, killed)
	t.Logf("promoted %v after the kill", promoted.Round(time.Millisecond))

	// Renewals on the new primary: the watchdog retries a failed renewal
	// every quarter interval, so two intervals after the promotion it has
	// renewed there.
	time.Sleep(2 * sentinelRenew)
	select {
	case <-lease.Done():
		t.Fatalf("a replicated lease was lost in the Sentinel failover (%v after the kill, promoted after %v): %v", time.Since(killed), promoted, lease.Err())
	default:
	}
	if err := lease.Extend(ctx); err != nil {
		t.Errorf("Extend on the new primary: %v", err)
	}
	if got, err := replicaRdb.Get(ctx, failoverLockKey).Result(); err != nil || got != token {
		t.Errorf("GET %s on the new primary = %q, %v; want %q", failoverLockKey, got, err, token)
	}
	if pttl, err := replicaRdb.PTTL(ctx, failoverLockKey).Result(); err != nil || pttl <= sentinelTTL-sentinelRenew-slack {
		t.Errorf("PTTL %s on the new primary = %v, %v; want it renewed (about %v)", failoverLockKey, pttl, err, sentinelTTL)
	}
	if n := getCounter(t, replicaRdb, failoverFenceKey); n != lease.Fence() {
		t.Errorf("fence counter on the new primary = %d, want %d (no regression)", n, lease.Fence())
	}
	before.End = check.Now()
	if err := m.Release(ctx); err != nil {
		t.Errorf("Release on the new primary: %v (the lease was not held throughout)", err)
	}

	// The next grant, by another failover client.
	next := lockFor(t, newLocks(t, failoverClient(t, s, nil), redislock.WithWatchdog(sentinelTTL, sentinelRenew)).NewMutex(lockName))
	checkNextHolder(t, next, before, oracle, sum)
	return promoted, !t.Failed()
}

// sentinelLaggingResult is what one failover to a lagging replica showed.
type sentinelLaggingResult struct {
	promoted      time.Duration // from the kill to the Sentinel giving the replica's address
	doubleGrant   bool          // a second client got the lock while the first lease was valid
	lostAfter     time.Duration // from lifting the first client's cut to its lease's end
	lostSinceKill time.Duration // from the kill to the first lease's end
}

// errCutOff is the first client's dial error while it is cut off from the
// new primary.
var errCutOff = errors.New("chaos: cut off from the new primary")

// sentinelLagging runs the lagging case.
func sentinelLagging(t *testing.T, oracle *redis.Client, sum *chaos.Summary) (r sentinelLaggingResult) {
	resetResource(t, oracle)
	primary, replica, s := startSentinelTrio(t)
	var cut atomic.Bool
	dialA := func(ctx context.Context, network, addr string) (net.Conn, error) {
		if cut.Load() && addr == replica.Addr() {
			return nil, errCutOff
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	holder := newLocks(t, failoverClient(t, s, dialA), redislock.WithWatchdog(sentinelTTL, sentinelRenew))
	m := holder.NewMutex(lockName)
	lease, first, synced := holdLagging(t, m, oracle, primary, replica, 1, sum)

	cut.Store(true)
	primary.Kill()
	killed := time.Now()
	replica.Resume()
	sum.Faults += 2
	r.promoted = waitPromoted(t, s, replica, killed)
	t.Logf("lagging replica promoted %v after the kill", r.promoted.Round(time.Millisecond))
	newRdb := dialRedis(t, replica.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	defer cancel()
	if n, err := newRdb.Exists(ctx, failoverLockKey).Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS %s on the new primary = %d, %v; want the key gone", failoverLockKey, n, err)
	}
	if n := getCounter(t, newRdb, failoverFenceKey); n != synced {
		t.Fatalf("fence counter on the new primary = %d, want the replicated %d", n, synced)
	}

	// A second failover client finds the lock free on the new primary.
	mB := newLocks(t, failoverClient(t, s, nil), redislock.WithWatchdog(sentinelTTL, sentinelRenew)).NewMutex(lockName)
	if err := mB.TryLock(ctx); err != nil {
		t.Fatalf("second client's TryLock after the failover: %v", err)
	}
	leaseB := mB.Lease()
	sum.Acquisitions++
	second := check.Interval{Owner: 2, Start: check.Now(), Token: leaseB.Fence()}
	if err := lease.Err(); err != nil || lease.Validity() == 0 {
		t.Fatalf("the first lease ended before the second client got the lock (%v after the kill, promoted after %v): %v", time.Since(killed), r.promoted, err)
	}
	r.doubleGrant = true
	if leaseB.Fence() != lease.Fence() {
		t.Errorf("second holder's token %d, first holder's %d: want the same (one grant lost)", leaseB.Fence(), lease.Fence())
	}
	if stale, err := fencedWrite(oracle, leaseB.Fence(), "second holder"); stale || err != nil {
		t.Errorf("second holder's write: stale=%v, %v", stale, err)
	}
	if stale, err := fencedWrite(oracle, lease.Fence(), "first holder, late"); stale || err != nil {
		t.Errorf("first holder's late write with the tied token: stale=%v (want false: FencedSet accepts it), %v", stale, err)
	}

	cut.Store(false)
	lifted := time.Now()
	select {
	case <-lease.Done():
		r.lostAfter = time.Since(lifted)
		r.lostSinceKill = time.Since(killed)
	case <-time.After(sentinelRenew + slack):
		t.Fatalf("first lease not found lost %v after its client could reach the new primary", sentinelRenew+slack)
	}
	first.End = check.Now()
	if !errors.Is(lease.Err(), lock.ErrLockLost) {
		t.Errorf("first lease's Err = %v, want ErrLockLost", lease.Err())
	}
	if r.lostSinceKill > sentinelTTL+slack {
		t.Errorf("first lease found lost %v after the kill, TTL %v", r.lostSinceKill, sentinelTTL)
	}
	if err := m.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
		t.Errorf("first holder's Release = %v, want ErrLockLost", err)
	}
	if err := leaseB.Err(); err != nil {
		t.Errorf("the second lease ended: %v", err)
	}
	second.End = check.Now()
	if err := mB.Release(ctx); err != nil {
		t.Errorf("second holder's Release: %v", err)
	}
	if ov := check.Overlaps([]check.Interval{first, second}); len(ov) == 1 {
		sum.Overlaps++
	} else {
		t.Errorf("%d overlaps between the first and second holds, want 1", len(ov))
	}
	return r
}
