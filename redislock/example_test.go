package redislock_test

import (
	"context"
	"fmt"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/redislock"
)

// The examples run against miniredis, an in-process Redis; use your own
// server's address instead.
func Example() {
	srv, _ := miniredis.Run()
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{
		Addr:                  srv.Addr(),
		ContextTimeoutEnabled: true, // required: context deadlines bound every call
		ReadTimeout:           time.Second,
		WriteTimeout:          time.Second,
	})
	defer rdb.Close()

	locks, err := redislock.New(rdb)
	if err != nil {
		panic(err)
	}
	defer locks.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	lease, err := locks.Obtain(ctx, "nightly-report")
	if err != nil {
		fmt.Println("not obtained:", err)
		return
	}
	// The watchdog renews the lease until Release. Do the work under
	// lease.Context(): it is cancelled if the lease is lost.
	fmt.Println("held with fencing token", lease.Fence())
	if err := lease.Release(context.WithoutCancel(ctx)); err != nil {
		fmt.Println("the lease was not held throughout:", err)
	}
	// Output: held with fencing token 1
}

// A Mutex is a lock.Locker: Lock's context bounds only the wait.
func ExampleMutex() {
	srv, _ := miniredis.Run()
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()
	locks, _ := redislock.New(rdb)
	defer locks.Close()

	m := locks.NewMutex("inventory")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := m.Lock(ctx); err != nil {
		fmt.Println("not locked:", err)
		return
	}
	fmt.Println("locked, fence", m.Lease().Fence())
	m.Unlock()
	// Output: locked, fence 1
}

// A fencing token guards the protected resource: after a holder's lease
// ran out and another holder wrote, the first holder's late write is
// refused.
func ExampleFencedSet() {
	srv, _ := miniredis.Run()
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()
	// Two Clients, as two processes would have.
	workerA, _ := redislock.New(rdb)
	defer workerA.Close()
	workerB, _ := redislock.New(rdb)
	defer workerB.Close()
	ctx := context.Background()

	first, _ := workerA.Obtain(ctx, "doc", redislock.WithTTL(50*time.Millisecond))
	<-first.Done()                         // A stalls past its TTL...
	srv.FastForward(50 * time.Millisecond) // ...and miniredis expires its key
	second, _ := workerB.Obtain(ctx, "doc")
	defer second.Release(ctx)

	fmt.Println(redislock.FencedSet(ctx, rdb, "doc:body", second.Fence(), "B"))
	fmt.Println(redislock.FencedSet(ctx, rdb, "doc:body", first.Fence(), "A, late"))
	fmt.Println(rdb.HGet(ctx, "doc:body", "value").Val())
	_ = first.Release(ctx)
	// Output:
	// <nil>
	// redislock: fenced write to "doc:body" with token 1: redislock: stale fencing token
	// B
}

// A Semaphore bounds the weight held at once across processes: here, at
// most 4 exports run together, a full export counting for 3.
func ExampleSemaphore() {
	srv, _ := miniredis.Run()
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()
	locks, _ := redislock.New(rdb)
	defer locks.Close()

	exports := locks.NewSemaphore("exports", 4)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	full, err := exports.Acquire(ctx, 3)
	if err != nil {
		fmt.Println("not acquired:", err)
		return
	}
	small, err := exports.Acquire(ctx, 1)
	if err != nil {
		fmt.Println("not acquired:", err)
		return
	}
	if _, err := exports.TryAcquire(ctx, 1); err != nil {
		fmt.Println("a fifth unit:", err)
	}
	st, _ := exports.Stat(ctx)
	fmt.Printf("held %d of %d by %d leases\n", st.Held, st.Size, st.Holders)
	_ = small.Release(ctx)
	_ = full.Release(ctx)
	// Output:
	// a fifth unit: redislock: weight 1 of semaphore "exports" is not free, or others wait: lock: not acquired
	// held 4 of 4 by 2 leases
}

// An RWMutex lets readers share and a writer hold alone; a writer can
// downgrade its lease to a read lease without letting another writer in.
func ExampleRWMutex() {
	srv, _ := miniredis.Run()
	defer srv.Close()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()
	locks, _ := redislock.New(rdb)
	defer locks.Close()

	catalog := locks.NewRWMutex("catalog")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	w, err := catalog.ObtainWrite(ctx)
	if err != nil {
		fmt.Println("not obtained:", err)
		return
	}
	// ... rebuild the catalog, then keep reading it while others read.
	if err := w.Downgrade(ctx); err != nil {
		fmt.Println("not downgraded:", err)
	}
	r, err := catalog.ObtainRead(ctx)
	if err != nil {
		fmt.Println("not obtained:", err)
		return
	}
	fmt.Println("two readers")
	_ = r.Release(ctx)
	_ = w.Release(ctx)
	// Output: two readers
}
