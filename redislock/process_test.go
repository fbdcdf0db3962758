package redislock_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/internal/proctest"
	"github.com/codomyrmex/concurrency/redislock"
)

// helperTimeout bounds a helper process's run: the helpers give up after
// 60s themselves.
const helperTimeout = 90 * time.Second

// runHelper is the main function of a helper process (see
// proctest.Helper). Helpers talk to redis-servers the parent started, on
// addresses passed in the environment.
func runHelper(mode string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rdb := redis.NewClient(&redis.Options{Addr: os.Getenv("LOCK_ADDR"), ContextTimeoutEnabled: true, ReadTimeout: time.Second, WriteTimeout: time.Second})
	defer rdb.Close()
	oracle := redis.NewClient(&redis.Options{Addr: os.Getenv("ORACLE_ADDR"), ContextTimeoutEnabled: true})
	defer oracle.Close()
	var opts []redislock.Option
	if ttl, err := time.ParseDuration(os.Getenv("LOCK_TTL")); err == nil {
		opts = append(opts, redislock.WithWatchdog(ttl, ttl/3))
	}
	c, err := redislock.New(rdb, opts...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer c.Close()
	var run func() error
	switch mode {
	case "hammer":
		run = func() error { return helperHammer(ctx, c, oracle) }
	case "holder":
		run = func() error { return helperHolder(ctx, c, oracle) }
	case "waiter":
		run = func() error { return helperWaiter(ctx, c) }
	default:
		err = fmt.Errorf("unknown helper mode %q", mode)
	}
	if err == nil {
		err = run()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		return 1
	}
	return 0
}

// helperHammer runs GOROUTINES × ITERATIONS critical sections on the lock
// "hot", counting holders and a non-atomic counter on the oracle server.
func helperHammer(ctx context.Context, c *redislock.Client, oracle *redis.Client) error {
	goroutines, _ := strconv.Atoi(os.Getenv("GOROUTINES"))
	iterations, _ := strconv.Atoi(os.Getenv("ITERATIONS"))
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for range goroutines {
		wg.Go(func() {
			m := c.NewMutex("hot")
			for range iterations {
				if err := m.Lock(ctx); err != nil {
					errs <- err
					return
				}
				err := criticalSection(ctx, oracle)
				m.Unlock()
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// criticalSection counts itself in and out of the oracle's "holders"
// (counting "overlaps" when it was not alone) and increments "counter"
// with a non-atomic read-modify-write.
func criticalSection(ctx context.Context, oracle *redis.Client) error {
	if n, err := oracle.Incr(ctx, "holders").Result(); err != nil {
		return err
	} else if n != 1 {
		oracle.Incr(ctx, "overlaps")
	}
	n, err := oracle.Get(ctx, "counter").Int()
	if err == nil || errors.Is(err, redis.Nil) {
		err = oracle.Set(ctx, "counter", n+1, 0).Err()
	}
	if derr := oracle.Decr(ctx, "holders").Err(); err == nil {
		err = derr
	}
	return err
}

// helperHolder obtains "fenced" with a short watchdog lease, prints its
// fencing token, and on the line "write" from stdin writes to the oracle's
// "resource" with it, printing whether the lease was still held and the
// write's outcome.
func helperHolder(ctx context.Context, c *redislock.Client, oracle *redis.Client) error {
	l, err := c.Obtain(ctx, "fenced", redislock.WithWatchdog(300*time.Millisecond, 100*time.Millisecond))
	if err != nil {
		return err
	}
	fmt.Printf("fence %d\n", l.Fence())
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() || in.Text() != "write" {
		return errors.New("no write command")
	}
	// A careless holder: it writes whatever its lease says.
	held := l.Validity() > 0 // by the local clock, exact even before the goroutine has run
	err = redislock.FencedSet(ctx, oracle, "resource", l.Fence(), "from the paused holder")
	fmt.Printf("held=%v stale=%v\n", held, errors.Is(err, redislock.ErrStaleFence))
	_ = l.Release(ctx)
	return nil
}

// helperWaiter obtains "queued" (a lease of LOCK_TTL with a third of it as
// the renewal interval, if set), prints "got" and the wall-clock time in
// Unix nanoseconds, and releases it at the line "release" on stdin.
func helperWaiter(ctx context.Context, c *redislock.Client) error {
	l, err := c.Obtain(ctx, "queued")
	if err != nil {
		return err
	}
	fmt.Printf("got %d\n", time.Now().UnixNano())
	in := bufio.NewScanner(os.Stdin)
	if !in.Scan() || in.Text() != "release" {
		return errors.New("no release command")
	}
	return l.Release(ctx)
}

// Processes and goroutines contend for one lock; a counter kept on a second
// redis-server counts every critical section and sees no overlap.
func TestContentionProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts helper processes")
	}
	lockSrv, rdb := real(t)
	oracleSrv, oracle := real(t)
	env := []string{"LOCK_ADDR=" + lockSrv.Addr(), "ORACLE_ADDR=" + oracleSrv.Addr(), "GOROUTINES=2", "ITERATIONS=40"}
	const procs = 3
	helpers := make([]*proctest.Proc, procs)
	for i := range helpers {
		helpers[i] = proctest.StartHelper(t, "hammer", env...)
	}
	// This process takes part too, with its own Client.
	ctx := testCtx(t, 60*time.Second)
	m := newClient(t, rdb).NewMutex("hot")
	for range 40 {
		if err := m.Lock(ctx); err != nil {
			t.Fatal(err)
		}
		err := criticalSection(ctx, oracle)
		m.Unlock()
		if err != nil {
			t.Fatal(err)
		}
	}
	for i, h := range helpers {
		if err := h.Wait(helperTimeout); err != nil {
			t.Fatalf("helper %d: %v", i, err)
		}
	}
	want := procs*2*40 + 40
	if got, _ := oracle.Get(ctx, "counter").Int(); got != want {
		t.Fatalf("counter = %d, want %d", got, want)
	}
	if n, _ := oracle.Get(ctx, "overlaps").Int(); n != 0 {
		t.Fatalf("%d overlapping critical sections", n)
	}
}

// A holder process stopped past its lease loses it; the next holder gets a
// higher fencing token, and the resumed holder's write is rejected.
func TestPausedHolderProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a helper process")
	}
	lockSrv, rdb := real(t)
	oracleSrv, oracle := real(t)
	h := proctest.StartHelper(t, "holder", "LOCK_ADDR="+lockSrv.Addr(), "ORACLE_ADDR="+oracleSrv.Addr())
	line, err := h.Expect("", helperTimeout)
	if err != nil {
		t.Fatalf("helper printed no fence: %v", err)
	}
	staleFence, err := strconv.ParseInt(strings.TrimPrefix(line, "fence "), 10, 64)
	if err != nil {
		t.Fatalf("helper said %q", line)
	}
	if err := h.Stop(); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t, 10*time.Second)
	start := time.Now()
	l, err := newClient(t, rdb).Obtain(ctx, "fenced")
	if err != nil {
		t.Fatal(err)
	}
	// Acquired when the stopped holder's key expired, not before.
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("acquired %v after stopping the holder, before its TTL", d)
	}
	if l.Fence() <= staleFence {
		t.Fatalf("fence %d after %d", l.Fence(), staleFence)
	}
	if err := redislock.FencedSet(ctx, oracle, "resource", l.Fence(), "from the new holder"); err != nil {
		t.Fatal(err)
	}
	if err := h.Cont(); err != nil {
		t.Fatal(err)
	}
	_ = h.Send("write")
	line, err = h.Expect("", helperTimeout)
	if err != nil {
		t.Fatalf("helper printed no result: %v", err)
	}
	if line != "held=false stale=true" {
		t.Fatalf("resumed holder: %s, want its lease lost and its write rejected", line)
	}
	if v := oracle.HGet(ctx, "resource", "value").Val(); v != "from the new holder" {
		t.Fatalf("resource = %q", v)
	}
	if err := h.Wait(helperTimeout); err != nil {
		t.Fatalf("helper: %v", err)
	}
	_ = l.Release(ctx)
}
