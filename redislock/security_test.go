package redislock_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/internal/redistest"
	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/redislock"
)

// dialWith returns a go-redis client configured as dial's, with o's
// address, TLS configuration and credentials, closed at the end of the test.
func dialWith(t testing.TB, o redis.Options) *redis.Client {
	t.Helper()
	o.ContextTimeoutEnabled = true
	o.DialTimeout, o.ReadTimeout, o.WriteTimeout = time.Second, time.Second, time.Second
	o.MaxRetries = -1
	rdb := redis.NewClient(&o)
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// lockerRules are the ACL rules of a user that may hold locks under prefix
// and nothing else: the keys and channels of the prefix, the script
// commands, the commands the scripts call, and SUBSCRIBE, for the Client's
// channel (prefix:client:<random>). Each is needed: without one of them the
// exercise below fails or, for SUBSCRIBE, the server logs a denial (ACL
// LOG) and waiters fall back to their queue refreshes.
func lockerRules(prefix string) []string {
	return []string{
		"~" + prefix + ":*", "&" + prefix + ":*",
		"+eval", "+evalsha",
		"+set", "+get", "+incr", "+pexpire", "+pttl", "+del", "+exists", "+publish",
		"+time", "+rpush", "+lpop", "+lrem", "+hset", "+hget", "+hdel", // the wait queue
		"+subscribe",
	}
}

// exercise runs a lock's whole life between two Clients a and b of one
// server, whose default prefix is prefix: a holds, b fails to take it and
// then waits, a extends and releases, b is woken and gets a higher fence, a
// fenced write with a's stale fence is refused (on resource, with the key
// res), a watchdog lease outlives its TTL, and Do runs.
func exercise(t *testing.T, a, b *redislock.Client, resource *redis.Client, res string) {
	t.Helper()
	ctx := testCtx(t, 20*time.Second)
	la, err := a.Obtain(ctx, "shared", redislock.WithTTL(10*time.Second))
	if err != nil {
		t.Fatalf("Obtain: %v", err)
	}
	if err := redislock.FencedSet(ctx, resource, res, la.Fence(), "a"); err != nil {
		t.Fatalf("FencedSet as the holder: %v", err)
	}
	if _, err := b.TryObtain(ctx, "shared"); !errors.Is(err, lock.ErrNotAcquired) {
		t.Fatalf("TryObtain of a held lock = %v, want ErrNotAcquired", err)
	}
	got := make(chan *redislock.Lease, 1)
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		lb, err := b.Obtain(ctx, "shared", redislock.WithTTL(10*time.Second))
		if err != nil {
			t.Errorf("waiting Obtain: %v", err)
		}
		got <- lb
	})
	time.Sleep(100 * time.Millisecond) // b subscribes and waits
	if err := la.Extend(ctx); err != nil {
		t.Fatalf("Extend: %v", err)
	}
	released := time.Now()
	if err := la.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}
	lb := <-got
	if lb == nil {
		t.FailNow()
	}
	// Well under the 2s re-check: the release's message woke b.
	if d := time.Since(released); d > time.Second {
		t.Errorf("handoff took %v", d)
	}
	if lb.Fence() <= la.Fence() {
		t.Errorf("fence went from %d to %d", la.Fence(), lb.Fence())
	}
	if err := redislock.FencedSet(ctx, resource, res, lb.Fence(), "b"); err != nil {
		t.Fatalf("FencedSet as the new holder: %v", err)
	}
	if err := redislock.FencedSet(ctx, resource, res, la.Fence(), "a2"); !errors.Is(err, redislock.ErrStaleFence) {
		t.Fatalf("FencedSet with the stale fence = %v, want ErrStaleFence", err)
	}
	if err := lb.Release(ctx); err != nil {
		t.Fatalf("Release: %v", err)
	}

	lw, err := a.Obtain(ctx, "watched", redislock.WithWatchdog(300*time.Millisecond, 100*time.Millisecond))
	if err != nil {
		t.Fatalf("Obtain with a watchdog: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	if err := lw.Err(); err != nil {
		t.Fatalf("watchdog lease ended after 500ms with a 300ms TTL: %v", err)
	}
	if err := lw.Release(ctx); err != nil {
		t.Fatalf("Release of the watchdog lease: %v", err)
	}
	if err := b.Do(ctx, "do", func(context.Context, *redislock.Lease) error { return nil }); err != nil {
		t.Fatalf("Do: %v", err)
	}
}

