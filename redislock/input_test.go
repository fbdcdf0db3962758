package redislock_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
)

func TestNewBadInput(t *testing.T) {
	_, rdb := mini(t)
	var nilClient *redis.Client
	plain := redis.NewClient(&redis.Options{Addr: rdb.Options().Addr})
	t.Cleanup(func() { _ = plain.Close() })
	for _, tc := range []struct {
		name string
		rdb  redis.UniversalClient
		opts []redislock.Option
	}{
		{"nil client", nil, nil},
		{"typed nil client", nilClient, nil},
		{"no ContextTimeoutEnabled", plain, nil},
		{"zero TTL", rdb, []redislock.Option{redislock.WithTTL(0)}},
		{"negative TTL", rdb, []redislock.Option{redislock.WithTTL(-time.Second)}},
		{"TTL below 10ms", rdb, []redislock.Option{redislock.WithTTL(5 * time.Millisecond)}},
		{"renewal not shorter than TTL", rdb, []redislock.Option{redislock.WithWatchdog(time.Second, time.Second)}},
		{"renewal longer than TTL", rdb, []redislock.Option{redislock.WithWatchdog(time.Second, 2*time.Second)}},
		{"zero watchdog TTL", rdb, []redislock.Option{redislock.WithWatchdog(0, 0)}},
		{"negative max hold", rdb, []redislock.Option{redislock.WithMaxHold(-time.Second)}},
		{"prefix with a brace", rdb, []redislock.Option{redislock.WithPrefix("a:{b}")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := redislock.New(tc.rdb, tc.opts...)
			if !errors.Is(err, lock.ErrInvalidArgument) {
				if c != nil {
					_ = c.Close()
				}
				t.Fatalf("New = %v, want ErrInvalidArgument", err)
			}
		})
	}
}

func TestObtainBadInput(t *testing.T) {
	_, rdb := mini(t)
	c := newClient(t, rdb)
	ctx := testCtx(t, 5*time.Second)
	for _, tc := range []struct {
		name, lock string
		opts       []redislock.Option
	}{
		{"empty name", "", nil},
		{"name defeating the hash tag", "}x", nil},
		{"zero TTL", "a", []redislock.Option{redislock.WithTTL(0)}},
		{"renewal longer than TTL", "a", []redislock.Option{redislock.WithWatchdog(100*time.Millisecond, 200*time.Millisecond)}},
		{"prefix with a brace", "a", []redislock.Option{redislock.WithPrefix("x}")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := c.Obtain(ctx, tc.lock, tc.opts...); !errors.Is(err, lock.ErrInvalidArgument) {
				t.Errorf("Obtain = %v, want ErrInvalidArgument", err)
			}
			if _, err := c.TryObtain(ctx, tc.lock, tc.opts...); !errors.Is(err, lock.ErrInvalidArgument) {
				t.Errorf("TryObtain = %v, want ErrInvalidArgument", err)
			}
			if err := c.NewMutex(tc.lock, tc.opts...).Lock(ctx); !errors.Is(err, lock.ErrInvalidArgument) {
				t.Errorf("Mutex.Lock = %v, want ErrInvalidArgument", err)
			}
		})
	}
	if n := len(rdb.Keys(ctx, "*").Val()); n != 0 {
		t.Fatalf("bad input left %d keys", n)
	}
}

// Names with the characters that break naive key building or scripts stay
// in their own keys, and the script cache does not grow with them.
func TestBinarySafeNames(t *testing.T) {
	_, rdb := real(t)
	c := newClient(t, rdb)
	ctx := testCtx(t, 10*time.Second)
	names := []string{"a", "a:b", "{a}", "a}", "a{b", "'\"]]", "line\nbreak", "nul\x00byte", "*", "ü"}
	leases := make([]*redislock.Lease, len(names))
	for i, name := range names {
		l, err := c.TryObtain(ctx, name)
		if err != nil {
			t.Fatalf("TryObtain(%q): %v", name, err)
		}
		leases[i] = l
	}
	for _, l := range leases {
		if err := l.Release(ctx); err != nil {
			t.Fatalf("Release(%q): %v", l.Name(), err)
		}
	}
	if n := rdb.Keys(ctx, "lock:{*}").Val(); len(n) != 0 {
		t.Fatalf("lock keys left: %q", n)
	}
	info := rdb.Info(ctx, "memory").Val()
	if !containsLine(info, "number_of_cached_scripts:1") {
		t.Fatalf("script cache is not the one script used (lock):\n%s", info)
	}
}

