package benchmarks_test

import (
	"context"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/benchmarks/internal/harness"
	"github.com/codomyrmex/concurrency/benchmarks/internal/redisproc"
	"github.com/codomyrmex/concurrency/benchmarks/internal/stats"
	"github.com/codomyrmex/concurrency/benchmarks/internal/suite"
	"github.com/codomyrmex/concurrency/redislock"
)

// hotKeyWorkers and hotKeySection are the hot-key load of issue 14: 16
// workers, each with its own Redis client, on one key, each holding it for
// 100µs (busy).
const (
	hotKeyWorkers = 16
	hotKeySection = 100 * time.Microsecond
)

// BenchmarkRedisHotKey runs the contend runner's redis scenario in one
// process, with its implementations (this module's redislock, the SET NX
// spin loop, bsm/redislock and redsync) on one redis-server that it
// starts (skipped without one on PATH): an op is one acquisition. Besides
// time and allocations per acquisition it reports acquisitions per second,
// the Redis commands per acquisition (INFO commandstats), the waits and
// Jain's index over the workers' acquisitions.
func BenchmarkRedisHotKey(b *testing.B) {
	srv, err := redisproc.Start(context.Background())
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(srv.Stop)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { admin.Close() })
	for _, impl := range []string{"redislock", "setnx-spin", "bsm/redislock", "redsync"} {
		b.Run("impl="+impl, func(b *testing.B) {
			im, ok := suite.Lookup("redis", impl)
			if !ok {
				b.Fatalf("no implementation %s", impl)
			}
			hotKey(b, im, srv.Addr, admin, harness.Params{})
		})
	}
}

// BenchmarkRedisSemHotKey is BenchmarkRedisHotKey on contend's redis-sem
// scenario: the hot-key load on a semaphore of size 4, each worker taking
// 1 of it, through this module's Semaphore and through the eval-spin
// floor; this module's Mutex on the hot key comes first, so that
// benchstat -col /impl gives each one's ratio to it.
func BenchmarkRedisSemHotKey(b *testing.B) {
	hotKeys(b, "redis-sem", []string{suite.ImplRedisMutex, suite.ImplRedisSemaphore, suite.ImplEvalSpin},
		harness.Params{SemSize: 4, Weights: []int64{1}})
}

// BenchmarkRedisRWHotKey is BenchmarkRedisHotKey on contend's redis-rw
// scenario: the hot-key load on a reader/writer lock, each acquisition a
// write with probability 0.1, through this module's RWMutex and through
// the eval-spin floor, after this module's Mutex (every acquisition
// exclusive) for the ratios.
func BenchmarkRedisRWHotKey(b *testing.B) {
	hotKeys(b, "redis-rw", []string{suite.ImplRedisMutex, suite.ImplRedisRWMutex, suite.ImplEvalSpin},
		harness.Params{Writes: 0.1})
}

// hotKeys runs hotKey for each of impls of the contend scenario, with the
// knobs of p, on one redis-server that it starts (skipped without one).
func hotKeys(b *testing.B, scenario string, impls []string, p harness.Params) {
	srv, err := redisproc.Start(context.Background())
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(srv.Stop)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { admin.Close() })
	for _, impl := range impls {
		b.Run("impl="+impl, func(b *testing.B) {
			im, ok := suite.Lookup(scenario, impl)
			if !ok {
				b.Fatalf("no implementation %s in %s", impl, scenario)
			}
			hotKey(b, im, srv.Addr, admin, p)
		})
	}
}

