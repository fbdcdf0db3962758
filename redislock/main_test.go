package redislock_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"

	"github.com/codomyrmex/concurrency/internal/proctest"
	"github.com/codomyrmex/concurrency/internal/redistest"
	"github.com/codomyrmex/concurrency/redislock"
)

func TestMain(m *testing.M) {
	if mode, _, ok := proctest.Helper(); ok {
		os.Exit(runHelper(mode))
	}
	goleak.VerifyTestMain(m)
}

// dial returns a go-redis client for addr, closed at the end of the test,
// configured as the package documentation asks: context deadlines honoured
// and short socket timeouts.
func dial(t testing.TB, addr string) *redis.Client {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{
		Addr:                  addr,
		ContextTimeoutEnabled: true,
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		MaxRetries:            -1, // every ambiguous reply reaches the package
	})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// mini starts a miniredis server and returns a client for it.
func mini(t testing.TB) (*miniredis.Miniredis, *redis.Client) {
	t.Helper()
	m := miniredis.RunT(t)
	return m, dial(t, m.Addr())
}

// real starts a redis-server (or skips, see redistest) and returns a client
// for it.
func real(t testing.TB) (*redistest.Server, *redis.Client) {
	t.Helper()
	s := redistest.Start(t)
	return s, dial(t, s.Addr())
}

// newClient returns a redislock Client closed at the end of the test.
func newClient(t testing.TB, rdb redis.UniversalClient, opts ...redislock.Option) *redislock.Client {
	t.Helper()
	c, err := redislock.New(rdb, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// testCtx returns a context that ends with the test or after d.
func testCtx(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// backends runs f against miniredis and against a real redis-server (where
// one is installed).
func backends(t *testing.T, f func(t *testing.T, rdb *redis.Client)) {
	t.Run("miniredis", func(t *testing.T) {
		_, rdb := mini(t)
		f(t, rdb)
	})
	t.Run("redis-server", func(t *testing.T) {
		_, rdb := real(t)
		f(t, rdb)
	})
}
