package benchmarks

import (
	"context"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/benchmarks/internal/stats"
	"github.com/codomyrmex/concurrency/internal/proctest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if name, args, ok := proctest.Helper(); ok {
		if name != flockHolderHelper || len(args) != 2 {
			fmt.Fprintf(os.Stderr, "unknown helper %s %q\n", name, args)
			os.Exit(2)
		}
		os.Exit(runFlockHolder(args[0], args[1]))
	}
	goleak.VerifyTestMain(m)
}

// sink keeps critical sections from being optimised away.
var sink atomic.Uint64

// work spins for roughly n small steps, standing in for a critical section.
func work(n int) {
	x := uint64(n)
	for i := range n {
		x = x*6364136223846793005 + uint64(i)
	}
	if x == 1 {
		sink.Add(1)
	}
}

// fairness runs b.N lock acquisitions shared by workers goroutines, each
// holding the lock for a short critical section, and reports the wait-time
// distribution and Jain's index over how many acquisitions each goroutine
// got.
func fairness(b *testing.B, l Locker, workers, section int) {
	ctx := context.Background()
	var remaining atomic.Int64
	remaining.Store(int64(b.N))
	waits := make([]stats.Waits, workers)
	counts := make([]float64, workers)
	var start, wg sync.WaitGroup
	start.Add(1)
	b.ResetTimer()
	for w := range workers {
		wg.Go(func() {
			start.Wait()
			for remaining.Add(-1) >= 0 {
				t0 := time.Now()
				if err := l.Lock(ctx); err != nil {
					b.Error(err)
					return
				}
				waits[w] = append(waits[w], time.Since(t0))
				counts[w]++
				work(section)
				l.Unlock()
			}
		})
	}
	start.Done()
	wg.Wait()
	b.StopTimer()
	var all stats.Waits
	for _, w := range waits {
		all = append(all, w...)
	}
	reportWaits(b, all)
	b.ReportMetric(stats.Jain(counts), "jain")
}

func reportWaits(b *testing.B, w stats.Waits) {
	p50, p99, mx := w.Summary()
	b.ReportMetric(float64(p50.Nanoseconds()), "p50-wait-ns")
	b.ReportMetric(float64(p99.Nanoseconds()), "p99-wait-ns")
	b.ReportMetric(float64(mx.Nanoseconds()), "max-wait-ns")
}