// BenchmarkRedisUncontended is one Client's acquisition and release, with
// nobody else about, on a redis-server that it starts (skipped without
// one): this module's Mutex (Obtain and Release, the baseline for
// benchstat -col /impl), Semaphore (Acquire of 1 and Release) and RWMutex
// (ObtainRead or ObtainWrite and Release). Each is two round trips; it
// reports the Redis commands per acquisition (INFO commandstats, which
// counts the commands a script calls too).
//
// On a small VM the loopback round trip is bimodal: a process's first few
// hundred round trips may take a third of the later ones' time, so the
// sub-benchmark that runs first looks faster. For ratios, run each
// implementation in a process of its own, the same number of iterations
// each, rotating the order between rounds:
//
//	go test -c -o bench.test .
//	for r in 0 1 2 3 4 5 6 7; do for i in 0 1 2 3; do
//		im=$(echo redislock.Mutex redislock.Semaphore redislock.RWMutex-read redislock.RWMutex-write | cut -d' ' -f$(( (i+r)%4+1 )))
//		./bench.test -test.run '^$' -test.bench "RedisUncontended/impl=$im\$" -test.benchtime=300x
//	done; done | tee unc.txt; benchstat -col /impl unc.txt
func BenchmarkRedisUncontended(b *testing.B) {
	srv, err := redisproc.Start(context.Background())
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(srv.Stop)
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b.Cleanup(func() { admin.Close() })
	for _, o := range uncontended {
		b.Run("impl="+o.impl, func(b *testing.B) {
			once := uncontendedPair(b, srv.Addr, o.obtain)
			ctx := context.Background()
			once() // loads the script and connects
			cmds0, err := redisproc.CountCommands(ctx, admin)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				once()
				n++
			}
			cmds1, err := redisproc.CountCommands(ctx, admin)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64(cmds1-cmds0)/float64(n), "cmds/acq")
		})
	}
}

