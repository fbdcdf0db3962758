package chaos_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/redislock"
	"github.com/redis/go-redis/v9"
)

// Environment of the Redis helper processes.
const (
	envRedis  = "CHAOS_REDIS"  // address of the lock server (or of a fault proxy before it)
	envOracle = "CHAOS_ORACLE" // address of the second server: counter oracle and fenced resource
)

// Keys on the oracle server.
const (
	counterKey  = "chaos:counter"
	resourceKey = "chaos:resource" // written with redislock.FencedSet
	lockName    = "chaos"
)

// redisOptions configures go-redis as redislock asks: context deadlines
// honoured, short socket timeouts, and no retries, so that every ambiguous
// reply reaches the lock.
func redisOptions(addr string) *redis.Options {
	return &redis.Options{
		Addr:                  addr,
		ContextTimeoutEnabled: true,
		DialTimeout:           time.Second,
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
		MaxRetries:            -1,
	}
}

// dialRedis returns a client for addr, closed at the end of the test.
func dialRedis(t testing.TB, addr string) *redis.Client {
	rdb := redis.NewClient(redisOptions(addr))
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// newLocks returns a redislock Client, closed at the end of the test.
func newLocks(t testing.TB, rdb *redis.Client, opts ...redislock.Option) *redislock.Client {
	t.Helper()
	c, err := redislock.New(rdb, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// oracleTimeout bounds each call to the oracle server, which no fault
// touches.
const oracleTimeout = 5 * time.Second

// redisStore is a check.Store in a key of the oracle server: GET and SET,
// not INCR, so that overlapping sections lose updates.
type redisStore struct {
	rdb *redis.Client
	key string
}

func (s redisStore) Load() (int64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	defer cancel()
	v, err := s.rdb.Get(ctx, s.key).Int64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	return v, err
}

func (s redisStore) Store(v int64) error {
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	defer cancel()
	return s.rdb.Set(ctx, s.key, v, 0).Err()
}

// fencedWrite writes value to the resource on the oracle server with
// FencedSet, reporting whether the fence rejected it as stale.
func fencedWrite(rdb *redis.Client, fence int64, value string) (stale bool, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), oracleTimeout)
	defer cancel()
	err = redislock.FencedSet(ctx, rdb, resourceKey, fence, value)
	if errors.Is(err, redislock.ErrStaleFence) {
		return true, nil
	}
	return false, err
}
