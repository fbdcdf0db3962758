package redislock_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
)

func TestObtainRelease(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := testCtx(t, 10*time.Second)
		c := newClient(t, rdb)
		l, err := c.Obtain(ctx, "job")
		if err != nil {
			t.Fatalf("Obtain: %v", err)
		}
		if l.Err() != nil || l.Name() != "job" {
			t.Fatalf("Err() = %v, Name() = %q", l.Err(), l.Name())
		}
		if v := l.Validity(); v <= 29*time.Second || v > 30*time.Second {
			t.Fatalf("Validity() = %v, want just under 30s", v)
		}
		if pttl := rdb.PTTL(ctx, "lock:{job}").Val(); pttl <= 29*time.Second {
			t.Fatalf("PTTL = %v, want about 30s", pttl)
		}
		if l.Fence() != 1 {
			t.Fatalf("first Fence() = %d, want 1", l.Fence())
		}
		if err := l.Release(ctx); err != nil {
			t.Fatalf("Release: %v", err)
		}
		select {
		case <-l.Done():
		default:
			t.Fatal("Done not closed after Release")
		}
		if !errors.Is(l.Err(), lock.ErrNotHeld) || l.Validity() != 0 {
			t.Fatalf("after Release: Err() = %v, Validity() = %v", l.Err(), l.Validity())
		}
		if n := rdb.Exists(ctx, "lock:{job}").Val(); n != 0 {
			t.Fatal("key left after Release")
		}
		if err := l.Release(ctx); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("second Release = %v, want ErrNotHeld", err)
		}
		if err := l.Extend(ctx); !errors.Is(err, lock.ErrNotHeld) {
			t.Fatalf("Extend after Release = %v, want ErrNotHeld", err)
		}

		l2, err := c.Obtain(ctx, "job")
		if err != nil {
			t.Fatalf("second Obtain: %v", err)
		}
		if l2.Fence() != 2 {
			t.Fatalf("second Fence() = %d, want 2", l2.Fence())
		}
		if err := l2.Release(ctx); err != nil {
			t.Fatalf("Release: %v", err)
		}
	})
}

func TestDo(t *testing.T) {
	_, rdb := mini(t)
	c := newClient(t, rdb)
	ctx := testCtx(t, 10*time.Second)
	ran := false
	err := c.Do(ctx, "do", func(ctx context.Context, l *redislock.Lease) error {
		ran = rdb.Exists(ctx, "lock:{do}").Val() == 1 && l.Fence() == 1
		return nil
	})
	if err != nil || !ran {
		t.Fatalf("Do = %v, ran with the lock held: %v", err, ran)
	}
	if rdb.Exists(ctx, "lock:{do}").Val() != 0 {
		t.Fatal("Do left the key")
	}
	// fn's error is returned; a lease lost during fn is reported too.
	boom := errors.New("boom")
	err = c.Do(ctx, "do", func(ctx context.Context, l *redislock.Lease) error {
		rdb.Del(ctx, "lock:{do}")
		<-ctx.Done() // the watchdog sees the loss
		return boom
	}, redislock.WithWatchdog(300*time.Millisecond, 50*time.Millisecond))
	if !errors.Is(err, boom) || !errors.Is(err, lock.ErrLockLost) {
		t.Fatalf("Do = %v, want fn's error and ErrLockLost", err)
	}
}

// An uncontended acquire and release take two EVALSHA round trips and
// eight commands in all (SET NX GET, EXISTS of the queue and INCR; GET,
// LPOP of the queue and DEL inside the script): nothing is published when
// nobody waits.
func TestUncontendedCommands(t *testing.T) {
	_, rdb := real(t)
	c := newClient(t, rdb)
	ctx := testCtx(t, 5*time.Second)
	warm, err := c.Obtain(ctx, "cmds") // loads the scripts
	if err != nil {
		t.Fatal(err)
	}
	if err := warm.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := rdb.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	m := c.NewMutex("cmds")
	if err := m.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	m.Unlock()
	info := rdb.Info(ctx, "commandstats").Val()
	for _, want := range []string{"cmdstat_evalsha:calls=2,", "cmdstat_set:calls=1,", "cmdstat_exists:calls=1,", "cmdstat_incr:calls=1,", "cmdstat_get:calls=1,", "cmdstat_lpop:calls=1,", "cmdstat_del:calls=1,"} {
		if !strings.Contains(info, want) {
			t.Errorf("commandstats lack %q:\n%s", want, info)
		}
	}
	if strings.Contains(info, "cmdstat_publish") {
		t.Errorf("an uncontended release published:\n%s", info)
	}
}

// As the package documentation says: a lock leaves only its fencing
// counter behind, which never expires, and deleting it when the name is
// retired removes every trace (the sequence starts again at 1).
func TestFenceKeyIsPermanent(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		ctx := testCtx(t, 5*time.Second)
		c := newClient(t, rdb, redislock.WithPrefix("app"))
		for range 2 {
			l, err := c.Obtain(ctx, "invoice:42")
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Release(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if keys := rdb.Keys(ctx, "*").Val(); len(keys) != 1 || keys[0] != "app:{invoice:42}:fence" {
			t.Fatalf("keys left after release: %q, want only the fencing counter", keys)
		}
		if ttl := rdb.PTTL(ctx, "app:{invoice:42}:fence").Val(); ttl != -1 {
			t.Fatalf("fencing counter's PTTL = %v, want none", ttl)
		}
		rdb.Del(ctx, "app:{invoice:42}:fence") // the name is retired
		if n := len(rdb.Keys(ctx, "*").Val()); n != 0 {
			t.Fatalf("%d keys left", n)
		}
		l, err := c.Obtain(ctx, "invoice:42")
		if err != nil {
			t.Fatal(err)
		}
		if l.Fence() != 1 {
			t.Fatalf("Fence() after deleting the counter = %d, want 1", l.Fence())
		}
		if err := l.Release(ctx); err != nil {
			t.Fatal(err)
		}
	})
}
