package etcdlock_test

import (
	"context"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/codomyrmex/concurrency/etcdlock"
)

// The examples need an etcd server on localhost:2379, so they are
// compiled but not run by go test.
func Example() {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"localhost:2379"}, DialTimeout: 2 * time.Second})
	if err != nil {
		panic(err)
	}
	defer cli.Close()
	locks, err := etcdlock.New(cli)
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
}

// A write to etcd guarded by the lease commits only while the lease holds
// the lock, atomically with the check: a holder that was paused past its
// lease cannot overwrite the work of the holder after it.
func ExampleLease_IsOwner() {
	cli, _ := clientv3.New(clientv3.Config{Endpoints: []string{"localhost:2379"}})
	defer cli.Close()
	locks, _ := etcdlock.New(cli)
	defer locks.Close()

	ctx := context.Background()
	lease, err := locks.Obtain(ctx, "inventory")
	if err != nil {
		return
	}
	defer lease.Release(ctx)
	resp, err := cli.Txn(ctx).
		If(lease.IsOwner()).
		Then(clientv3.OpPut("inventory/widgets", "41")).
		Commit()
	switch {
	case err != nil:
		fmt.Println("write failed:", err)
	case !resp.Succeeded:
		fmt.Println("refused: the lease was lost")
	}
}

// A Mutex is a lock.Locker: Lock's context bounds only the wait.
func ExampleMutex() {
	cli, _ := clientv3.New(clientv3.Config{Endpoints: []string{"localhost:2379"}})
	defer cli.Close()
	locks, _ := etcdlock.New(cli, etcdlock.WithWatchdog(10*time.Second, 3*time.Second))
	defer locks.Close()

	m := locks.NewMutex("inventory")
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := m.Lock(ctx); err != nil {
		fmt.Println("not locked:", err)
		return
	}
	defer m.Unlock()
	fmt.Println("locked, fence", m.Lease().Fence())
}
