package manager_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/manager"
	"github.com/codomyrmex/concurrency/redislock"
)

// A *redislock.Mutex is tried first through its TryLock(ctx) error: an
// acquisition of a free lock takes it in one try, and one that finds it
// held by another client counts as contended.
func TestRedisMutex(t *testing.T) {
	srv := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr(), ContextTimeoutEnabled: true})
	defer rdb.Close()
	c, err := redislock.New(rdb)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	ctx := context.Background()
	m := manager.New()
	if err := m.Register("r", c.NewMutex("jobs")); err != nil {
		t.Fatal(err)
	}
	h, err := m.AcquireAll(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if st, _ := m.Stats("r"); st.Acquisitions != 1 || st.Contended != 0 || st.WaitTotal != 0 {
		t.Fatalf("stats %+v, want an acquisition that did not wait", st)
	}

	other := c.NewMutex("jobs")
	if err := other.Lock(ctx); err != nil {
		t.Fatal(err)
	}
	defer other.Unlock()
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := m.AcquireAll(short, "r"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("AcquireAll of a held lock = %v, want context.DeadlineExceeded", err)
	}
	if st, _ := m.Stats("r"); st.Contended != 1 || st.Cancellations != 1 || st.Holders != 0 {
		t.Fatalf("stats %+v, want one contended, cancelled acquisition", st)
	}
}
