//go:build linux

package chaos_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"slices"
	"strconv"
	"strings"
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

// Leases of the failover scenarios: a TTL long enough that the first
// holder cannot notice the failover before the test points it at the new
// primary.
const (
	failoverTTL   = 2 * time.Second
	failoverRenew = 300 * time.Millisecond
)

// The Redis keys of the lock called lockName under the default prefix (see
// redislock.WithPrefix).
const (
	failoverLockKey  = redislock.DefaultPrefix + ":{" + lockName + "}"
	failoverFenceKey = failoverLockKey + ":fence"
)

// startReplicatedPair starts a primary and a replica of it, linked and
// synced.
func startReplicatedPair(t *testing.T) (primary, replica *redistest.Server) {
	t.Helper()
	primary = redistest.Start(t, "--repl-diskless-sync-delay", "0")
	return primary, redistest.StartReplica(t, primary)
}

// dialFollowing returns a client that dials whatever address addr holds
// when it needs a connection, as a client behind a virtual IP or a
// service name would after a failover. It is closed at the end of the test.
func dialFollowing(t *testing.T, addr *atomic.Pointer[string]) *redis.Client {
	opts := redisOptions(*addr.Load())
	opts.Dialer = func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, *addr.Load())
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// replicasAcked writes a marker on one connection of rdb, then sends
// WAIT 1 timeout on the same connection: it returns how many replicas
// acknowledged every write the server had applied before the marker.
func replicasAcked(t *testing.T, rdb *redis.Client, timeout time.Duration) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout+5*time.Second)
	defer cancel()
	cn := rdb.Conn()
	defer cn.Close()
	if err := cn.Set(ctx, "chaos:marker", time.Now().UnixNano(), 0).Err(); err != nil {
		t.Fatalf("marker write: %v", err)
	}
	n, err := cn.Wait(ctx, 1, timeout).Result()
	if err != nil {
		t.Fatalf("WAIT 1 %d: %v", timeout.Milliseconds(), err)
	}
	return n
}

// syncWait bounds the WAIT that confirms a grant reached the replica; WAIT
// returns as soon as the replica acknowledges.
const syncWait = 5 * time.Second

// replicationInfo renders INFO replication of servers, for failures.
func replicationInfo(servers ...*redistest.Server) string {
	var b strings.Builder
	for _, s := range servers {
		info, err := s.Command("INFO", "replication")
		fmt.Fprintf(&b, "%s: %q %v; ", s.Addr(), info, err)
	}
	return b.String()
}

// getCounter reads an integer key, 0 if it is missing.
func getCounter(t *testing.T, rdb *redis.Client, key string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	defer cancel()
	n, err := rdb.Get(ctx, key).Int64()
	if err != nil && !errors.Is(err, redis.Nil) {
		t.Fatalf("GET %s: %v", key, err)
	}
	return n
}

// resetResource deletes the fenced resource on the oracle server.
func resetResource(t *testing.T, oracle *redis.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	defer cancel()
	if err := oracle.Del(ctx, resourceKey).Err(); err != nil {
		t.Fatal(err)
	}
}

