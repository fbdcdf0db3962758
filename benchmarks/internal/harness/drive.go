package harness

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// maxOpsPerWorker bounds every worker's loop in count; the window bounds it
// in time.
const maxOpsPerWorker = 1 << 40

// maxErrors is how many failed Locks a worker tolerates before it stops.
const maxErrors = 100

// Drive runs one worker goroutine per Locker for p.Duration: each takes its
// Locker, holds it for p.Section (spinning, not sleeping), releases it, and
// starts again. When the window closes, or ctx ends, the workers' contexts
// are cancelled and Drive waits for them. Worker i of lockers is worker
// p.First+i of the run.
func Drive(ctx context.Context, lockers []Locker, p Params) Sample {
	states := make([]Sample, len(lockers))
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var stop atomic.Bool
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, l := range lockers {
		st := &states[i]
		wg.Go(func() {
			<-start
			for range maxOpsPerWorker {
				if stop.Load() {
					return
				}
				t0 := time.Now()
				if err := l.Lock(runCtx); err != nil {
					if stop.Load() || runCtx.Err() != nil {
						st.Waits.Record(time.Since(t0))
						return
					}
					if st.Errors++; st.Errors == 1 {
						st.FirstError = fmt.Sprintf("worker %d: %v", p.First+i, err)
					}
					if st.Errors >= maxErrors {
						return
					}
					continue
				}
				st.Waits.Record(time.Since(t0))
				Spin(p.Section)
				l.Unlock()
				if stop.Load() {
					return
				}
				st.Ops++
			}
		})
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0, cpuOK := processCPU()
	t0 := time.Now()
	timer := time.NewTimer(p.Duration)
	close(start)
	interrupted := false
	select {
	case <-timer.C:
	case <-ctx.Done():
		timer.Stop()
		interrupted = true
	}
	stop.Store(true)
	window := time.Since(t0)
	cpu1, cpuOK1 := processCPU()
	cpu := cpu1 - cpu0
	if !cpuOK || !cpuOK1 {
		cpu = -1
	}
	cancel()
	wg.Wait()
	runtime.ReadMemStats(&after)

	out := Sample{Window: window, Mallocs: after.Mallocs - before.Mallocs, CPU: cpu, Interrupted: interrupted}
	for i := range states {
		s := &states[i]
		s.Counts = []int64{s.Ops}
		out.Merge(s)
	}
	return out
}

// Spin busy-waits for d, standing in for a critical section that uses the
// CPU. It returns at once for d <= 0.
func Spin(d time.Duration) {
	if d <= 0 {
		return
	}
	for t0 := time.Now(); time.Since(t0) < d; {
	}
}
