package etcdlock_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/codomyrmex/concurrency/etcdlock"
	"github.com/codomyrmex/concurrency/internal/check"
	"github.com/codomyrmex/concurrency/lock"
)

// hammer runs workers × iterations critical sections on one lock, worker w
// using clients[w % len(clients)], while during runs (if not nil). Four
// oracles watch them: a non-atomic counter in memory (a lost update shows
// as a short count, and the race detector reports the overlap), the hold
// intervals and their fences (no overlap, fences increasing), a write to
// etcd guarded by the lease (IsOwner) that must commit, and porcupine
// over the acquire and release history.
func hammer(t *testing.T, clients []*etcdlock.Client, cli *clientv3.Client, workers, iterations int, during func()) {
	t.Helper()
	ctx := testCtx(t, 90*time.Second)
	var (
		counter check.MemStore
		holds   check.Holds
		hist    check.History
		wg      sync.WaitGroup
	)
	errs := make(chan error, workers)
	for w := range workers {
		m := clients[w%len(clients)].NewMutex("hot")
		wg.Go(func() {
			for range iterations {
				call := hist.Call(w, check.Acquire, 1)
				if err := m.Lock(ctx); err != nil {
					call.Return(check.Failed)
					errs <- err
					return
				}
				call.Return(check.OK)
				l := m.Lease()
				start := check.Now()
				err := check.Increment(&counter)
				if err == nil {
					err = guardedWrite(ctx, cli, l)
				}
				holds.Add(check.Interval{Owner: uint64(w), Weight: 1, Token: l.Fence(), Start: start, End: check.Now()})
				call = hist.Call(w, check.Release, 1)
				if rerr := m.Release(ctx); rerr != nil {
					call.Return(check.Ambiguous)
					t.Logf("worker %d: Release: %v", w, rerr)
				} else {
					call.Return(check.OK)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	if during != nil {
		during()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if err := check.CheckCount(&counter, int64(workers*iterations)); err != nil {
		t.Fatal(err)
	}
	ivs := holds.Intervals()
	if o := check.Overlaps(ivs); len(o) > 0 {
		t.Fatalf("%d overlapping holds, first: %v", len(o), o[0])
	}
	if r := check.TokenRegressions(ivs); len(r) > 0 {
		t.Fatalf("%d fence regressions, first: %v", len(r), r[0])
	}
	if err := check.CheckMutex(hist.Operations(), 30*time.Second); err != nil {
		t.Fatal(err)
	}
}

// guardedWrite writes the lease's fence to the key "resource" in a
// transaction guarded by the lease, which must commit. A write that fails
// because a member or the leader is gone is tried again: the put is the
// same every time, so one applied twice does no harm.
func guardedWrite(ctx context.Context, cli *clientv3.Client, l *etcdlock.Lease) error {
	for {
		r, err := cli.Txn(ctx).If(l.IsOwner()).Then(clientv3.OpPut("resource", strconv.FormatInt(l.Fence(), 10))).Commit()
		switch {
		case err == nil && !r.Succeeded:
			return errors.New("a write guarded by the lease was refused while it was held")
		case err == nil:
			return nil
		case !unavailable(err) || ctx.Err() != nil:
			return err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// unavailable reports whether err says that etcd could not serve the
// request for now (no leader, a timeout, a member gone).
func unavailable(err error) bool {
	if ee, ok := errors.AsType[rpctypes.EtcdError](err); ok {
		return ee.Code() == codes.Unavailable
	}
	return status.Code(err) == codes.Unavailable
}

// clients returns n etcdlock Clients, each on its own etcd client (its own
// connections), as n processes would have.
func clients(t *testing.T, c interface {
	Client(testing.TB, ...string) *clientv3.Client
}, n int, opts ...etcdlock.Option) []*etcdlock.Client {
	cs := make([]*etcdlock.Client, n)
	for i := range cs {
		cs[i] = newClient(t, c.Client(t), opts...)
	}
	return cs
}

func TestContentionOneClient(t *testing.T) {
	_, cli := single(t)
	hammer(t, []*etcdlock.Client{newClient(t, cli)}, cli, 6, 25, nil)
}

func TestContentionManyClients(t *testing.T) {
	c, cli := single(t)
	start := time.Now()
	hammer(t, clients(t, c, 3), cli, 6, 25, nil)
	// 150 handoffs by watch take milliseconds each.
	if d := time.Since(start); d > 30*time.Second {
		t.Fatalf("150 contended acquisitions took %v", d)
	}
}

// TestCancellationStorm: waiters cancelled at random points while the lock
// changes hands leave no key and no goroutine behind (goleak checks the
// goroutines after the test), and the lock stays usable.
func TestCancellationStorm(t *testing.T) {
	_, cli := single(t)
	cs := []*etcdlock.Client{newClient(t, cli), newClient(t, cli)}
	ctx := testCtx(t, 60*time.Second)
	const waiters = 60
	var wg sync.WaitGroup
	var held, cancelled sync.Map
	for i := range waiters {
		wctx, cancel := testCtxCancel(ctx, time.Duration(i%15)*40*time.Millisecond)
		wg.Go(func() {
			defer cancel()
			l, err := cs[i%2].Obtain(wctx, "storm")
			switch {
			case err == nil:
				held.Store(i, true)
				time.Sleep(time.Millisecond)
				if err := l.Release(ctx); err != nil && !errors.Is(err, lock.ErrNotHeld) {
					t.Errorf("waiter %d: Release: %v", i, err)
				}
			case errors.Is(err, wctx.Err()):
				cancelled.Store(i, true)
			default:
				t.Errorf("waiter %d: %v", i, err)
			}
		})
	}
	wg.Wait()
	if !eventually(5*time.Second, func() bool { return len(keys(t, cli, etcdlock.DefaultPrefix)) == 0 }) {
		t.Fatalf("keys left after the storm: %v", keys(t, cli, etcdlock.DefaultPrefix))
	}
	l, err := cs[0].Obtain(ctx, "storm")
	if err != nil {
		t.Fatalf("Obtain after the storm: %v", err)
	}
	_ = l.Release(ctx)
	n := 0
	cancelled.Range(func(any, any) bool { n++; return true })
	h := 0
	held.Range(func(any, any) bool { h++; return true })
	t.Logf("%d of %d waiters cancelled, %d held the lock", n, waiters, h)
	if h == 0 || n == 0 {
		t.Errorf("want some waiters cancelled and some holding")
	}
}