// BenchmarkRedisUncontendedPaired is BenchmarkRedisUncontended with the
// Mutex's pair and another's in turn, in one process and on one server:
// each op runs both, first one then the other, so that both see the
// machine in the same state (see BenchmarkRedisUncontended for how much
// that state varies between processes). The others are the Semaphore's
// and RWMutex's pairs and, as impl=setnx-floor, the floor of issue 14: a
// bare SET NX PX and DEL. It reports the time of each pair (ns/pair and
// mutex-ns/pair) and their ratio (x-mutex), the figure of the uncontended
// targets (for the floor, the Mutex's ratio to it is 1/x-mutex).
func BenchmarkRedisUncontendedPaired(b *testing.B) {
	srv, err := redisproc.Start(context.Background())
	if err != nil {
		b.Skip(err)
	}
	b.Cleanup(srv.Stop)
	for _, o := range uncontended[1:] {
		b.Run("impl="+o.impl, func(b *testing.B) {
			paired(b, uncontendedPair(b, srv.Addr, uncontended[0].obtain), uncontendedPair(b, srv.Addr, o.obtain))
		})
	}
	b.Run("impl=setnx-floor", func(b *testing.B) {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, PoolSize: 2, ContextTimeoutEnabled: true,
			ReadTimeout: time.Second, WriteTimeout: time.Second})
		b.Cleanup(func() { rdb.Close() })
		ctx := context.Background()
		key := "bench-once-" + strconv.FormatInt(hotKeyRun.Add(1), 10)
		paired(b, uncontendedPair(b, srv.Addr, uncontended[0].obtain), func() {
			if ok, err := rdb.SetNX(ctx, key, "x", redislock.DefaultTTL).Result(); err != nil || !ok {
				b.Fatalf("SET NX = %v, %v", ok, err)
			}
			if err := rdb.Del(ctx, key).Err(); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// paired runs mutex and other in turn, each first in every other op, and
// reports the time of each and their ratio.
func paired(b *testing.B, mutex, other func()) {
	mutex() // each loads its script and connects
	other()
	var tm, to time.Duration
	timed := func(f func(), d *time.Duration) {
		t0 := time.Now()
		f()
		*d += time.Since(t0)
	}
	n := 0
	for b.Loop() {
		if n%2 == 0 {
			timed(mutex, &tm)
			timed(other, &to)
		} else {
			timed(other, &to)
			timed(mutex, &tm)
		}
		n++
	}
	b.ReportMetric(float64(to.Nanoseconds())/float64(n), "ns/pair")
	b.ReportMetric(float64(tm.Nanoseconds())/float64(n), "mutex-ns/pair")
	b.ReportMetric(float64(to)/float64(tm), "x-mutex")
}

// uncontended are the acquisitions of BenchmarkRedisUncontended, the
// Mutex's first.
var uncontended = []struct {
	impl   string
	obtain func(c *redislock.Client, key string) func(context.Context) (*redislock.Lease, error)
}{
	{"redislock.Mutex", func(c *redislock.Client, key string) func(context.Context) (*redislock.Lease, error) {
		return func(ctx context.Context) (*redislock.Lease, error) { return c.Obtain(ctx, key) }
	}},
	{"redislock.Semaphore", func(c *redislock.Client, key string) func(context.Context) (*redislock.Lease, error) {
		s := c.NewSemaphore(key, 4)
		return func(ctx context.Context) (*redislock.Lease, error) { return s.Acquire(ctx, 1) }
	}},
	{"redislock.RWMutex-read", func(c *redislock.Client, key string) func(context.Context) (*redislock.Lease, error) {
		return c.NewRWMutex(key).ObtainRead
	}},
	{"redislock.RWMutex-write", func(c *redislock.Client, key string) func(context.Context) (*redislock.Lease, error) {
		return c.NewRWMutex(key).ObtainWrite
	}},
}

// uncontendedPair returns one acquisition and release by obtain on a key
// of its own, through a Client of its own on the server at addr, closed
// at the end of b.
func uncontendedPair(b *testing.B, addr string, obtain func(c *redislock.Client, key string) func(context.Context) (*redislock.Lease, error)) func() {
	rdb := redis.NewClient(&redis.Options{Addr: addr, PoolSize: 2, ContextTimeoutEnabled: true,
		ReadTimeout: time.Second, WriteTimeout: time.Second})
	b.Cleanup(func() { rdb.Close() })
	c, err := redislock.New(rdb)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	ctx := context.Background()
	acquire := obtain(c, "bench-once-"+strconv.FormatInt(hotKeyRun.Add(1), 10))
	return func() {
		l, err := acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

var hotKeyRun atomic.Int64 // numbers each run's key

// hotKey runs b.N acquisitions of im by hotKeyWorkers workers; p gives
// the knobs of a semaphore or reader/writer lock, if any.
func hotKey(b *testing.B, im harness.Impl, addr string, admin *redis.Client, p harness.Params) {
	ctx := context.Background()
	env := harness.Env{RedisAddr: addr, Key: "bench-hot-" + strconv.FormatInt(hotKeyRun.Add(1), 10), Dir: os.TempDir()}
	p.Workers, p.Local, p.Section = hotKeyWorkers, hotKeyWorkers, hotKeySection
	inst, err := im.New(env, p)
	if err != nil {
		b.Fatal(err)
	}
	defer inst.Close()
	lockers := make([]harness.Locker, hotKeyWorkers)
	for i := range lockers {
		if lockers[i], err = inst.Worker(i); err != nil {
			b.Fatal(err)
		}
	}
	var remaining atomic.Int64
	remaining.Store(int64(b.N))
	waits := make([]stats.Waits, hotKeyWorkers)
	counts := make([]float64, hotKeyWorkers)
	cmds0, err := redisproc.CountCommands(ctx, admin)
	if err != nil {
		b.Fatal(err)
	}
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for w, l := range lockers {
		wg.Go(func() {
			for remaining.Add(-1) >= 0 {
				t0 := time.Now()
				if err := l.Lock(ctx); err != nil {
					b.Error(err)
					return
				}
				waits[w] = append(waits[w], time.Since(t0))
				counts[w]++
				for t1 := time.Now(); time.Since(t1) < hotKeySection; {
				}
				l.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	cmds1, err := redisproc.CountCommands(ctx, admin)
	if err != nil {
		b.Fatal(err)
	}
	var all stats.Waits
	for _, w := range waits {
		all = append(all, w...)
	}
	p50, p99, mx := all.Summary()
	b.ReportMetric(float64(p50.Nanoseconds()), "p50-wait-ns")
	b.ReportMetric(float64(p99.Nanoseconds()), "p99-wait-ns")
	b.ReportMetric(float64(mx.Nanoseconds()), "max-wait-ns")
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "acq/s")
	b.ReportMetric(float64(cmds1-cmds0)/float64(b.N), "cmds/acq")
	b.ReportMetric(stats.Jain(counts), "jain")
}