// TestRedisFailoverLosesLock demonstrates what the docs claim of
// replicas, both ways, with a manual failover (SIGKILL of the primary,
// REPLICAOF NO ONE on the replica, clients pointed at it).
//
// Replicated: a lease whose grant reached the replica (WAIT 1 returns 1,
// and the replica holds the key and the counter) survives the failover:
// the key is on the new primary, the lease renews there, and the next
// grant's token is higher.
//
// Lagging (the recipe of shared/notes/reliability.md): the replica is
// stopped and its link cut, so the grant never reaches it (WAIT 1 200
// returns 0). After the failover the key is gone: a second client gets the
// lock while the first lease still believes it holds it (two holders, the
// documented hazard), and the first lease is found lost at its first
// renewal on the new primary. The counter on the new primary is the
// replica's, so the new grant's token regresses. With one lost grant
// (the recipe as written) the token ties the old holder's and FencedSet
// accepts both holders' writes; with three lost grants it is lower, and
// FencedSet rejects the new holder's writes while accepting the old
// holder's late write.
func TestRedisFailoverLosesLock(t *testing.T) {
	oracle := dialRedis(t, redistest.Start(t).Addr())
	var sum chaos.Summary
	sum.Processes = 1
	var lostAfter []time.Duration
	var survived, doubleGrants, ties, lower int64
	for round := range plan.Rounds(1) {
		t.Run(fmt.Sprintf("round-%d/replicated", round), func(t *testing.T) {
			if failoverReplicated(t, oracle, &sum) {
				survived++
			}
		})
		for _, lost := range []int{1, 3} {
			t.Run(fmt.Sprintf("round-%d/lagging-%d", round, lost), func(t *testing.T) {
				r := failoverLagging(t, oracle, lost, &sum)
				if r.doubleGrant {
					doubleGrants++
				}
				if r.lostAfter > 0 {
					lostAfter = append(lostAfter, r.lostAfter)
				}
				switch {
				case r.regressed && lost == 1:
					ties++
				case r.regressed:
					lower++
				}
			})
		}
		if t.Failed() {
			break
		}
	}
	sum.Note(chaos.Count(survived, "replicated lease") + " survived a failover (key on the new primary, renewed, next token higher)")
	sum.Note(chaos.Count(doubleGrants, "double grant") + " after a failover to a lagging replica (the documented hazard; they are the overlaps counted)")
	sum.Note(fmt.Sprintf("first leases found lost %s after being pointed at the new primary (renewal every %v)", durations(lostAfter), failoverRenew))
	sum.Note(fmt.Sprintf("%s with 1 lost grant: FencedSet accepted both holders' writes; %s with 3 lost grants: FencedSet rejected the new holder's write and accepted the old holder's late write",
		chaos.Count(ties, "token tie"), chaos.Count(lower, "lower token")))
	t.Log(sum)
}

