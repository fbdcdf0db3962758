package suite

import (
	"context"
	"errors"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/codomyrmex/concurrency/benchmarks/internal/etcdproc"
	"github.com/codomyrmex/concurrency/benchmarks/internal/harness"
)

// startEtcd starts an etcd for the test, stopped in its cleanup; it skips
// the test where etcd is not installed.
func startEtcd(t *testing.T) *etcdproc.Server {
	t.Helper()
	srv, err := etcdproc.Start(context.Background())
	if errors.Is(err, etcdproc.ErrNotInstalled) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// TestEtcdExclusion runs every implementation of the etcd scenario (the
// etcd ones on a real etcd, redislock on miniredis) with three workers
// each, and checks that no two hold the lock at once.
func TestEtcdExclusion(t *testing.T) {
	srv := startEtcd(t)
	m := miniredis.RunT(t)
	for _, im := range etcdScenario().Impls {
		t.Run(im.Name, func(t *testing.T) {
			p := harness.Params{Workers: 3, Local: 3, Duration: 300 * time.Millisecond, Section: 100 * time.Microsecond}
			inst, err := im.New(harness.Env{EtcdAddr: srv.Addr, RedisAddr: m.Addr(), Key: "k-" + im.Name}, p)
			if err != nil {
				t.Fatal(err)
			}
			defer inst.Close()
			var holders atomic.Int32
			var overlap atomic.Bool
			lockers := make([]harness.Locker, p.Workers)
			for i := range lockers {
				l, err := inst.Worker(i)
				if err != nil {
					t.Fatal(err)
				}
				lockers[i] = overlapping{l, &holders, &overlap}
			}
			s := harness.Drive(context.Background(), lockers, p)
			if s.Ops == 0 || s.Errors != 0 || overlap.Load() {
				t.Fatalf("ops %d errors %d (%s) overlap %v", s.Ops, s.Errors, s.FirstError, overlap.Load())
			}
		})
	}
}

// TestEtcdUnreachable gives the etcd implementations an address where
// nothing listens: building a worker fails, within the set-up bound, and
// leaves no goroutine behind (TestMain checks).
func TestEtcdUnreachable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	for _, im := range etcdScenario().Impls {
		if etcdScenario().Needs(im.Name) != NeedEtcd {
			continue
		}
		t.Run(im.Name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			inst, err := im.New(harness.Env{EtcdAddr: addr, Key: "k"}, harness.Params{Workers: 1, Local: 1})
			if err == nil {
				_, err = inst.Worker(0)
				inst.Close()
			}
			if err == nil {
				t.Error("no error for an unreachable server")
			}
			if d := time.Since(start); d > etcdCallTimeout+dialTimeout {
				t.Errorf("failed after %v", d)
			}
		})
	}
}
