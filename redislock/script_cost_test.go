package redislock

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
)

// semCommandsOnly runs the Redis commands of lua/sem.lua's uncontended
// acquire and release (its fast paths) and nothing else: no argument
// checks, none of the rest of the script.
var semCommandsOnly = redis.NewScript(`
if ARGV[1] == 'release' then
	redis.call('get', KEYS[8])
	redis.call('del', KEYS[8])
	return 1
end
redis.call('exists', KEYS[2], KEYS[3], KEYS[3], KEYS[4], KEYS[4], KEYS[4], KEYS[4],
	KEYS[8], KEYS[8], KEYS[8], KEYS[8], KEYS[8], KEYS[8], KEYS[8], KEYS[8])
redis.call('hget', KEYS[1], 'size')
local fence = redis.call('hincrby', KEYS[1], 'fence', 1)
redis.call('set', KEYS[8], ARGV[2] .. ' 1 ' .. fence, 'PX', ARGV[5])
return {1, fence}
`)

var (
	luaLockScript = redis.NewScript(lockSrc)
	emptyScript   = redis.NewScript(`return 1`)
)

// BenchmarkScriptCost shows where the server's time of an uncontended
// acquire and release goes: an op is one acquire and one release, sent as
// a Client sends them (EVALSHA, the same keys and arguments, one round
// trip each, nothing in between), through
//
//   - impl=lock.lua: the mutex's script;
//   - impl=sem.lua: the semaphore's script, weight 1 of 4;
//   - impl=rw.lua-read, impl=rw.lua-write: the RW lock's script;
//   - impl=sem-commands: the Redis commands that sem.lua runs then, in a
//     script that runs nothing else;
//   - impl=empty: a script that returns at once, with sem.lua's keys and
//     arguments.
//
// It reports srv-µs/op, the server's time per op from INFO commandstats
// (EVALSHA's, which includes the commands the script calls), and
// calls/op, the commands the scripts called.
func BenchmarkScriptCost(b *testing.B) {
	rdb := luaServer(b)
	ctx := context.Background()
	sem, rw := luaSemKeys("cost"), luaRWKeys("cost")
	lck := []string{"lock:{cost}", "lock:{cost}:fence", "lock:{cost}:queue", "lock:{cost}:entries"}
	semAcquire := []any{"acquire", "t", "1", 4, 30000, 1, 0, "", "1"}
	semRelease := []any{"release", "t", "1", 4}
	impls := []struct {
		name         string
		acquire, rel func() error
	}{
		{"lock.lua",
			func() error { return luaLockScript.Run(ctx, rdb, lck, "acquire", "t", "1", 30000, 0, "", "1").Err() },
			func() error { return luaLockScript.Run(ctx, rdb, lck, "release", "t", "1").Err() }},
		{"sem.lua",
			func() error { return luaSemScript.Run(ctx, rdb, sem, semAcquire...).Err() },
			func() error { return luaSemScript.Run(ctx, rdb, sem, semRelease...).Err() }},
		{"rw.lua-read",
			func() error { return luaRWScript.Run(ctx, rdb, rw, "read", "t", "1", 30000, 0, "", "1").Err() },
			func() error { return luaRWScript.Run(ctx, rdb, rw, "release", "t", "1").Err() }},
		{"rw.lua-write",
			func() error { return luaRWScript.Run(ctx, rdb, rw, "write", "u", "1", 30000, 0, "", "1").Err() },
			func() error { return luaRWScript.Run(ctx, rdb, rw, "release", "u", "1").Err() }},
		{"sem-commands",
			func() error { return semCommandsOnly.Run(ctx, rdb, sem, semAcquire...).Err() },
			func() error { return semCommandsOnly.Run(ctx, rdb, sem, semRelease...).Err() }},
		{"empty",
			func() error { return emptyScript.Run(ctx, rdb, sem, semAcquire...).Err() },
			func() error { return emptyScript.Run(ctx, rdb, sem, semRelease...).Err() }},
	}
	for _, im := range impls {
		b.Run("impl="+im.name, func(b *testing.B) {
			once := func() {
				if err := im.acquire(); err != nil {
					b.Fatal(err)
				}
				if err := im.rel(); err != nil {
					b.Fatal(err)
				}
			}
			once() // loads the script
			usec0, calls0 := scriptStats(b, rdb)
			n := 0
			for b.Loop() {
				once()
				n++
			}
			usec1, calls1 := scriptStats(b, rdb)
			b.ReportMetric(float64(usec1-usec0)/float64(n), "srv-µs/op")
			b.ReportMetric(float64(calls1-calls0)/float64(n), "calls/op")
		})
	}
}

// scriptStats returns, from INFO commandstats, the microseconds spent in
// EVALSHA and the calls of every other command except INFO.
func scriptStats(b *testing.B, rdb redis.UniversalClient) (usec, calls int64) {
	b.Helper()
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.SplitSeq(info, "\n") {
		name, stats, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") || name == "cmdstat_info" {
			continue
		}
		for f := range strings.SplitSeq(stats, ",") {
			k, v, _ := strings.Cut(f, "=")
			n, _ := strconv.ParseInt(v, 10, 64)
			switch {
			case name == "cmdstat_evalsha" && k == "usec":
				usec += n
			case name != "cmdstat_evalsha" && k == "calls":
				calls += n
			}
		}
	}
	return usec, calls
}