// The lock works over TLS with client certificates, and a client that
// does not trust the server's CA, or has no certificate, gets a clear
// error at once instead of hanging.
func TestTLS(t *testing.T) {
	s := redistest.StartTLS(t)
	admin := dialWith(t, redis.Options{Addr: s.Addr(), TLSConfig: s.Config})
	a := newClient(t, admin)
	b := newClient(t, dialWith(t, redis.Options{Addr: s.Addr(), TLSConfig: s.Config}))
	exercise(t, a, b, admin, "res")
	ctx := testCtx(t, 10*time.Second)
	if keys := admin.Keys(ctx, "lock:{*}").Val(); len(keys) != 0 {
		t.Fatalf("lock keys left: %q", keys)
	}

	noCA := s.Config.Clone()
	noCA.RootCAs = x509.NewCertPool()
	noCert := s.Config.Clone()
	noCert.Certificates = nil
	for _, tc := range []struct {
		name string
		cfg  *tls.Config
		want func(error) bool
	}{
		{"without the CA", noCA, func(err error) bool {
			var unknown x509.UnknownAuthorityError
			return errors.As(err, &unknown)
		}},
		{"without a client certificate", noCert, func(err error) bool {
			return err != nil && strings.Contains(err.Error(), "certificate required")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, dialWith(t, redis.Options{Addr: s.Addr(), TLSConfig: tc.cfg}))
			start := time.Now()
			_, err := c.TryObtain(ctx, "shared")
			if !tc.want(err) {
				t.Fatalf("TryObtain = %v, want a certificate error", err)
			}
			// Obtain retries transport errors until its context ends,
			// and no later.
			octx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			if _, err := c.Obtain(octx, "shared"); !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Obtain = %v, want DeadlineExceeded", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Fatalf("failing over TLS took %v", d)
			}
			t.Logf("TryObtain: %v", err)
		})
	}
}

// A user limited by ACL to the lock commands and to the keys and channels
// of its prefix can do everything the package offers; without a command
// it needs (EVALSHA, EVAL, or one a script calls) it fails at once with the
// server's refusal and holds nothing; and the server refuses it any key
// outside its prefix.
func TestLeastPrivilegeUser(t *testing.T) {
	s, admin := real(t)
	ctx := testCtx(t, 20*time.Second)
	s.SetUser("locker", "pw", lockerRules("app")...)
	user := func() *redis.Client {
		return dialWith(t, redis.Options{Addr: s.Addr(), Username: "locker", Password: "pw"})
	}
	if err := admin.Do(ctx, "ACL", "LOG", "RESET").Err(); err != nil {
		t.Fatal(err)
	}
	a := newClient(t, user(), redislock.WithPrefix("app"))
	b := newClient(t, user(), redislock.WithPrefix("app"))
	exercise(t, a, b, admin, "res")
	if log := admin.Do(ctx, "ACL", "LOG").Val(); log == nil || len(log.([]any)) != 0 {
		t.Fatalf("the server denied the lock user something: %v", log)
	}
	if keys := admin.Keys(ctx, "app:*").Val(); len(keys) != 3 { // the fence counters only
		t.Fatalf("keys of the prefix after the exercise: %q", keys)
	}

	t.Run("outside the prefix", func(t *testing.T) {
		u := user()
		for _, prefix := range []string{redislock.DefaultPrefix, "apps", "ap"} {
			c := newClient(t, u, redislock.WithPrefix(prefix))
			start := time.Now()
			_, err := c.Obtain(ctx, "x")
			if err == nil || !strings.Contains(err.Error(), "NOPERM") {
				t.Fatalf("Obtain with prefix %q = %v, want NOPERM", prefix, err)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("Obtain with prefix %q retried for %v", prefix, d)
			}
		}
		if err := u.Set(ctx, "other", "x", 0).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
			t.Fatalf("SET other as the lock user = %v, want NOPERM", err)
		}
		if err := u.Get(ctx, "app:x").Err(); !errors.Is(err, redis.Nil) {
			t.Fatalf("GET app:x as the lock user = %v, want nil", err)
		}
		if err := u.FlushAll(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
			t.Fatalf("FLUSHALL as the lock user = %v, want NOPERM", err)
		}
		if n := admin.DBSize(ctx).Val(); n != 4 {
			t.Fatalf("refused calls changed the keyspace: %d keys", n)
		}
	})

	// Without EVALSHA the first call is refused; without EVAL the
	// reload after NOSCRIPT is; without INCR the obtain script fails
	// after its SET, which the failed acquire undoes by its token.
	for _, missing := range []string{"+evalsha", "+eval", "+incr"} {
		t.Run("without "+missing, func(t *testing.T) {
			var rules []string
			for _, r := range lockerRules("app") {
				if r != missing {
					rules = append(rules, r)
				}
			}
			name := "no" + missing[1:]
			s.SetUser(name, "pw", rules...)
			c := newClient(t, dialWith(t, redis.Options{Addr: s.Addr(), Username: name, Password: "pw"}), redislock.WithPrefix("app"))
			if err := admin.ScriptFlush(ctx).Err(); err != nil {
				t.Fatal(err)
			}
			before := admin.DBSize(ctx).Val()
			start := time.Now()
			_, err := c.Obtain(ctx, "denied")
			var reply redis.Error
			if !errors.As(err, &reply) || !strings.Contains(reply.Error(), "NOPERM") && !strings.Contains(reply.Error(), "can't run this command") {
				t.Fatalf("Obtain = %v, want the server's refusal", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Fatalf("Obtain retried for %v", d)
			}
			// A key the script set before failing is deleted in the
			// background, within a second.
			cleaned := func() bool { return admin.DBSize(ctx).Val() == before }
			if !eventually(time.Second, cleaned) {
				t.Fatalf("a refused Obtain left a key: %q", admin.Keys(ctx, "app:*").Val())
			}
			if _, err := c.TryObtain(ctx, "denied"); !errors.As(err, &reply) {
				t.Fatalf("TryObtain = %v, want the server's refusal", err)
			}
			if !eventually(time.Second, cleaned) {
				t.Fatalf("a refused TryObtain left a key: %q", admin.Keys(ctx, "app:*").Val())
			}
			t.Logf("Obtain: %v", err)
		})
	}
}

