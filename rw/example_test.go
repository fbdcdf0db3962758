package rw_test

import (
	"context"
	"fmt"

	"github.com/codomyrmex/concurrency/rw"
)

type cache struct {
	mu   rw.RWMutex
	data map[string]string
}

func (c *cache) get(ctx context.Context, k string) (string, error) {
	if err := c.mu.RLock(ctx); err != nil {
		return "", err
	}
	defer c.mu.RUnlock()
	return c.data[k], nil
}

func ExampleRWMutex() {
	c := &cache{data: map[string]string{}}
	ctx := context.Background()

	// Refresh under the write lock, then keep reading what was written
	// without letting another writer in between.
	if err := c.mu.Lock(ctx); err != nil {
		return
	}
	c.data["greeting"] = "hello"
	c.mu.Downgrade()
	fmt.Println(c.data["greeting"])
	c.mu.RUnlock()

	v, _ := c.get(ctx, "greeting")
	fmt.Println(v)
	// Output:
	// hello
	// hello
}
