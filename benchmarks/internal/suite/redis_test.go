package suite

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/codomyrmex/concurrency/benchmarks/internal/harness"
)

// overlapping counts the holders of a Redis lock; the race detector cannot
// see Redis, so exclusion is checked by count.
type overlapping struct {
	harness.Locker
	holders *atomic.Int32
	overlap *atomic.Bool
}

func (o overlapping) Lock(ctx context.Context) error {
	if err := o.Locker.Lock(ctx); err != nil {
		return err
	}
	if o.holders.Add(1) > 1 {
		o.overlap.Store(true)
	}
	return nil
}

func (o overlapping) Unlock() {
	o.holders.Add(-1)
	o.Locker.Unlock()
}

// TestRedisExclusion runs the Redis implementations that miniredis can
// serve (rueidislock needs CLIENT TRACKING, which it lacks) with three
// workers each, and checks that no two hold the key at once.
func TestRedisExclusion(t *testing.T) {
	m := miniredis.RunT(t)
	for _, im := range redisScenario().Impls {
		if im.Name == "rueidislock" {
			continue
		}
		t.Run(im.Name, func(t *testing.T) {
			p := harness.Params{Workers: 3, Local: 3, Duration: 100 * time.Millisecond, Section: 100 * time.Microsecond}
			inst, err := im.New(harness.Env{RedisAddr: m.Addr(), Key: "k-" + im.Name}, p)
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

// TestRedisBrokenServer gives the go-redis based implementations a server
// that hangs up at once: building a worker fails. (A refused dial would
// leave go-redis retrying in the background for a while; rueidis, left
// out, always keeps a reconnecting goroutine sleeping for up to a second
// after Close.)
func TestRedisBrokenServer(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 1000 { // bounded; ends when l closes
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	defer func() { l.Close(); <-done }()
	for _, im := range redisScenario().Impls {
		if im.Name == "rueidislock" {
			continue
		}
		inst, err := im.New(harness.Env{RedisAddr: l.Addr().String(), Key: "k"}, harness.Params{Workers: 1, Local: 1})
		if err == nil {
			_, err = inst.Worker(0)
			inst.Close()
		}
		if err == nil {
			t.Errorf("%s: no error for an unreachable server", im.Name)
		}
	}
}