// Two Clients with different prefixes on one server never collide: each
// holds every name, including names with the characters of key syntax,
// glob patterns, line breaks and NUL, at the same time as the other.
func TestPrefixesDoNotCollide(t *testing.T) {
	_, rdb := real(t)
	ctx := testCtx(t, 20*time.Second)
	names := []string{
		"a", "a:b", "a:{b}", "{a}", "a}", "a{", "a{b", "*", "a*", "?", "[a]", "[", "]",
		"\n", "a\nb", "\x00", "a\x00b", "\r\n", "\\", "'\"]]", "ü", ":", "::", "{", "{}",
		"appB", "appB:{a}", "a}:fence", "a}:{b",
	}
	clients := []*redislock.Client{
		newClient(t, rdb, redislock.WithPrefix("appA"), redislock.WithTTL(10*time.Second)),
		newClient(t, dial(t, rdb.Options().Addr), redislock.WithPrefix("appB"), redislock.WithTTL(10*time.Second)),
	}
	var leases []*redislock.Lease
	for _, c := range clients {
		for _, name := range names {
			l, err := c.TryObtain(ctx, name)
			if err != nil {
				t.Fatalf("TryObtain(%q): %v", name, err)
			}
			if l.Fence() != 1 {
				t.Fatalf("first grant of %q has fence %d: its counter is shared", name, l.Fence())
			}
			leases = append(leases, l)
		}
	}
	// One lock key and one fence key per (prefix, name).
	if n := rdb.DBSize(ctx).Val(); n != int64(4*len(names)) {
		t.Fatalf("%d keys for %d leases, want %d", n, len(leases), 4*len(names))
	}
	for _, c := range clients {
		for _, name := range names {
			if _, err := c.TryObtain(ctx, name); !errors.Is(err, lock.ErrNotAcquired) {
				t.Fatalf("second TryObtain(%q) = %v, want ErrNotAcquired", name, err)
			}
		}
	}
	for _, l := range leases {
		if err := l.Release(ctx); err != nil {
			t.Fatalf("Release(%q): %v", l.Name(), err)
		}
	}
	if n := rdb.DBSize(ctx).Val(); n != int64(2*len(names)) {
		t.Fatalf("%d keys after release, want the %d fence counters", n, 2*len(names))
	}
}

