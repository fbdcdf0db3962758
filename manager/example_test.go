package manager_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/codomyrmex/concurrency/lock"
	"github.com/codomyrmex/concurrency/manager"
	"github.com/codomyrmex/concurrency/rw"
)

func ExampleManager_AcquireAll() {
	// Accounts locked on demand: one lock per account name.
	m := manager.New(manager.WithOnDemand())
	balance := map[string]int{"alice": 100, "bob": 20}

	transfer := func(ctx context.Context, from, to string, amount int) error {
		// Any order of names is fine: the Manager takes them sorted, so
		// transfers in opposite directions cannot deadlock.
		h, err := m.AcquireAll(ctx, from, to)
		if err != nil {
			return err
		}
		defer h.Release(ctx)
		balance[from] -= amount
		balance[to] += amount
		return nil
	}

	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		transfer(ctx, "bob", "alice", 5)
		close(done)
	}()
	transfer(ctx, "alice", "bob", 30)
	<-done
	fmt.Println(balance["alice"], balance["bob"])
	// Output: 75 45
}

func ExampleManager_Acquire() {
	m := manager.New()
	var config rw.RWMutex
	var journal lock.Mutex
	m.Register("config", &config)
	m.Register("journal", &journal)

	// Read the configuration (shared with other readers) and append to
	// the journal (exclusively).
	h, err := m.Acquire(context.Background(), manager.Read("config"), manager.Write("journal"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(h.Names())
	fmt.Println(h.Release(context.Background()))
	// Output:
	// [config journal]
	// <nil>
}

func ExampleAcquireError() {
	m := manager.New()
	var a, b lock.Mutex
	m.Register("a", &a)
	m.Register("b", &b)
	b.Lock(context.Background()) // held elsewhere

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	_, err := m.AcquireAll(ctx, "a", "b")
	var ae *manager.AcquireError
	if errors.As(err, &ae) {
		fmt.Println("failed on", ae.Name, "timeout:", errors.Is(err, context.DeadlineExceeded))
	}
	fmt.Println("a locked:", a.Locked()) // taken, then released again
	// Output:
	// failed on b timeout: true
	// a locked: false
}

func ExampleManager_Stats() {
	m := manager.New(manager.WithOnDemand())
	ctx := context.Background()
	for range 3 {
		h, _ := m.AcquireAll(ctx, "jobs", "queue")
		h.Release(ctx)
	}
	st := m.TotalStats()
	fmt.Println(st.Acquisitions, st.Contended, st.Holders)
	// Output: 6 0 0
}

func ExampleWithOrderCheck() {
	m := manager.New(manager.WithOnDemand(), manager.WithOrderCheck(func(v manager.Violation) {
		fmt.Println(v)
	}))
	ctx := context.Background()
	outer, _ := m.AcquireAll(ctx, "b")
	inner, _ := m.AcquireAll(ctx, "a") // nested, but "a" sorts before "b"
	inner.Release(ctx)
	outer.Release(ctx)
	// Output: manager: "a" requested while holding "b", out of canonical order
}