// Error replies that waiting cannot cure fail Obtain at once instead of
// retrying until the context ends.
func TestPermanentErrorFailsFast(t *testing.T) {
	backends(t, func(t *testing.T, rdb *redis.Client) {
		c := newClient(t, rdb)
		ctx := testCtx(t, 10*time.Second)
		// A fencing counter that INCR cannot increment: the script
		// fails after its SET, so the key is cleaned up by token.
		if err := rdb.Set(ctx, "lock:{wrong}:fence", "not a number", 0).Err(); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err := c.Obtain(ctx, "wrong")
		var reply redis.Error
		if !errors.As(err, &reply) {
			t.Fatalf("Obtain = %v, want the server's error reply", err)
		}
		if d := time.Since(start); d > time.Second {
			t.Fatalf("Obtain retried for %v", d)
		}
		if !eventually(time.Second, func() bool { return rdb.Exists(ctx, "lock:{wrong}").Val() == 0 }) {
			t.Fatal("the failed acquire left its key")
		}
	})
}

// The watchdog's interval must be between 1ms and half the TTL, given to
// New or per call: zero does not silently turn the watchdog off (WithTTL
// does that), and a tiny interval does not flood the server.
func TestWatchdogInterval(t *testing.T) {
	_, rdb := mini(t)
	c := newClient(t, rdb)
	ctx := testCtx(t, 5*time.Second)
	for _, tc := range []struct {
		ttl, interval time.Duration
		ok            bool
	}{
		{time.Second, 0, false},
		{time.Second, -time.Millisecond, false},
		{time.Second, time.Nanosecond, false},
		{time.Second, time.Millisecond - 1, false},
		{time.Second, time.Millisecond, true},
		{time.Second, 500 * time.Millisecond, true},
		{time.Second, 500*time.Millisecond + 1, false},
		{time.Second, 999 * time.Millisecond, false},
		{10 * time.Millisecond, 5 * time.Millisecond, true},
		{10 * time.Millisecond, 6 * time.Millisecond, false},
	} {
		opt := redislock.WithWatchdog(tc.ttl, tc.interval)
		nc, err := redislock.New(rdb, opt)
		if nc != nil {
			_ = nc.Close()
		}
		if tc.ok != (err == nil) || err != nil && !errors.Is(err, lock.ErrInvalidArgument) {
			t.Errorf("New(WithWatchdog(%v, %v)) = %v, want ok=%v or ErrInvalidArgument", tc.ttl, tc.interval, err, tc.ok)
		}
		l, err := c.TryObtain(ctx, "wd", opt)
		if err == nil {
			err = l.Release(ctx)
		}
		if tc.ok != (err == nil) || err != nil && !errors.Is(err, lock.ErrInvalidArgument) {
			t.Errorf("TryObtain(WithWatchdog(%v, %v)) = %v, want ok=%v or ErrInvalidArgument", tc.ttl, tc.interval, err, tc.ok)
		}
	}
}

// FencedSet refuses input that would crash it or give no protection: a nil
// client, a fence that no grant has (0 is what a Redlock lease has, which
// has no fencing token), and an empty key.
func TestFencedSetBadInput(t *testing.T) {
	_, rdb := mini(t)
	ctx := testCtx(t, 5*time.Second)
	var nilClient *redis.Client
	for _, tc := range []struct {
		name  string
		rdb   redis.Scripter
		key   string
		fence int64
	}{
		{"nil client", nil, "res", 1},
		{"typed nil client", nilClient, "res", 1},
		{"zero fence", rdb, "res", 0},
		{"negative fence", rdb, "res", -1},
		{"empty key", rdb, "", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := redislock.FencedSet(ctx, tc.rdb, tc.key, tc.fence, "v"); !errors.Is(err, lock.ErrInvalidArgument) {
				t.Fatalf("FencedSet = %v, want ErrInvalidArgument", err)
			}
		})
	}
	if n := len(rdb.Keys(ctx, "*").Val()); n != 0 {
		t.Fatalf("bad input wrote %d keys", n)
	}
	if err := redislock.FencedSet(ctx, rdb, "res", 1, "v"); err != nil {
		t.Fatalf("FencedSet with fence 1 = %v", err)
	}
}
