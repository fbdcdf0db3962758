package redistest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/internal/redistest"
)

// SetUser creates a user limited to its rules: it reads the keys of its
// pattern, and the server refuses other keys, other commands and a wrong
// password.
func TestSetUser(t *testing.T) {
	s := redistest.Start(t)
	s.SetUser("reader", "secret", "~pub:*", "+get")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin := redis.NewClient(&redis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer admin.Close()
	if err := admin.Set(ctx, "pub:a", "1", 0).Err(); err != nil {
		t.Fatal(err)
	}
	user := redis.NewClient(&redis.Options{Addr: s.Addr(), Username: "reader", Password: "secret", MaxRetries: -1})
	defer user.Close()
	if v, err := user.Get(ctx, "pub:a").Result(); err != nil || v != "1" {
		t.Fatalf("GET pub:a as reader = %q, %v", v, err)
	}
	for name, err := range map[string]error{
		"GET outside ~pub:*": user.Get(ctx, "priv:a").Err(),
		"SET":                user.Set(ctx, "pub:a", "2", 0).Err(),
	} {
		if err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
			t.Errorf("%s as reader = %v, want NOPERM", name, err)
		}
	}
	wrong := redis.NewClient(&redis.Options{Addr: s.Addr(), Username: "reader", Password: "wrong", MaxRetries: -1})
	defer wrong.Close()
	if err := wrong.Ping(ctx).Err(); err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Fatalf("PING with a wrong password = %v, want WRONGPASS", err)
	}
}