// Tokens are 128 bits or more, never repeat, and every bit position is set
// in about half of them. The token is what the lock key holds while the
// lease is held.
func TestTokenStatistics(t *testing.T) {
	const (
		workers = 8
		each    = 2500 // 20,000 tokens
	)
	_, rdb := real(t)
	c := newClient(t, rdb, redislock.WithTTL(10*time.Second))
	ctx := testCtx(t, 60*time.Second)
	tokens := make([][]string, workers)
	var wg sync.WaitGroup
	for w := range workers {
		name := "tok" + itoa(w)
		wg.Go(func() {
			for range each {
				l, err := c.Obtain(ctx, name)
				if err != nil {
					t.Error(err)
					return
				}
				v, err := rdb.Get(ctx, "lock:{"+name+"}").Result()
				if err != nil {
					t.Error(err)
					return
				}
				// A '*' marks a lock that a waiter has seen; there
				// are no waiters here.
				tokens[w] = append(tokens[w], v)
				if err := l.Release(ctx); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	seen := make(map[string]bool, workers*each)
	var ones []int // per bit position
	bits := -1
	for _, ts := range tokens {
		for _, tok := range ts {
			if seen[tok] {
				t.Fatalf("token %q issued twice", tok)
			}
			seen[tok] = true
			b, err := base32Bits(tok)
			if err != nil {
				t.Fatalf("token %q: %v", tok, err)
			}
			if bits == -1 {
				bits = len(b)
				ones = make([]int, bits)
			}
			if len(b) != bits || bits < 128 {
				t.Fatalf("token %q has %d bits, want 128 or more, all alike", tok, len(b))
			}
			for i, set := range b {
				if set {
					ones[i]++
				}
			}
		}
	}
	// Each position is Binomial(n, 1/2): outside 6 standard deviations
	// (about 47.9-52.1 % for 20,000 tokens, well inside 40-60 %) has a
	// probability of about 2e-9.
	n := float64(len(seen))
	tol := 6 * math.Sqrt(n/4)
	lo, hi := 1.0, 0.0
	for i, k := range ones {
		f := float64(k) / n
		lo, hi = min(lo, f), max(hi, f)
		if math.Abs(float64(k)-n/2) > tol {
			t.Errorf("bit %d set in %.2f %% of %d tokens", i, 100*f, len(seen))
		}
	}
	t.Logf("%d distinct tokens of %d bits; each bit set in %.2f-%.2f %% of them", len(seen), bits, 100*lo, 100*hi)
}

// base32Bits decodes a token written in the RFC 4648 base32 alphabet, as
// crypto/rand.Text writes it, into its bits, 5 per character.
func base32Bits(token string) ([]bool, error) {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	bits := make([]bool, 0, 5*len(token))
	for i := range len(token) {
		v := strings.IndexByte(alphabet, token[i])
		if v < 0 {
			return nil, errors.New("not base32 (RFC 4648)")
		}
		for j := 4; j >= 0; j-- {
			bits = append(bits, v>>j&1 == 1)
		}
	}
	return bits, nil
}

// semRWRules are the ACL rules of a user that may also use semaphores and
// RW locks under prefix: lockerRules and the commands their scripts add
// (sorted sets for holders, queues and deadlines; HINCRBY and HMGET).
func semRWRules(prefix string) []string {
	return append(lockerRules(prefix),
		"+hincrby", "+hmget", "+zadd", "+zcard", "+zrange", "+zrangebyscore", "+zrem", "+zremrangebyscore", "+zscore")
}

// A user limited by ACL to semRWRules can use semaphores and RW locks,
// waiting included (the grant comes by message on its Client's channel),
// and the server denies it nothing; with only the mutex's commands, a
// semaphore's Acquire fails at once with the server's refusal.
func TestLeastPrivilegeSemRW(t *testing.T) {
	s, admin := real(t)
	ctx := testCtx(t, 20*time.Second)
	s.SetUser("locker", "pw", semRWRules("app")...)
	user := func() *redis.Client {
		return dialWith(t, redis.Options{Addr: s.Addr(), Username: "locker", Password: "pw"})
	}
	if err := admin.Do(ctx, "ACL", "LOG", "RESET").Err(); err != nil {
		t.Fatal(err)
	}
	a := newClient(t, user(), redislock.WithPrefix("app"))
	b := newClient(t, user(), redislock.WithPrefix("app"))
	sa, sb := a.NewSemaphore("s", 2), b.NewSemaphore("s", 2)
	l, err := sa.Acquire(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	ch := acquireLater(ctx, sb, 1)
	semQueued(t, ctx, sa, 1)
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	lb, err := outcome(t, ch)
	if err != nil {
		t.Fatal(err)
	}
	if err := sa.Resize(ctx, 3); err != nil {
		t.Fatal(err)
	}
	_ = lb.Release(ctx)
	w, err := a.NewRWMutex("rw").ObtainWrite(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Extend(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Downgrade(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := b.NewRWMutex("rw").ObtainRead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_ = r.Release(ctx)
	_ = w.Release(ctx)
	if log := admin.Do(ctx, "ACL", "LOG").Val(); log == nil || len(log.([]any)) != 0 {
		t.Fatalf("the server denied the user something: %v", log)
	}

	s.SetUser("nozadd", "pw", lockerRules("app")...)
	c := newClient(t, dialWith(t, redis.Options{Addr: s.Addr(), Username: "nozadd", Password: "pw"}), redislock.WithPrefix("app"))
	start := time.Now()
	if _, err := c.NewSemaphore("s2", 1).Acquire(ctx, 1); err == nil || !strings.Contains(err.Error(), "can't run this command") {
		t.Fatalf("Acquire without the sorted-set commands = %v, want the server's refusal", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("the refused Acquire retried for %v", d)
	}
}
