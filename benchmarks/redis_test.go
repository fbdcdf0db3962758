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
			hotKey(b, im, srv.Addr, admin)
		})
	}
}

var hotKeyRun atomic.Int64 // numbers each run's key

// hotKey runs b.N acquisitions of im by hotKeyWorkers workers.
func hotKey(b *testing.B, im harness.Impl, addr string, admin *redis.Client) {
	ctx := context.Background()
	env := harness.Env{RedisAddr: addr, Key: "bench-hot-" + strconv.FormatInt(hotKeyRun.Add(1), 10), Dir: os.TempDir()}
	p := harness.Params{Workers: hotKeyWorkers, Local: hotKeyWorkers, Section: hotKeySection}
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
