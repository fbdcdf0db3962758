package redislock_test

import (
	"context"
	"testing"

	"github.com/codomyrmex/concurrency/redislock"
)

// BenchmarkObtainRelease is an uncontended acquire and release against a
// loopback redis-server: two round trips.
func BenchmarkObtainRelease(b *testing.B) {
	_, rdb := real(b)
	c := newClient(b, rdb)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		l, err := c.Obtain(ctx, "bench")
		if err != nil {
			b.Fatal(err)
		}
		if err := l.Release(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawSetNXDel is the floor: SET NX PX and DEL, without tokens
// checked on release.
func BenchmarkRawSetNXDel(b *testing.B) {
	_, rdb := real(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if !rdb.SetNX(ctx, "bench", "x", redislock.DefaultTTL).Val() {
			b.Fatal("SET NX failed")
		}
		rdb.Del(ctx, "bench")
	}
}
