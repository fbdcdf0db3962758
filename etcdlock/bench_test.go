package etcdlock_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/codomyrmex/concurrency/etcdlock/internal/etcdtest"
	"github.com/codomyrmex/concurrency/internal/redistest"
	"github.com/codomyrmex/concurrency/redislock"
)

// A locker is what the benchmarks compare: one backend's Obtain (or Lock)
// and Release of the lock "bench".
type locker func(ctx context.Context) (release func(), err error)

// backends returns n independent clients (as n processes would have) of
// each backend on loopback: etcdlock and etcd's own concurrency.Mutex on
// one etcd member, redislock on one redis-server.
func backends(b *testing.B, n int) map[string][]locker {
	out := map[string][]locker{}
	c := etcdtest.Start(b, 1)
	rs := redistest.Start(b)
	for range n {
		el := newClient(b, c.Client(b))
		out["etcdlock"] = append(out["etcdlock"], func(ctx context.Context) (func(), error) {
			l, err := el.Obtain(ctx, "bench")
			if err != nil {
				return nil, err
			}
			return func() { _ = l.Release(ctx) }, nil
		})
		sess, err := concurrency.NewSession(c.Client(b))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = sess.Close() })
		em := concurrency.NewMutex(sess, "etcd-concurrency/bench")
		out["etcd-concurrency"] = append(out["etcd-concurrency"], func(ctx context.Context) (func(), error) {
			if err := em.Lock(ctx); err != nil {
				return nil, err
			}
			return func() { _ = em.Unlock(ctx) }, nil
		})
		rdb := redis.NewClient(&redis.Options{Addr: rs.Addr(), ContextTimeoutEnabled: true, ReadTimeout: time.Second, WriteTimeout: time.Second})
		b.Cleanup(func() { _ = rdb.Close() })
		rl, err := redislock.New(rdb)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = rl.Close() })
		out["redislock"] = append(out["redislock"], func(ctx context.Context) (func(), error) {
			l, err := rl.Obtain(ctx, "bench")
			if err != nil {
				return nil, err
			}
			return func() { _ = l.Release(ctx) }, nil
		})
	}
	return out
}

// BenchmarkObtainRelease is an uncontended acquisition and release on
// loopback, by backend. etcdlock's is three Raft writes (grant, put,
// revoke); etcd's concurrency.Mutex reuses a session's lease, so two
// (put, delete); redislock's two Redis round trips without consensus.
func BenchmarkObtainRelease(b *testing.B) {
	for name, ls := range backends(b, 1) {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			for b.Loop() {
				release, err := ls[0](ctx)
				if err != nil {
					b.Fatal(err)
				}
				release()
			}
		})
	}
}

// BenchmarkHandoff: two clients take turns on one lock, each acquiring
// while the other holds it, so every acquisition but the first waits for
// a release to be handed over (a watch event for etcd, a published
// message for redislock). ns/op is one acquisition and release.
func BenchmarkHandoff(b *testing.B) {
	for name, ls := range backends(b, 2) {
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			var wg sync.WaitGroup
			per := b.N / 2
			b.ResetTimer()
			for _, l := range ls {
				wg.Go(func() {
					for range per {
						release, err := l(ctx)
						if err != nil {
							b.Error(err)
							return
						}
						release()
					}
				})
			}
			wg.Wait()
		})
	}
}
