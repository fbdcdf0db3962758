//go:build linux

package chaos_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/chaos"
	"github.com/codomyrmex/concurrency/internal/check"
	"github.com/codomyrmex/concurrency/internal/proctest"
	"github.com/codomyrmex/concurrency/internal/redistest"
	"github.com/codomyrmex/concurrency/redislock"
	"github.com/redis/go-redis/v9"
)

// Leases of the fencing scenarios: short, so that faults beyond the TTL
// stay short.
const (
	shortTTL   = 600 * time.Millisecond
	shortRenew = 200 * time.Millisecond
	// slack is what a noisy 2-core VM under -race may add to a deadline.
	slack = 700 * time.Millisecond
)

func fencePath(dir string) string { return filepath.Join(dir, "fence") }

// TestRedisPausedHolderIsFenced stops (SIGSTOP) a helper process that holds
// a lease for longer than the TTL. Another holder gets the lock with a
// higher fencing token and writes; when the paused holder resumes and
// writes with its old token, as code past its last check would, both the
// FencedSet resource and a file fence reject the write, and the paused
// holder's lease is found lost.
func TestRedisPausedHolderIsFenced(t *testing.T) {
	lockSrv := redistest.Start(t)
	oracleSrv := redistest.Start(t)
	oracle := dialRedis(t, oracleSrv.Addr())
	contender := newLocks(t, dialRedis(t, lockSrv.Addr()), redislock.WithWatchdog(shortTTL, shortRenew))
	var sum chaos.Summary
	sum.Processes = 2
	var waits []time.Duration
	for round := range plan.Rounds(1) {
		dir := t.TempDir()
		ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
		oracle.Del(ctx, resourceKey)
		cancel()
		fence, err := check.OpenFileFence(fencePath(dir))
		if err != nil {
			t.Fatal(err)
		}
		defer fence.Close()

		victim := proctest.StartHelper(t, "redis-victim",
			setenv(envDir, dir), setenv(envRedis, lockSrv.Addr()), setenv(envOracle, oracleSrv.Addr()))
		line, err := victim.Expect("held fence=", 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var old int64
		fmt.Sscanf(line, "held fence=%d", &old)
		if err := victim.Stop(); err != nil {
			t.Fatal(err)
		}
		stopped := time.Now()
		sum.Faults++

		m := contender.NewMutex(lockName)
		ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
		err = m.Lock(ctx)
		cancel()
		if err != nil {
			t.Fatalf("round %d: lock while the holder is paused: %v", round, err)
		}
		waits = append(waits, time.Since(stopped))
		sum.Acquisitions += 2
		lease := m.Lease()
		if lease.Fence() <= old {
			t.Errorf("round %d: new holder's token %d is not above the paused holder's %d", round, lease.Fence(), old)
		}
		if stale, err := fencedWrite(oracle, lease.Fence(), "new holder"); stale || err != nil {
			t.Fatalf("round %d: new holder's write: stale=%v, %v", round, stale, err)
		}
		if err := fence.Write(lease.Fence()); err != nil {
			t.Fatalf("round %d: new holder's file-fenced write: %v", round, err)
		}

		victim.Cont()
		if err := victim.Send("write"); err != nil {
			t.Fatal(err)
		}
		line, err = victim.Expect("wrote ", 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var stale, fileStale, lost bool
		if _, err := fmt.Sscanf(line, "wrote stale=%t file-stale=%t lost=%t", &stale, &fileStale, &lost); err != nil {
			t.Fatalf("round %d: %q: %v", round, line, err)
		}
		if !stale || !fileStale {
			sum.Overlaps++
			t.Errorf("round %d: the paused holder's write was accepted: %s", round, line)
		}
		if !lost {
			t.Errorf("round %d: the paused holder's lease was not found lost: %s", round, line)
		}
		if err := lease.Err(); err != nil {
			t.Errorf("round %d: the new holder's lease ended: %v", round, err)
		}
		m.Unlock()
		victim.CloseStdin()
		if err := victim.Wait(30 * time.Second); err != nil {
			t.Fatal(err)
		}
		if t.Failed() {
			break
		}
	}
	sum.Note(fmt.Sprintf("paused %s beyond a %v TTL, next holder waited %v", chaos.Count(int64(len(waits)), "holder"), shortTTL, durations(waits)))
	sum.Note("every stale write rejected by FencedSet and by the file fence, every paused lease found lost")
	t.Log(sum)
}

// durations renders the minimum and maximum of ds, to the millisecond.
func durations(ds []time.Duration) string {
	if len(ds) == 0 {
		return "-"
	}
	lo, hi := slices.Min(ds).Round(time.Millisecond), slices.Max(ds).Round(time.Millisecond)
	if lo == hi {
		return lo.String()
	}
	return lo.String() + "–" + hi.String()
}

// redisVictim is the "redis-victim" helper: it takes the lock with a short
// lease, writes the resource with its token, prints "held fence=N", and at
// the line "write" on its standard input writes again with the same token
// without checking its lease, then prints whether the write was stale for
// FencedSet and for the file fence, and whether the lease ended.
func redisVictim() error {
	dir := os.Getenv(envDir)
	rdb := redis.NewClient(redisOptions(os.Getenv(envRedis)))
	defer rdb.Close()
	oracle := redis.NewClient(redisOptions(os.Getenv(envOracle)))
	defer oracle.Close()
	fence, err := check.OpenFileFence(fencePath(dir))
	if err != nil {
		return err
	}
	defer fence.Close()
	c, err := redislock.New(rdb, redislock.WithWatchdog(shortTTL, shortRenew))
	if err != nil {
		return err
	}
	defer c.Close()
	m := c.NewMutex(lockName)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := m.Lock(ctx); err != nil {
		return err
	}
	lease := m.Lease()
	if stale, err := fencedWrite(oracle, lease.Fence(), "paused holder, first"); stale || err != nil {
		return fmt.Errorf("first write: stale=%v, %v", stale, err)
	}
	if err := fence.Write(lease.Fence()); err != nil {
		return err
	}
	fmt.Printf("held fence=%d\n", lease.Fence())

	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() || in.Text() != "write" {
		return fmt.Errorf("want the line write on stdin")
	}
	// Past its last check before the pause, the holder writes regardless.
	stale, err := fencedWrite(oracle, lease.Fence(), "paused holder, stale")
	if err != nil {
		return err
	}
	ferr := fence.Write(lease.Fence())
	fileStale := errors.Is(ferr, check.ErrStaleToken)
	if ferr != nil && !fileStale {
		return ferr
	}
	lost := false
	select {
	case <-lease.Done():
		lost = true
	case <-time.After(5 * time.Second):
	}
	fmt.Printf("wrote stale=%t file-stale=%t lost=%t\n", stale, fileStale, lost)
	m.Unlock()
	return nil
}

// TestRedisKilledHolder kills (SIGKILL) a helper process that holds a
// lease: nobody releases it, so the next holder gets the lock when the key
// expires, within the TTL (plus slack), with a higher fencing token.
func TestRedisKilledHolder(t *testing.T) {
	lockSrv := redistest.Start(t)
	oracleSrv := redistest.Start(t)
	contender := newLocks(t, dialRedis(t, lockSrv.Addr()), redislock.WithWatchdog(shortTTL, shortRenew))
	var sum chaos.Summary
	sum.Processes = 2
	var waits []time.Duration
	for round := range plan.Rounds(1) {
		victim := proctest.StartHelper(t, "redis-victim",
			setenv(envDir, t.TempDir()), setenv(envRedis, lockSrv.Addr()), setenv(envOracle, oracleSrv.Addr()))
		line, err := victim.Expect("held fence=", 30*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		var old int64
		fmt.Sscanf(line, "held fence=%d", &old)
		killed := time.Now()
		victim.Kill()
		sum.Faults++
		m := contender.NewMutex(lockName)
		lease := lockFor(t, m)
		waits = append(waits, time.Since(killed))
		sum.Acquisitions += 2
		if time.Since(killed) > shortTTL+slack {
			t.Errorf("round %d: lock taken %v after its holder was killed, TTL %v", round, time.Since(killed), shortTTL)
		}
		if lease.Fence() <= old {
			t.Errorf("round %d: token %d not above the killed holder's %d", round, lease.Fence(), old)
		}
		m.Unlock()
		if t.Failed() {
			break
		}
	}
	sum.Note(fmt.Sprintf("next holder got the lock %s after the kill (TTL %v)", durations(waits), shortTTL))
	t.Log(sum)
}