// failoverReplicated runs the replicated case and reports whether the
// lease survived.
func failoverReplicated(t *testing.T, oracle *redis.Client, sum *chaos.Summary) bool {
	resetResource(t, oracle)
	primary, replica := startReplicatedPair(t)
	var addr atomic.Pointer[string]
	addr.Store(new(primary.Addr()))
	holder := newLocks(t, dialFollowing(t, &addr), redislock.WithWatchdog(failoverTTL, failoverRenew))
	m := holder.NewMutex(lockName)
	lease, before, token := holdReplicated(t, m, oracle, primary, replica, sum)
	replicaRdb := dialRedis(t, replica.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	defer cancel()

	primary.Kill()
	replica.Promote()
	addr.Store(new(replica.Addr()))
	sum.Faults += 2

	if got, err := replicaRdb.Get(ctx, failoverLockKey).Result(); err != nil || got != token {
		t.Errorf("GET %s on the new primary = %q, %v; want %q", failoverLockKey, got, err, token)
	}
	if n := getCounter(t, replicaRdb, failoverFenceKey); n != lease.Fence() {
		t.Errorf("fence counter on the new primary = %d, want %d (no regression)", n, lease.Fence())
	}
	time.Sleep(2 * failoverRenew) // renewals on the new primary
	if err := lease.Err(); err != nil {
		t.Errorf("a replicated lease was lost in the failover: %v", err)
	}
	if err := lease.Extend(ctx); err != nil {
		t.Errorf("Extend on the new primary: %v", err)
	}
	if pttl, err := replicaRdb.PTTL(ctx, failoverLockKey).Result(); err != nil || pttl <= 0 {
		t.Errorf("PTTL %s on the new primary = %v, %v", failoverLockKey, pttl, err)
	}
	before.End = check.Now()
	if err := m.Release(ctx); err != nil {
		t.Errorf("Release on the new primary: %v (the lease was not held throughout)", err)
	}

	next := lockFor(t, newLocks(t, replicaRdb, redislock.WithWatchdog(failoverTTL, failoverRenew)).NewMutex(lockName))
	checkNextHolder(t, next, before, oracle, sum)
	replica.Kill()
	return !t.Failed()
}

// laggingResult is what one lagging-replica failover showed.
type laggingResult struct {
	doubleGrant bool          // a second client got the lock while the first lease was unaware
	regressed   bool          // the new grant's token was not above the first holder's
	lostAfter   time.Duration // how long the first lease took to find out, once pointed at the new primary
}

// failoverLagging runs the lagging case: lost grants are made on the
// primary after the replica's link is cut, the last of which is the lease
// that the failover loses.
func failoverLagging(t *testing.T, oracle *redis.Client, lost int, sum *chaos.Summary) (r laggingResult) {
	resetResource(t, oracle)
	primary, replica := startReplicatedPair(t)
	var addr atomic.Pointer[string]
	addr.Store(new(primary.Addr()))
	holder := newLocks(t, dialFollowing(t, &addr), redislock.WithWatchdog(failoverTTL, failoverRenew))
	m := holder.NewMutex(lockName)
	lease, first, synced := holdLagging(t, m, oracle, primary, replica, lost, sum)

	primary.Kill()
	replica.Resume()
	replica.Promote()
	sum.Faults += 2
	newRdb := dialRedis(t, replica.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	defer cancel()
	if n, err := newRdb.Exists(ctx, failoverLockKey).Result(); err != nil || n != 0 {
		t.Fatalf("EXISTS %s on the new primary = %d, %v; want the key gone", failoverLockKey, n, err)
	}
	if n := getCounter(t, newRdb, failoverFenceKey); n != synced {
		t.Fatalf("fence counter on the new primary = %d, want the replicated %d", n, synced)
	}

	// A second client, already talking to the new primary, finds the lock
	// free; the first lease's client still points at the dead primary, so
	// its renewals fail and it goes on believing within its validity.
	mB := newLocks(t, newRdb, redislock.WithWatchdog(failoverTTL, failoverRenew)).NewMutex(lockName)
	if err := mB.TryLock(ctx); err != nil {
		t.Fatalf("second client's TryLock after the failover: %v", err)
	}
	leaseB := mB.Lease()
	sum.Acquisitions++
	second := check.Interval{Owner: 2, Start: check.Now(), Token: leaseB.Fence()}
	if err := lease.Err(); err != nil || lease.Validity() == 0 {
		t.Fatalf("the first lease noticed the failover before being pointed at the new primary: %v", err)
	}
	r.doubleGrant = true
	if leaseB.Fence() != synced+1 {
		t.Errorf("second holder's token %d, want %d", leaseB.Fence(), synced+1)
	}
	if reg := check.TokenRegressions([]check.Interval{first, second}); len(reg) == 1 {
		r.regressed = true
	} else {
		t.Errorf("token %d after the failover, %d before: want a regression", leaseB.Fence(), lease.Fence())
	}

	// Both holders write, the new one first, then the old one, late.
	staleB, err := fencedWrite(oracle, leaseB.Fence(), "second holder")
	if err != nil {
		t.Fatal(err)
	}
	staleA, err := fencedWrite(oracle, lease.Fence(), "first holder, late")
	if err != nil {
		t.Fatal(err)
	}
	if wantB := lost > 1; staleB != wantB || staleA {
		t.Errorf("tokens %d (new holder), %d (old): new holder's write stale=%v (want %v), old holder's late write stale=%v (want false)",
			leaseB.Fence(), lease.Fence(), staleB, wantB, staleA)
	}

	addr.Store(new(replica.Addr()))
	pointed := time.Now()
	select {
	case <-lease.Done():
		r.lostAfter = time.Since(pointed)
	case <-time.After(failoverRenew + slack):
		t.Fatalf("first lease not found lost %v after being pointed at the new primary", failoverRenew+slack)
	}
	first.End = check.Now()
	if !errors.Is(lease.Err(), lock.ErrLockLost) {
		t.Errorf("first lease's Err = %v, want ErrLockLost", lease.Err())
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
	replica.Kill()
	return r
}

// Filler of the eviction scenario.
const (
	fillerSize  = 16 << 10 // bytes per key: a 2mb server holds a few dozen
	fillerBatch = 8        // keys per pipeline
	maxFillers  = 20000    // keys per round, at most
)

// TestRedisEvictionLosesLock fills a server that has maxmemory 2mb and the
// volatile-lru policy (which evicts keys with a TTL, as every lock key has)
// with keys that expire in an hour, while a lease with a watchdog is held
// (from a random point between two renewals), until the lock key is evicted (a keyspace notification says when). The
// lease must be found lost, with ErrLockLost, at its next renewal: within
// one renewal interval (plus slack) of the eviction. The fencing counter
// has no TTL, so volatile-lru never evicts it, and the next grant's token
// is higher.
func TestRedisEvictionLosesLock(t *testing.T) {
	srv := redistest.Start(t, "--maxmemory", "2mb", "--maxmemory-policy", "volatile-lru", "--notify-keyspace-events", "Ke")
	rdb := dialRedis(t, srv.Addr())
	locks := newLocks(t, rdb, redislock.WithWatchdog(serverTTL, serverRenew))
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	sub := rdb.Subscribe(ctx, "__keyspace@0__:"+failoverLockKey)
	defer sub.Close()
	_, err := sub.Receive(ctx) // the subscription is in place
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	events := sub.Channel()
	filler := strings.Repeat("x", fillerSize)
	var sum chaos.Summary
	sum.Processes = 1
	var lostAfter []time.Duration
	var fillers []int64
	for round := range plan.Rounds(3) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := rdb.FlushAll(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		m := locks.NewMutex(lockName)
		for range 2 { // grants before, so that the token is past 1
			lockFor(t, m)
			m.Unlock()
		}
		lease := lockFor(t, m)
		sum.Acquisitions += 3

		// Fill from a random point between two renewals.
		time.Sleep(rand.N(serverRenew))
		var evicted time.Time
		n := int64(0)
	fill:
		for n < maxFillers {
			if _, err := rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i := range fillerBatch {
					p.Set(ctx, fmt.Sprintf("chaos:filler:%d", n+int64(i)), filler, time.Hour)
				}
				return nil
			}); err != nil {
				t.Fatalf("round %d: filler: %v", round, err)
			}
			n += fillerBatch
			select {
			case msg := <-events:
				if msg.Payload == "evicted" {
					evicted = time.Now()
					break fill
				}
			default:
			}
		}
		if evicted.IsZero() {
			t.Fatalf("round %d: lock key not evicted by %d filler keys", round, n)
		}
		sum.Faults++
		fillers = append(fillers, n)
		select {
		case <-lease.Done():
			lostAfter = append(lostAfter, time.Since(evicted))
		case <-time.After(serverRenew + slack):
			t.Fatalf("round %d: lease not found lost %v after the eviction", round, serverRenew+slack)
		}
		if !errors.Is(lease.Err(), lock.ErrLockLost) {
			t.Errorf("round %d: Err = %v, want ErrLockLost", round, lease.Err())
		}
		if err := m.Release(ctx); !errors.Is(err, lock.ErrLockLost) {
			t.Errorf("round %d: Release = %v, want ErrLockLost", round, err)
		}
		next := lockFor(t, m)
		sum.Acquisitions++
		if next.Fence() <= lease.Fence() {
			t.Errorf("round %d: token %d after the eviction, %d before", round, next.Fence(), lease.Fence())
		}
		m.Unlock()
		if t.Failed() {
			break
		}
	}
	sum.Note(fmt.Sprintf("lock key evicted after %s filler keys of %d KiB", int64s(fillers), fillerSize>>10))
	sum.Note(fmt.Sprintf("leases found lost %s after the eviction (renewal every %v), next token higher", durations(lostAfter), serverRenew))
	t.Log(sum)
}

// int64s renders the minimum and maximum of ns.
func int64s(ns []int64) string {
	if len(ns) == 0 {
		return "-"
	}
	lo, hi := slices.Min(ns), slices.Max(ns)
	if lo == hi {
		return strconv.FormatInt(lo, 10)
	}
	return strconv.FormatInt(lo, 10) + "–" + strconv.FormatInt(hi, 10)
}

// Leases and stalls of the stall scenarios.
const (
	stallTTL   = time.Second
	stallRenew = 250 * time.Millisecond
	shortStall = 300 * time.Millisecond // below the TTL
	longStall  = 1500 * time.Millisecond
	// contenderDeadline bounds a contender's Lock during a short stall.
	contenderDeadline = 150 * time.Millisecond
)

// A serverStall stops the server's event loop, or its clients, for a
// while.
type serverStall struct {
	name string
	// start begins a stall of d and returns a channel closed when it is
	// over.
	start func(t *testing.T, srv *redistest.Server, d time.Duration) <-chan struct{}
}

var serverStalls = []serverStall{
	{"DEBUG SLEEP", func(t *testing.T, srv *redistest.Server, d time.Duration) <-chan struct{} {
		over := make(chan struct{})
		secs := strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
		go func() {
			defer close(over)
			if _, err := srv.Command("DEBUG", "SLEEP", secs); err != nil {
				t.Errorf("DEBUG SLEEP %s: %v", secs, err)
			}
		}()
		t.Cleanup(func() { <-over })      // no t.Errorf after the test
		time.Sleep(20 * time.Millisecond) // the command reaches the server
		return over
	}},
	{"CLIENT PAUSE ALL", func(t *testing.T, srv *redistest.Server, d time.Duration) <-chan struct{} {
		start := time.Now()
		if _, err := srv.Command("CLIENT", "PAUSE", strconv.FormatInt(d.Milliseconds(), 10), "ALL"); err != nil {
			t.Fatalf("CLIENT PAUSE: %v", err)
		}
		over := make(chan struct{})
		time.AfterFunc(time.Until(start.Add(d)), func() { close(over) })
		return over
	}},
}

// TestRedisStalls stalls the lock's server with DEBUG SLEEP and with
// CLIENT PAUSE ALL. A stall shorter than the TTL keeps the lease (Extend
// succeeds after it) while a contender's Lock returns by its deadline with
// context.DeadlineExceeded. A stall longer than the TTL: the lease is
// found lost by its local validity during the stall, and after the stall
// a second client gets the lock with a higher token, without overlap.
func TestRedisStalls(t *testing.T) {
	srv := redistest.Start(t, "--enable-debug-command", "local")
	holder := newLocks(t, dialRedis(t, srv.Addr()), redislock.WithWatchdog(stallTTL, stallRenew))
	contender := newLocks(t, dialRedis(t, srv.Addr()), redislock.WithWatchdog(stallTTL, stallRenew))
	var sum chaos.Summary
	sum.Processes = 1
	var waited, lostAfter, nextAfter []time.Duration
	var holds []check.Interval
	kept := int64(0)
	for round := range plan.Rounds(1) {
		for _, s := range serverStalls {
			// Shorter than the TTL.
			m := holder.NewMutex(lockName)
			lease := lockFor(t, m)
			over := s.start(t, srv, shortStall)
			sum.Faults++
			began := time.Now()
			ctx, cancel := context.WithTimeout(context.Background(), contenderDeadline)
			err := contender.NewMutex(lockName).Lock(ctx)
			cancel()
			d := time.Since(began)
			waited = append(waited, d)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("round %d, %s: contender's Lock = %v, want DeadlineExceeded", round, s.name, err)
			}
			if d > contenderDeadline+slack {
				t.Errorf("round %d, %s: Lock with a %v deadline returned after %v", round, s.name, contenderDeadline, d)
			}
			<-over
			ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
			err = lease.Extend(ctx)
			cancel()
			if err != nil || lease.Err() != nil {
				t.Errorf("round %d, %s: lease across a %v stall, TTL %v: Extend = %v, Err = %v", round, s.name, shortStall, stallTTL, err, lease.Err())
			} else {
				kept++
			}
			ctx, cancel = context.WithTimeout(context.Background(), 2*time.Second)
			if err := m.Release(ctx); err != nil {
				t.Errorf("round %d, %s: Release after a short stall: %v", round, s.name, err)
			}
			cancel()
			sum.Acquisitions++

			// Longer than the TTL.
			lease = lockFor(t, m)
			held := check.Interval{Owner: 1, Start: check.Now(), Token: lease.Fence()}
			over = s.start(t, srv, longStall)
			sum.Faults++
			began = time.Now()
			select {
			case <-lease.Done():
				lostAfter = append(lostAfter, time.Since(began))
			case <-time.After(stallTTL + slack):
				t.Fatalf("round %d, %s: lease not found lost %v into a %v stall", round, s.name, stallTTL+slack, longStall)
			}
			held.End = check.Now()
			if !errors.Is(lease.Err(), lock.ErrLockLost) {
				t.Errorf("round %d, %s: Err = %v, want ErrLockLost", round, s.name, lease.Err())
			}
			select {
			case <-over:
				t.Errorf("round %d, %s: lease found lost only after the stall, %v in", round, s.name, time.Since(began))
			default: // by its validity, while the server could not answer
			}
			m.Unlock()
			next := contender.NewMutex(lockName)
			lockFor(t, next)
			nextAfter = append(nextAfter, time.Since(began))
			after := check.Interval{Owner: 2, Start: check.Now(), Token: next.Lease().Fence()}
			if after.Token <= held.Token {
				t.Errorf("round %d, %s: token %d after a stall, %d before", round, s.name, after.Token, held.Token)
			}
			// The server answers nobody during the stall (began is at
			// most 20ms after it started).
			if d := time.Since(began); d < longStall-50*time.Millisecond {
				t.Errorf("round %d, %s: the second client got the lock %v into a %v stall", round, s.name, d, longStall)
			}
			after.End = check.Now()
			next.Unlock()
			holds = append(holds, held, after)
			sum.Acquisitions += 2
			<-over
		}
		if t.Failed() {
			break
		}
	}
	if ov := check.Overlaps(holds); ov != nil {
		sum.Overlaps = len(ov)
		t.Errorf("%d overlapping holds, first: %v", len(ov), ov[0])
	}
	if reg := check.TokenRegressions(holds); reg != nil {
		t.Errorf("%d token regressions, first: %v", len(reg), reg[0])
	}
	sum.Note(fmt.Sprintf("%s kept across %v stalls (TTL %v), contender's Lock with a %v deadline returned after %s with DeadlineExceeded",
		chaos.Count(kept, "lease"), shortStall, stallTTL, contenderDeadline, durations(waited)))
	sum.Note(fmt.Sprintf("leases found lost by their validity %s into %v stalls; next holder got a higher token %s after the stall began",
		durations(lostAfter), longStall, durations(nextAfter)))
	t.Log(sum)
}

