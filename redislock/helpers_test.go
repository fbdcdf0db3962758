package redislock_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// lockScript returns lua/lock.lua, for a test to run it as another
// process's Client would.
func lockScript(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile("lua/lock.lua")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// lockKeys returns the KEYS of lua/lock.lua for the lock key.
func lockKeys(key string) []string {
	return []string{key, key + ":fence", key + ":waiters", key + ":waiters:entries"}
}

// queued returns how many tokens wait in the queue of the lock key.
func queued(rdb *redis.Client, key string) int64 {
	return rdb.LLen(context.Background(), key+":waiters").Val()
}

// containsLine reports whether text has a line equal to line (ignoring
// a trailing \r).
func containsLine(text, line string) bool {
	for l := range strings.SplitSeq(text, "\n") {
		if strings.TrimSuffix(l, "\r") == line {
			return true
		}
	}
	return false
}

// infoField returns the value of field in an INFO reply, or "".
func infoField(info, field string) string {
	for l := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSuffix(l, "\r"), field+":"); ok {
			return v
		}
	}
	return ""
}

// commandCalls returns the calls= count of a command in INFO commandstats.
func commandCalls(info, cmd string) int {
	v := infoField(info, "cmdstat_"+cmd)
	for f := range strings.SplitSeq(v, ",") {
		if n, ok := strings.CutPrefix(f, "calls="); ok {
			c, _ := strconv.Atoi(n)
			return c
		}
	}
	return 0
}

// within reports whether d is in [lo, hi].
func within(d, lo, hi time.Duration) bool { return d >= lo && d <= hi }

// eventually polls cond every 5ms until it holds or d has passed.
func eventually(d time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(d); ; time.Sleep(5 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}
