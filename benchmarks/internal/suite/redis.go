package suite

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"math"
	"time"

	bsm "github.com/bsm/redislock"
	"github.com/codomyrmex/concurrency/benchmarks/internal/harness"
	"github.com/codomyrmex/concurrency/redislock"
	"github.com/go-redsync/redsync/v4"
	redsyncgoredis "github.com/go-redsync/redsync/v4/redis/goredis/v9"
	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"
	"github.com/redis/rueidis/rueidislock"
)

// leaseTTL is the expiry every Redis lock is taken with: far longer than
// any run, so that no lock expires while held.
const leaseTTL = 10 * time.Second

// redisScenario: workers, each with its own connection, share one key.
func redisScenario() Scenario {
	return Scenario{
		Name:      "redis",
		About:     "workers, each with its own Redis client, in several processes, share one lock key",
		Section:   100 * time.Microsecond,
		Baseline:  "setnx-spin",
		Need:      NeedRedis,
		Processes: true,
		Impls: []harness.Impl{
			{Name: "redislock", Note: "this module, defaults: watchdog-renewed lease, woken by a release notification", New: perWorker(newRedislock)},
			{Name: "setnx-spin", Note: "the floor: SET NX PX in a busy loop, DEL to release (2 round trips uncontended)", New: perWorker(newSpin)},
			{Name: "bsm/redislock", Note: "v0.10.0, retry with exponential backoff 1-16 ms", New: perWorker(newBSM)},
			{Name: "redsync", Note: "go-redsync/redsync/v4 v4.18.1, one pool, default retry delay (50-250 ms), unlimited tries", New: perWorker(newRedsync)},
			{Name: "rueidislock", Note: "rueidis v1.0.79, KeyMajority 1 (one key), woken by client-side-caching invalidations", New: perWorker(newRueidis)},
		},
	}
}

// dialTimeout bounds the first contact of a worker's client.
const dialTimeout = 5 * time.Second

// MiniredisLacks returns why the implementation impl cannot run on
// miniredis, or "" if it can.
func MiniredisLacks(impl string) string {
	if impl == "rueidislock" {
		return "it needs CLIENT TRACKING (client-side caching), which miniredis lacks"
	}
	return ""
}

// newRedisClient returns a go-redis client of its own for one worker, with
// deadlines honoured as redislock requires, connected (by a PING) before
// the measured window opens.
func newRedisClient(env harness.Env) (*redis.Client, error) {
	rdb := redis.NewClient(&redis.Options{Addr: env.RedisAddr, PoolSize: 2, ContextTimeoutEnabled: true,
		ReadTimeout: time.Second, WriteTimeout: time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		rdb.Close()
		return nil, err
	}
	return rdb, nil
}

// token returns 128 random bits in hex.
func token() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// redislockWorker adapts this module's redislock.Mutex, with a Client and
// a go-redis client of its own.
type redislockWorker struct {
	*redislock.Mutex
	rdb    *redis.Client
	client *redislock.Client
}

func newRedislock(env harness.Env, _ harness.Params) (closingLocker, error) {
	rdb, err := newRedisClient(env)
	if err != nil {
		return nil, err
	}
	c, err := redislock.New(rdb)
	if err != nil {
		rdb.Close()
		return nil, err
	}
	return &redislockWorker{Mutex: c.NewMutex(env.Key), rdb: rdb, client: c}, nil
}

func (w *redislockWorker) Close() error { return errors.Join(w.client.Close(), w.rdb.Close()) }

// spinWorker is the floor: SET NX PX until it succeeds, DEL to release.
type spinWorker struct {
	rdb        *redis.Client
	key, token string
}

func newSpin(env harness.Env, _ harness.Params) (closingLocker, error) {
	rdb, err := newRedisClient(env)
	if err != nil {
		return nil, err
	}
	return &spinWorker{rdb: rdb, key: env.Key, token: token()}, nil
}

func (w *spinWorker) Lock(ctx context.Context) error {
	for range math.MaxInt64 { // bounded in time by ctx
		ok, err := w.rdb.SetNX(ctx, w.key, w.token, leaseTTL).Result()
		if err != nil || ok {
			return err
		}
	}
	return ctx.Err()
}

func (w *spinWorker) Unlock()      { w.rdb.Del(context.Background(), w.key) }
func (w *spinWorker) Close() error { return w.rdb.Close() }

// bsmWorker adapts github.com/bsm/redislock.
type bsmWorker struct {
	rdb    *redis.Client
	client *bsm.Client
	opts   *bsm.Options
	key    string
	held   *bsm.Lock
}

func newBSM(env harness.Env, _ harness.Params) (closingLocker, error) {
	rdb, err := newRedisClient(env)
	if err != nil {
		return nil, err
	}
	return &bsmWorker{rdb: rdb, client: bsm.New(rdb), key: env.Key,
		opts: &bsm.Options{RetryStrategy: bsm.ExponentialBackoff(time.Millisecond, 16*time.Millisecond)}}, nil
}

func (w *bsmWorker) Lock(ctx context.Context) (err error) {
	w.held, err = w.client.Obtain(ctx, w.key, leaseTTL, w.opts)
	return err
}

func (w *bsmWorker) Unlock()      { _ = w.held.Release(context.Background()) }
func (w *bsmWorker) Close() error { return w.rdb.Close() }

// redsyncWorker adapts github.com/go-redsync/redsync/v4 with one pool.
type redsyncWorker struct {
	rdb *redis.Client
	mu  *redsync.Mutex
}

func newRedsync(env harness.Env, _ harness.Params) (closingLocker, error) {
	rdb, err := newRedisClient(env)
	if err != nil {
		return nil, err
	}
	rs := redsync.New(redsyncgoredis.NewPool(rdb))
	return &redsyncWorker{rdb: rdb, mu: rs.NewMutex(env.Key, redsync.WithExpiry(leaseTTL), redsync.WithTries(math.MaxInt32))}, nil
}

func (w *redsyncWorker) Lock(ctx context.Context) error { return w.mu.LockContext(ctx) }
func (w *redsyncWorker) Unlock()                        { _, _ = w.mu.UnlockContext(context.Background()) }
func (w *redsyncWorker) Close() error                   { return w.rdb.Close() }

// rueidisWorker adapts github.com/redis/rueidis/rueidislock: the lock is a
// context, released by cancelling it.
type rueidisWorker struct {
	locker  rueidislock.Locker
	key     string
	release context.CancelFunc
}

func newRueidis(env harness.Env, _ harness.Params) (closingLocker, error) {
	l, err := rueidislock.NewLocker(rueidislock.LockerOption{
		ClientOption: rueidis.ClientOption{InitAddress: []string{env.RedisAddr}},
		KeyMajority:  1,
		KeyValidity:  leaseTTL,
	})
	if err != nil {
		return nil, err
	}
	return &rueidisWorker{locker: l, key: env.Key}, nil
}

func (w *rueidisWorker) Lock(ctx context.Context) (err error) {
	_, w.release, err = w.locker.WithContext(ctx, w.key)
	return err
}

func (w *rueidisWorker) Unlock()      { w.release() }
func (w *rueidisWorker) Close() error { w.locker.Close(); return nil }