// holdReplicated takes the lock three times through m (so that the token is
// past 1), writes the resource with the last lease's token, and checks that
// the grant reached the replica: WAIT 1, and the same key and fence counter
// there. It returns the lease, its hold so far and its token.
func holdReplicated(t *testing.T, m *redislock.Mutex, oracle *redis.Client, primary, replica *redistest.Server, sum *chaos.Summary) (*redislock.Lease, check.Interval, string) {
	t.Helper()
	for range 2 {
		lockFor(t, m)
		m.Unlock()
	}
	lease := lockFor(t, m)
	sum.Acquisitions += 3
	before := check.Interval{Owner: 1, Start: check.Now(), Token: lease.Fence()}
	if stale, err := fencedWrite(oracle, lease.Fence(), "first holder"); stale || err != nil {
		t.Fatalf("write before the failover: stale=%v, %v", stale, err)
	}
	primaryRdb := dialRedis(t, primary.Addr())
	if n := replicasAcked(t, primaryRdb, syncWait); n != 1 {
		t.Fatalf("WAIT 1 %d = %d, want 1; %s", syncWait.Milliseconds(), n, replicationInfo(primary, replica))
	}
	replicaRdb := dialRedis(t, replica.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	defer cancel()
	token, err := primaryRdb.Get(ctx, failoverLockKey).Result()
	if err != nil {
		t.Fatalf("GET %s on the primary: %v", failoverLockKey, err)
	}
	if got, err := replicaRdb.Get(ctx, failoverLockKey).Result(); err != nil || got != token {
		t.Fatalf("GET %s on the replica = %q, %v; want the primary's %q", failoverLockKey, got, err, token)
	}
	if n := getCounter(t, replicaRdb, failoverFenceKey); n != lease.Fence() {
		t.Fatalf("fence counter on the replica = %d, want %d", n, lease.Fence())
	}
	return lease, before, token
}

// checkNextHolder checks the grant after a failover that kept the lock:
// its token is above the one held before, its fenced write is accepted,
// its hold does not overlap the earlier one; then it releases it.
func checkNextHolder(t *testing.T, next *redislock.Lease, before check.Interval, oracle *redis.Client, sum *chaos.Summary) {
	t.Helper()
	sum.Acquisitions++
	after := check.Interval{Owner: 2, Start: check.Now(), Token: next.Fence()}
	if reg := check.TokenRegressions([]check.Interval{before, after}); reg != nil {
		t.Errorf("token regressed after a failover to a synced replica: %v", reg[0])
	}
	if stale, err := fencedWrite(oracle, next.Fence(), "next holder"); stale || err != nil {
		t.Errorf("next holder's write: stale=%v, %v", stale, err)
	}
	after.End = check.Now()
	if ov := check.Overlaps([]check.Interval{before, after}); ov != nil {
		sum.Overlaps += len(ov)
		t.Errorf("overlap in the replicated case: %v", ov[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	defer cancel()
	if err := next.Release(ctx); err != nil {
		t.Error(err)
	}
}

// holdLagging takes the lock twice through m with the replica in sync, then
// stops the replica and cuts its link (SIGSTOP, CLIENT KILL TYPE replica),
// and takes it lost more times, the last of which it returns with its hold
// so far and the fence counter the replica last saw. It checks that the
// grants did not reach the replica (WAIT 1 200 returns 0) and writes the
// resource with the lease's token.
func holdLagging(t *testing.T, m *redislock.Mutex, oracle *redis.Client, primary, replica *redistest.Server, lost int, sum *chaos.Summary) (*redislock.Lease, check.Interval, int64) {
	t.Helper()
	for range 2 { // grants that reach the replica
		lockFor(t, m)
		m.Unlock()
	}
	primaryRdb := dialRedis(t, primary.Addr())
	if n := replicasAcked(t, primaryRdb, syncWait); n != 1 {
		t.Fatalf("WAIT 1 %d = %d before the fault, want 1; %s", syncWait.Milliseconds(), n, replicationInfo(primary, replica))
	}
	synced := getCounter(t, primaryRdb, failoverFenceKey)

	replica.Pause()
	if _, err := primary.Command("CLIENT", "KILL", "TYPE", "replica"); err != nil {
		t.Fatalf("CLIENT KILL TYPE replica: %v", err)
	}
	sum.Faults += 2
	for range lost - 1 { // grants the replica never sees
		lockFor(t, m)
		m.Unlock()
	}
	lease := lockFor(t, m)
	sum.Acquisitions += 2 + int64(lost)
	first := check.Interval{Owner: 1, Start: check.Now(), Token: lease.Fence()}
	if lease.Fence() != synced+int64(lost) {
		t.Fatalf("token %d, want %d (%d synced + %d)", lease.Fence(), synced+int64(lost), synced, lost)
	}
	if n := replicasAcked(t, primaryRdb, 200*time.Millisecond); n != 0 {
		t.Fatalf("WAIT 1 200 = %d with the replica stopped and cut off, want 0", n)
	}
	if stale, err := fencedWrite(oracle, lease.Fence(), "first holder"); stale || err != nil {
		t.Fatalf("first holder's write before the failover: stale=%v, %v", stale, err)
	}
	return lease, first, synced
}
