package suite

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"time"

	"github.com/codomyrmex/concurrency/benchmarks"
	"github.com/codomyrmex/concurrency/benchmarks/internal/harness"
	"github.com/codomyrmex/concurrency/redislock"
	"github.com/redis/go-redis/v9"
)

// The names of the implementations of the redis-sem and redis-rw
// scenarios, which the go test benchmarks look up.
const (
	ImplRedisSemaphore = "redislock.Semaphore"
	ImplRedisRWMutex   = "redislock.RWMutex"
	ImplRedisMutex     = "redislock.Mutex"
	ImplEvalSpin       = "eval-spin"
)

// mutexNote describes the mutex that the redis-sem and redis-rw scenarios
// run beside their own primitive.
const mutexNote = "the redis scenario's redislock on a key of its own: every acquisition exclusive; the hot-key mutex figure at the same worker count, for ratios"

// redisSemScenario: workers, each with its own Redis client, take shares
// of one distributed semaphore.
func redisSemScenario() Scenario {
	return Scenario{
		Name:      "redis-sem",
		About:     "workers, each with its own Redis client, in several processes, take weighted shares of one Redis semaphore (of -sem-size, 4)",
		Section:   100 * time.Microsecond,
		Baseline:  ImplEvalSpin,
		Need:      NeedRedis,
		Weights:   []int64{1},
		Processes: true,
		Impls: []harness.Impl{
			{Name: ImplRedisSemaphore, Note: "this module, defaults: a SemaphoreLocker per worker (watchdog-renewed lease, FIFO queue in Redis, granted by the release script)", New: perWorkerIndexed(newRedisSemaphore)},
			{Name: ImplRedisMutex, Note: mutexNote, New: perWorker(newRedislock)},
			{Name: ImplEvalSpin, Note: "the floor: a check-and-INCRBY script (EVALSHA) in a busy loop, DECRBY to release (2 round trips uncontended); no leases, no queue", New: perWorkerIndexed(newSemSpin)},
		},
	}
}

// redisRWScenario: workers, each with its own Redis client, read (or, a
// fraction of the time, write) under one distributed reader/writer lock.
func redisRWScenario() Scenario {
	return Scenario{
		Name:      "redis-rw",
		About:     "workers, each with its own Redis client, in several processes, read (or, a -writes fraction of the time, write) under one Redis reader/writer lock",
		Section:   100 * time.Microsecond,
		Baseline:  ImplEvalSpin,
		Need:      NeedRedis,
		Processes: true,
		Impls: []harness.Impl{
			{Name: ImplRedisRWMutex, Note: "this module, defaults: RLock/Lock of an RWMutex per worker (watchdog-renewed leases, phase-fair, granted by the release script)", New: perWorkerIndexed(newRedisRW)},
			{Name: ImplRedisMutex, Note: mutexNote, New: perWorker(newRedislock)},
			{Name: ImplEvalSpin, Note: "the floor: the redis-sem spin with a size of 2^30, a reader taking 1 and a writer all of it (prefers readers: a writer waits for a moment without any)", New: perWorkerIndexed(newRWSpin)},
		},
	}
}

// redislockClient is a worker's redislock Client with its go-redis client.
type redislockClient struct {
	rdb    *redis.Client
	client *redislock.Client
}

func newRedislockClient(env harness.Env) (redislockClient, error) {
	rdb, err := newRedisClient(env)
	if err != nil {
		return redislockClient{}, err
	}
	c, err := redislock.New(rdb)
	if err != nil {
		rdb.Close()
		return redislockClient{}, err
	}
	return redislockClient{rdb, c}, nil
}

func (c redislockClient) Close() error { return errors.Join(c.client.Close(), c.rdb.Close()) }

// redisSemWorker takes its weight of the semaphore through a
// SemaphoreLocker of its own Client.
type redisSemWorker struct {
	*redislock.SemaphoreLocker
	redislockClient
}

func newRedisSemaphore(env harness.Env, p harness.Params, i int) (closingLocker, error) {
	c, err := newRedislockClient(env)
	if err != nil {
		return nil, err
	}
	return &redisSemWorker{c.client.NewSemaphore(env.Key, p.SemSize).Locker(p.Weight(i)), c}, nil
}

// redisRWWorker reads or writes through an RWMutex of its own Client,
// choosing as the rw scenario's workers do.
type redisRWWorker struct {
	rwWorker
	redislockClient
}

