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

// TestRedisSemRWExclusion runs the implementations of the redis-sem and
// redis-rw scenarios on miniredis with four workers each and checks that
// the semaphore's holders never exceed its size (weights 1 and 2 of 3)
// and that a writer holds alone.
func TestRedisSemRWExclusion(t *testing.T) {
	for _, s := range []Scenario{redisSemScenario(), redisRWScenario()} {
		for _, im := range s.Impls {
			t.Run(s.Name+"/"+im.Name, func(t *testing.T) {
				m := miniredis.RunT(t)
				p := harness.Params{Workers: 4, Local: 4, Duration: 100 * time.Millisecond, Section: 100 * time.Microsecond,
					Writes: 0.3, Weights: []int64{1, 2}, SemSize: 3}
				inst, err := im.New(harness.Env{RedisAddr: m.Addr(), Key: "k"}, p)
				if err != nil {
					t.Fatal(err)
				}
				defer inst.Close()
				var inUse atomic.Int64
				var over atomic.Bool
				lockers := make([]harness.Locker, p.Workers)
				for i := range lockers {
					l, err := inst.Worker(i)
					if err != nil {
						t.Fatal(err)
					}
					lockers[i] = rwWeighing{l, p, i, &inUse, &over}
				}
				sm := harness.Drive(context.Background(), lockers, p)
				if sm.Ops == 0 || sm.Errors != 0 || over.Load() {
					t.Fatalf("ops %d errors %d (%s) exceeded %v", sm.Ops, sm.Errors, sm.FirstError, over.Load())
				}
			})
		}
	}
}

// rwWeighing tracks what the holders of a redis-sem or redis-rw Locker
// take: a semaphore's weight of its size; a writer all of a
// reader/writer lock and a reader 1 (the mutex, which takes it whole,
// counts as a writer).
type rwWeighing struct {
	harness.Locker
	p     harness.Params
	i     int
	inUse *atomic.Int64
	over  *atomic.Bool
}

// weight returns what the held Locker takes, and of how much.
func (c rwWeighing) weight() (int64, int64) {
	const all = 1 << 20
	switch l := c.Locker.(type) {
	case *redisSemWorker, *semSpinWorker:
		return c.p.Weight(c.i), c.p.SemSize
	case *redisRWWorker:
		return weightOf(l.writing, all), all
	case *rwSpinWorker:
		return weightOf(l.writing, all), all
	}
	return all, all
}

func weightOf(writing bool, all int64) int64 {
	if writing {
		return all
	}
	return 1
}

func (c rwWeighing) Lock(ctx context.Context) error {
	if err := c.Locker.Lock(ctx); err != nil {
		return err
	}
	if w, size := c.weight(); c.inUse.Add(w) > size {
		c.over.Store(true)
	}
	return nil
}

func (c rwWeighing) Unlock() {
	w, _ := c.weight()
	c.inUse.Add(-w)
	c.Locker.Unlock()
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
