package redislock_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
)

// FuzzKeys feeds arbitrary bytes as prefixes, lock names and foreign tokens
// to a real redis-server. For every input: a name the package refuses
// fails with lock.ErrInvalidArgument, never a panic; any other name is
// obtained, extended and released, and its key holds the lease's token
// exactly while held; a second Client gets the lock at the same time if and
// only if its key (prefix:{name}) differs; a foreign token neither releases
// nor extends the lock; and the server's script cache keeps the same
// number of scripts whatever the bytes.
//
// go test runs the seeds; make fuzz (go test -fuzz=FuzzKeys -fuzztime=...)
// explores further, each worker against its own server.
func FuzzKeys(f *testing.F) {
	for _, seed := range [][4]string{
		{"lock", "a", "lock", "a"},
		{"lock", "a", "lock", "b"},
		{"lock", "", "lock", "a"},
		{"lock", "}a", "lock", "a"},
		{"lock", "a}", "lock", "a}"},
		{"", "a", "", "a"},
		{"a", "b}:{c", "a:{b}", "c"},
		{"app", "x", "app:", "{x}"},
		{"app", ":{*}?[a]", "app", "*"},
		{"app", "line\nbreak\r\n", "app", "nul\x00byte"},
		{"\x00", "\x00", "\x00\x00", "'\"]]"},
		{"ns", "ü\xff\xfe", "ns", "a\\b"},
		{"ns", "{", "ns", "{}"},
		{"ns", strings.Repeat("x", 1000), "ns", "x"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3], "foreign")
	}
	_, rdb := real(f)
	ctx := testCtx(f, time.Hour)
	script := lockScript(f)
	extend, err := os.ReadFile("lua/extend.lua")
	if err != nil {
		f.Fatal(err)
	}
	scripts := "" // number_of_cached_scripts after the first input

	f.Fuzz(func(t *testing.T, prefix, name, prefix2, name2, foreign string) {
		defer rdb.FlushAll(ctx)
		newClient := func(prefix string) *redislock.Client {
			c, err := redislock.New(rdb, redislock.WithPrefix(prefix), redislock.WithTTL(10*time.Second))
			if strings.ContainsAny(prefix, "{}") {
				// A brace would break the hash tag and let two prefixes
				// share keys, so such a prefix is refused.
				if !errors.Is(err, lock.ErrInvalidArgument) {
					t.Fatalf("New with prefix %q = %v, want ErrInvalidArgument", prefix, err)
				}
				return nil
			}
			if err != nil {
				t.Fatalf("New with prefix %q: %v", prefix, err)
			}
			return c
		}
		c, c2 := newClient(prefix), newClient(prefix2)
		if c == nil || c2 == nil {
			if c != nil {
				c.Close()
			}
			if c2 != nil {
				c2.Close()
			}
			return
		}
		defer c.Close()
		defer c2.Close()

		l, err := c.TryObtain(ctx, name)
		if name == "" || strings.HasPrefix(name, "}") {
			if !errors.Is(err, lock.ErrInvalidArgument) {
				t.Fatalf("TryObtain(%q) = %v, want ErrInvalidArgument", name, err)
			}
			return
		}
		if err != nil {
			t.Fatalf("TryObtain(%q) with prefix %q: %v", name, prefix, err)
		}
		key := prefix + ":{" + name + "}"
		token, err := rdb.Get(ctx, key).Result()
		if err != nil || len(token) < 26 {
			t.Fatalf("key %q holds %q, %v; want the token", key, token, err)
		}
		if err := l.Extend(ctx); err != nil {
			t.Fatalf("Extend: %v", err)
		}

		if name2 != "" && !strings.HasPrefix(name2, "}") {
			l2, err := c2.TryObtain(ctx, name2)
			switch same := prefix2+":{"+name2+"}" == key; {
			case same && !errors.Is(err, lock.ErrNotAcquired):
				t.Fatalf("TryObtain(%q) with prefix %q, the same key, = %v, want ErrNotAcquired", name2, prefix2, err)
			case !same && err != nil:
				t.Fatalf("TryObtain(%q) with prefix %q, another key, = %v", name2, prefix2, err)
			case !same:
				if err := l2.Release(ctx); err != nil {
					t.Fatalf("Release(%q): %v", name2, err)
				}
			}
		}

		// The key holds the token; a caller that knows it holds the lock.
		if foreign != token {
			if n, err := rdb.Eval(ctx, script, lockKeys(key), "release", foreign, "1").Int(); err != nil || n != 0 {
				t.Fatalf("release with token %q = %d, %v", foreign, n, err)
			}
			if n, err := rdb.Eval(ctx, string(extend), []string{key}, foreign, 60000).Int(); err != nil || n != 0 {
				t.Fatalf("extend with token %q = %d, %v", foreign, n, err)
			}
		}
		if v := rdb.Get(ctx, key).Val(); v != token {
			t.Fatalf("key %q holds %q after foreign calls, want %q", key, v, token)
		}
		if err := l.Release(ctx); err != nil {
			t.Fatalf("Release: %v", err)
		}
		if n := rdb.Exists(ctx, key).Val(); n != 0 {
			t.Fatalf("key %q left after Release", key)
		}

		n := infoField(rdb.Info(ctx, "memory").Val(), "number_of_cached_scripts")
		if scripts == "" {
			scripts = n
		}
		if n != scripts {
			t.Fatalf("script cache holds %s scripts, %s before", n, scripts)
		}
	})
}