func newRedisRW(env harness.Env, p harness.Params, i int) (closingLocker, error) {
	c, err := newRedislockClient(env)
	if err != nil {
		return nil, err
	}
	return &redisRWWorker{newRWWorker(c.client.NewRWMutex(env.Key), p, i), c}, nil
}

// newRWWorker returns the rw scenario's worker i on mu, seeded as that
// scenario seeds it.
func newRWWorker(mu benchmarks.RWLocker, p harness.Params, i int) rwWorker {
	return rwWorker{mu: mu, rng: rand.New(rand.NewPCG(uint64(i), 42)), writes: p.Writes}
}

// semSpinScript is the spin loop's try: it adds ARGV[1] to the counter
// KEYS[1] if the sum stays within ARGV[2], and says whether it did. It is
// to a counting semaphore what SET NX is to a lock: one atomic round trip
// per try that fails only when the weight does not fit. (An INCRBY that is
// undone by a DECRBY when it overshoots would take two round trips per
// failed try and, worse, its transient overshoots refuse others while
// there is room, so many spinners keep the counter above the size.)
var semSpinScript = redis.NewScript(`
local held = tonumber(redis.call('get', KEYS[1]) or '0')
if held + tonumber(ARGV[1]) > tonumber(ARGV[2]) then
	return 0
end
redis.call('incrby', KEYS[1], ARGV[1])
return 1
`)

// semSpinWorker is the counting semaphore that the spin loop of the
// redis-sem and redis-rw scenarios takes: semSpinScript until it succeeds,
// DECRBY to release. It has no leases (a holder that dies keeps its weight
// for ever) and no queue (whoever tries first after a release wins).
type semSpinWorker struct {
	rdb    *redis.Client
	key    string
	keys   []string
	weight int64
	args   []any
}

func newSemSpinWorker(env harness.Env, size int64) (*semSpinWorker, error) {
	rdb, err := newRedisClient(env)
	if err != nil {
		return nil, err
	}
	return &semSpinWorker{rdb: rdb, key: env.Key, keys: []string{env.Key}, args: []any{int64(1), size}}, nil
}

func newSemSpin(env harness.Env, p harness.Params, i int) (closingLocker, error) {
	w, err := newSemSpinWorker(env, p.SemSize)
	if err != nil {
		return nil, err
	}
	w.weight = p.Weight(i)
	w.args[0] = w.weight
	return w, nil
}

// take spins until weight fits.
func (w *semSpinWorker) take(ctx context.Context, weight int64) error {
	w.args[0] = weight
	for range math.MaxInt64 { // bounded in time by ctx
		ok, err := semSpinScript.Run(ctx, w.rdb, w.keys, w.args...).Int()
		if err != nil || ok == 1 {
			return err
		}
	}
	return ctx.Err()
}

func (w *semSpinWorker) give(weight int64) { w.rdb.DecrBy(context.Background(), w.key, weight) }

func (w *semSpinWorker) Lock(ctx context.Context) error { return w.take(ctx, w.weight) }
func (w *semSpinWorker) Unlock()                        { w.give(w.weight) }
func (w *semSpinWorker) Close() error                   { return w.rdb.Close() }

// rwSpinSize is the size of the spin loop's counting semaphore in the
// redis-rw scenario: a writer takes all of it, a reader 1.
const rwSpinSize = 1 << 30

// rwSpin is the reader/writer lock of the spin loop.
type rwSpin struct{ *semSpinWorker }

func (s rwSpin) Lock(ctx context.Context) error  { return s.take(ctx, rwSpinSize) }
func (s rwSpin) Unlock()                         { s.give(rwSpinSize) }
func (s rwSpin) RLock(ctx context.Context) error { return s.take(ctx, 1) }
func (s rwSpin) RUnlock()                        { s.give(1) }

// rwSpinWorker reads or writes through rwSpin.
type rwSpinWorker struct {
	rwWorker
	spin rwSpin
}

func newRWSpin(env harness.Env, p harness.Params, i int) (closingLocker, error) {
	w, err := newSemSpinWorker(env, rwSpinSize)
	if err != nil {
		return nil, err
	}
	s := rwSpin{w}
	return &rwSpinWorker{newRWWorker(s, p, i), s}, nil
}

func (w *rwSpinWorker) Close() error { return w.spin.Close() }
