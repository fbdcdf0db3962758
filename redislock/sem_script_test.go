package redislock

// Script-level tests of lua/sem.lua against a real redis-server: what the
// Go semaphore will rely on, before it exists. Helpers shared with
// rw_script_test.go are here (prefixed lua).

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/internal/redistest"
)

var luaSemScript = redis.NewScript(semSrc)

// luaServer starts a redis-server for a script test (or skips, see
// redistest) and returns a client for it.
func luaServer(t testing.TB) *redis.Client {
	t.Helper()
	s := redistest.Start(t)
	rdb := redis.NewClient(&redis.Options{
		Addr:                  s.Addr(),
		ContextTimeoutEnabled: true,
		ReadTimeout:           5 * time.Second,
		WriteTimeout:          5 * time.Second,
		PoolSize:              16,
	})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// luaSubscribe subscribes to channel, waits for the confirmation and
// returns the subscription, closed at the end of the test.
func luaSubscribe(t testing.TB, rdb redis.UniversalClient, channel string) *redis.PubSub {
	t.Helper()
	ctx := context.Background()
	ps := rdb.Subscribe(ctx, channel)
	t.Cleanup(func() { _ = ps.Close() })
	if _, err := ps.ReceiveTimeout(ctx, 5*time.Second); err != nil {
		t.Fatalf("subscribe %s: %v", channel, err)
	}
	return ps
}

// luaMessages returns the next n messages on ps, failing the test if they
// do not come within 5s.
func luaMessages(t testing.TB, ps *redis.PubSub, n int) []string {
	t.Helper()
	var got []string
	for len(got) < n {
		m, err := ps.ReceiveTimeout(context.Background(), 5*time.Second)
		if err != nil {
			t.Fatalf("after %q: %v", got, err)
		}
		if msg, ok := m.(*redis.Message); ok {
			got = append(got, msg.Payload)
		}
	}
	return got
}

// luaNoMessage fails the test if a message comes on ps within 100ms.
func luaNoMessage(t testing.TB, ps *redis.PubSub) {
	t.Helper()
	m, err := ps.ReceiveTimeout(context.Background(), 100*time.Millisecond)
	if err == nil {
		if msg, ok := m.(*redis.Message); ok {
			t.Fatalf("unexpected message %q", msg.Payload)
		}
	}
}

// luaInts converts a script's array reply of integers.
func luaInts(t testing.TB, cmd *redis.Cmd) []int64 {
	t.Helper()
	v, err := cmd.Result()
	if err != nil {
		t.Fatal(err)
	}
	a, ok := v.([]any)
	if !ok {
		t.Fatalf("reply %#v is not an array", v)
	}
	r := make([]int64, len(a))
	for i, x := range a {
		n, ok := x.(int64)
		if !ok {
			t.Fatalf("reply %#v: element %d is not an integer", v, i)
		}
		r[i] = n
	}
	return r
}

// luaPairs turns a flat [member, score, ...] or [field, value, ...] reply
// into a map.
func luaPairs(v any) map[string]string {
	a, _ := v.([]any)
	m := make(map[string]string, len(a)/2)
	for i := 0; i+1 < len(a); i += 2 {
		m[fmt.Sprint(a[i])] = fmt.Sprint(a[i+1])
	}
	return m
}

// luaMembers returns the members of a flat [member, score, ...] reply, in
// order.
func luaMembers(v any) []string {
	a, _ := v.([]any)
	var r []string
	for i := 0; i+1 < len(a); i += 2 {
		r = append(r, fmt.Sprint(a[i]))
	}
	return r
}

func luaInt(s string) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		f, _ := strconv.ParseFloat(s, 64)
		return int64(f)
	}
	return n
}

// luaSemKeys returns the KEYS of lua/sem.lua for the semaphore name with
// the default prefix.
func luaSemKeys(name string) []string {
	r := "lock:{" + name + "}:sem"
	return []string{r, r + ":holders", r + ":weights", r + ":queue", r + ":deadlines", r + ":wants", r + ":entries", r + ":solo"}
}

// A luaSem calls lua/sem.lua on one semaphore as a Client would.
type luaSem struct {
	t     testing.TB
	rdb   redis.UniversalClient
	keys  []string
	size  int64 // ARGV[4]
	probe string
}

func newLuaSem(t testing.TB, rdb redis.UniversalClient, name string, size int64) *luaSem {
	return &luaSem{t: t, rdb: rdb, keys: luaSemKeys(name), size: size, probe: "1"}
}

func (s *luaSem) run(args ...any) *redis.Cmd {
	return luaSemScript.Run(context.Background(), s.rdb, s.keys, args...)
}

// acquire calls acquire for tok with weight n, a TTL and a queue entry's
// lifetime (ms), on channel ("" for none), and returns the reply.
func (s *luaSem) acquire(tok string, n, ttl, entry int64, channel string) []int64 {
	s.t.Helper()
	return luaInts(s.t, s.run("acquire", tok, s.probe, s.size, ttl, n, entry, channel, "7"))
}

func (s *luaSem) int(args ...any) int64 {
	s.t.Helper()
	v, err := s.run(args...).Int64()
	if err != nil {
		s.t.Fatal(err)
	}
	return v
}

func (s *luaSem) release(tok string) int64 { return s.int("release", tok, s.probe, s.size) }

func (s *luaSem) renew(tok string, ttl int64) int64 {
	return s.int("renew", tok, s.probe, s.size, ttl)
}

func (s *luaSem) resize(size int64) []int64 {
	s.t.Helper()
	return luaInts(s.t, s.run("resize", "", s.probe, size))
}

func (s *luaSem) stat() []int64 {
	s.t.Helper()
	return luaInts(s.t, s.run("stat", "", s.probe, s.size))
}

// luaSemSnapshot reads every key of a semaphore at once.
var luaSemSnapshot = redis.NewScript(`
local t = redis.call('time')
return {t[1] * 1000 + math.floor(t[2] / 1000),
	redis.call('hgetall', KEYS[1]),
	redis.call('zrange', KEYS[2], 0, -1, 'withscores'),
	redis.call('hgetall', KEYS[3]),
	redis.call('zrange', KEYS[4], 0, -1, 'withscores'),
	redis.call('zrange', KEYS[5], 0, -1, 'withscores'),
	redis.call('zrange', KEYS[6], 0, -1, 'withscores'),
	redis.call('hgetall', KEYS[7]),
	redis.call('get', KEYS[8]) or '',
	redis.call('pttl', KEYS[8]),
	redis.call('exists', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7]),
	redis.call('pexpiretime', KEYS[3])}`)

// A semState is a semaphore's keys at one moment. A solo holder (KEYS[8])
// is in holders and weights as if it were in KEYS[2] and KEYS[3].
type semState struct {
	now       int64
	size      int64
	fence     int64
	holders   map[string]int64 // token -> deadline
	weights   map[string]string
	queue     []string
	deadlines map[string]int64
	wants     map[string]int64
	entries   map[string]string
	solo      string // the solo holder's token, "" if none
	others    int64  // how many of KEYS[2] to KEYS[7] exist
	weightsAt int64  // KEYS[3]'s PEXPIRETIME (-2: no key)
}

func (s *luaSem) snapshot() semState {
	s.t.Helper()
	v, err := luaSemSnapshot.Run(context.Background(), s.rdb, s.keys).Result()
	if err != nil {
		s.t.Fatal(err)
	}
	a := v.([]any)
	meta := luaPairs(a[1])
	st := semState{
		now: a[0].(int64), size: luaInt(meta["size"]), fence: luaInt(meta["fence"]),
		holders: map[string]int64{}, weights: luaPairs(a[3]), queue: luaMembers(a[4]),
		deadlines: map[string]int64{}, wants: map[string]int64{}, entries: luaPairs(a[7]),
	}
	for k, v := range luaPairs(a[2]) {
		st.holders[k] = luaInt(v)
	}
	for k, v := range luaPairs(a[5]) {
		st.deadlines[k] = luaInt(v)
	}
	for k, v := range luaPairs(a[6]) {
		st.wants[k] = luaInt(v)
	}
	st.others, st.weightsAt = a[10].(int64), a[11].(int64)
	if f := strings.Fields(a[8].(string)); len(f) == 3 {
		st.solo = f[0]
		st.holders[f[0]] = st.now + a[9].(int64)
		st.weights[f[0]] = f[1] + " " + f[2]
		st.weights[""] = f[1]
	}
	return st
}

// luaSemEndSolo moves the solo holder KEYS[8], if its token is ARGV[1],
// into KEYS[2] and KEYS[3] as lua/sem.lua does, but with a lease that has
// ended (deadline 1), for a test that ends leases.
var luaSemEndSolo = redis.NewScript(`
local v = redis.call('get', KEYS[8])
local h, w, fence = string.match(v or '', '^(%S+) (%d+) (%d+)$')
if h ~= ARGV[1] then
	return 0
end
redis.call('del', KEYS[8])
redis.call('zadd', KEYS[2], 1, h)
redis.call('hset', KEYS[3], h, w .. ' ' .. fence, '', w)
redis.call('pexpire', KEYS[2], 60000)
redis.call('pexpire', KEYS[3], 61000)
return 1`)

// end ends the lease of holder tok: its deadline is in the past, and the
// next call reclaims its weight.
func (s *luaSem) end(tok string) {
	s.t.Helper()
	ctx := context.Background()
	if err := luaSemEndSolo.Run(ctx, s.rdb, s.keys, tok).Err(); err != nil {
		s.t.Fatal(err)
	}
	if err := s.rdb.ZAddXX(ctx, s.keys[1], redis.Z{Score: 1, Member: tok}).Err(); err != nil {
		s.t.Fatal(err)
	}
}

// weight returns the weight and fence of holder h.
func (st semState) weight(h string) (w, fence int64) {
	f := strings.Fields(st.weights[h])
	if len(f) != 2 {
		return -1, -1
	}
	return luaInt(f[0]), luaInt(f[1])
}

// check verifies the invariants that hold between any two calls: a solo
// holder is alone (none of KEYS[2] to KEYS[7] exists); the sum
// matches the holders' weights and, unless the size shrank below what was
// held, stays within the size; the queue's keys agree; and the live head
// of the queue does not fit (else a call would have granted it), unless
// the holders' key has expired since the last call.
func (st semState) check(t testing.TB, shrunk bool) {
	t.Helper()
	if st.solo != "" && st.others != 0 {
		t.Fatalf("solo holder %s with %d of the other keys", st.solo, st.others)
	}
	var sum int64
	for h := range st.holders {
		w, _ := st.weight(h)
		if w < 1 {
			t.Fatalf("holder %s without a weight: %q", h, st.weights[h])
		}
		sum += w
	}
	total := int64(0)
	if len(st.holders) > 0 {
		total = luaInt(st.weights[""])
	}
	if total != sum {
		t.Fatalf("sum %d, weights of the holders %d: %+v", total, sum, st)
	}
	// The weights outlive the holders' key by a second, on purpose (see
	// lua/sem.lua): once it has expired, the next call deletes them.
	for k := range st.weights {
		if _, ok := st.holders[k]; !ok && k != "" && len(st.holders) > 0 {
			t.Fatalf("weight of %q, not a holder", k)
		}
	}
	if !shrunk && sum > st.size {
		t.Fatalf("%d held, size %d: %+v", sum, st.size, st)
	}
	if len(st.deadlines) != len(st.queue) || len(st.wants) != len(st.queue) || len(st.entries) != len(st.queue) {
		t.Fatalf("queue keys disagree: %+v", st)
	}
	for _, w := range st.queue {
		if _, ok := st.holders[w]; ok {
			t.Fatalf("%s both holds and waits", w)
		}
		if st.wants[w] > st.size || st.wants[w] < 1 {
			t.Fatalf("%s waits for %d, size %d", w, st.wants[w], st.size)
		}
		if _, ok := st.deadlines[w]; !ok {
			t.Fatalf("%s has no deadline", w)
		}
	}
	// The weights outlive the holders' key by a second: if it is gone and
	// they are not, it expired, with the last lease, after the last call,
	// and the next call grants the head.
	lapsed := len(st.holders) == 0 && st.weightsAt >= 0 && st.weightsAt-1000 <= st.now
	if len(st.queue) > 0 && !lapsed {
		head := st.queue[0]
		if st.deadlines[head] > st.now && sum+st.wants[head] <= st.size {
			t.Fatalf("live head %s (%d) fits: %d held of %d", head, st.wants[head], sum, st.size)
		}
	}
}

// luaWorkerT is a testing.TB for a goroutine other than the test's:
// Fatal and Fatalf report the error and end that goroutine only.
type luaWorkerT struct{ testing.TB }

func (w luaWorkerT) Fatal(args ...any) {
	w.TB.Helper()
	w.TB.Error(args...)
	runtime.Goexit()
}

func (w luaWorkerT) Fatalf(format string, args ...any) {
	w.TB.Helper()
	w.TB.Errorf(format, args...)
	runtime.Goexit()
}

func luaWant(t testing.TB, what string, got, want []int64) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Fatalf("%s = %v, want %v", what, got, want)
	}
}

// TestSemScriptGrantQueueHandoff: grants within the size, queues beyond
// it, never lets a newcomer past a queued waiter, and hands weight on at
// release, to as many waiters at the head as fit, with one message each.
func TestSemScriptGrantQueueHandoff(t *testing.T) {
	rdb := luaServer(t)
	ps := luaSubscribe(t, rdb, "client:1")
	s := newLuaSem(t, rdb, "pool", 3)

	luaWant(t, "A(2)", s.acquire("A", 2, 60000, 3000, "client:1"), []int64{1, 1})
	if r := s.acquire("B", 2, 60000, 3000, "client:1"); r[0] != 0 {
		t.Fatalf("B(2) = %v, want queued", r)
	}
	// C fits (2+1 <= 3), but B is ahead: head-of-line blocking.
	if r := s.acquire("C", 1, 60000, 3000, "client:1"); r[0] != 0 {
		t.Fatalf("C(1) = %v, want queued behind B", r)
	}
	// A caller that does not wait is not granted past the queue either,
	// and not queued.
	if r := s.acquire("D", 1, 60000, 0, "client:1"); r[0] != 0 {
		t.Fatalf("D(1, no wait) = %v", r)
	}
	luaWant(t, "stat", s.stat(), []int64{3, 2, 2, 1})
	if r := s.acquire("E", 4, 60000, 3000, "client:1"); r[0] != -1 || r[1] != 3 {
		t.Fatalf("E(4) = %v, want too large for 3", r)
	}
	st := s.snapshot()
	st.check(t, false)
	if !slices.Equal(st.queue, []string{"B", "C"}) {
		t.Fatalf("queue %v", st.queue)
	}
	luaNoMessage(t, ps)

	if r := s.release("A"); r != 1 {
		t.Fatalf("release(A) = %d", r)
	}
	got := luaMessages(t, ps, 2)
	if !slices.Equal(got, []string{"B 2 7", "C 3 7"}) {
		t.Fatalf("messages %q", got)
	}
	luaWant(t, "stat", s.stat(), []int64{3, 3, 0, 2})
	st = s.snapshot()
	st.check(t, false)
	// A grantee holds until its entry's deadline, until it claims.
	if d := st.holders["B"] - st.now; d > 3000 || d < 2000 {
		t.Fatalf("B's lease ends in %dms, want its entry's 3s", d)
	}
	// Its claim (or a retried acquire) gets the fence of its grant and a
	// full TTL, and bumps nothing.
	luaWant(t, "B claims", s.acquire("B", 2, 60000, 3000, "client:1"), []int64{1, 2})
	st = s.snapshot()
	if d := st.holders["B"] - st.now; d < 59000 || st.fence != 3 {
		t.Fatalf("after the claim: B's lease ends in %dms, fence %d", d, st.fence)
	}
	if r := s.release("A"); r != 0 {
		t.Fatalf("second release(A) = %d", r)
	}
	s.release("B")
	s.release("C")
	luaWant(t, "stat", s.stat(), []int64{3, 0, 0, 0})
	// Only the permanent hash (size and fence) is left.
	if keys := rdb.Keys(context.Background(), "*").Val(); !slices.Equal(keys, []string{"lock:{pool}:sem"}) {
		t.Fatalf("keys left: %q", keys)
	}
}

// TestSemScriptHeadOfLine: a big request at the head is not starved by
// small ones behind it, which wait although they would fit; a waiter at
// the head that gives up lets those behind it in.
func TestSemScriptHeadOfLine(t *testing.T) {
	rdb := luaServer(t)
	s := newLuaSem(t, rdb, "hol", 4)
	luaWant(t, "A(3)", s.acquire("A", 3, 60000, 3000, ""), []int64{1, 1})
	s.acquire("BIG", 4, 60000, 3000, "")
	for i := range 5 {
		if r := s.acquire("small"+strconv.Itoa(i), 1, 60000, 3000, ""); r[0] != 0 {
			t.Fatalf("small %d = %v, want queued behind BIG", i, r)
		}
	}
	s.release("A")
	st := s.snapshot()
	st.check(t, false)
	if w, _ := st.weight("BIG"); w != 4 || len(st.holders) != 1 || len(st.queue) != 5 {
		t.Fatalf("after A's release: %+v", st)
	}
	s.release("BIG")
	st = s.snapshot()
	st.check(t, false)
	if len(st.holders) != 4 || !slices.Equal(st.queue, []string{"small4"}) {
		t.Fatalf("after BIG's release: %+v", st)
	}

	// The head gives up: those behind it that fit are granted.
	s2 := newLuaSem(t, rdb, "hol2", 3)
	s2.acquire("A", 2, 60000, 3000, "")
	s2.acquire("B", 2, 60000, 3000, "")
	s2.acquire("C", 1, 60000, 3000, "")
	if r := s2.release("B"); r != 0 {
		t.Fatalf("release of waiting B = %d", r)
	}
	st = s2.snapshot()
	st.check(t, false)
	if _, ok := st.holders["C"]; !ok || len(st.queue) != 0 {
		t.Fatalf("C not granted when B gave up: %+v", st)
	}
}

// TestSemScriptExpiry: a holder that stops renewing loses its weight on
// its own, without touching the live holders; a dead waiter at the head
// does not block those behind it.
func TestSemScriptExpiry(t *testing.T) {
	rdb := luaServer(t)
	s := newLuaSem(t, rdb, "exp", 3)
	luaWant(t, "dead(2)", s.acquire("dead", 2, 100, 3000, ""), []int64{1, 1})
	luaWant(t, "live(1)", s.acquire("live", 1, 60000, 3000, ""), []int64{1, 2})
	if r := s.acquire("W", 2, 60000, 3000, ""); r[0] != 0 || r[1] > 100 || r[1] < 0 {
		t.Fatalf("W(2) = %v, want queued, the first lease ending within 100ms", r)
	}
	// The live holder renews; that keeps nobody else's lease.
	for range 3 {
		time.Sleep(50 * time.Millisecond)
		if s.renew("live", 60000) != 1 {
			t.Fatal("live holder's renewal failed")
		}
	}
	st := s.snapshot()
	st.check(t, false)
	if _, ok := st.holders["dead"]; ok {
		t.Fatalf("dead holder still there after its TTL: %+v", st)
	}
	// Its weight went to W in the same call that reclaimed it.
	if w, _ := st.weight("W"); w != 2 || st.weights[""] != "3" {
		t.Fatalf("W not granted the reclaimed weight: %+v", st)
	}
	if s.renew("dead", 60000) != 0 || s.release("dead") != 0 {
		t.Fatal("the dead holder renewed or released")
	}

	// A waiter whose entry dies is skipped.
	s2 := newLuaSem(t, rdb, "exp2", 2)
	s2.acquire("A", 2, 60000, 3000, "")
	s2.acquire("gone", 2, 60000, 100, "")
	s2.acquire("next", 1, 60000, 3000, "")
	time.Sleep(150 * time.Millisecond)
	luaWant(t, "stat", s2.stat(), []int64{2, 2, 1, 1})
	s2.release("A")
	st = s2.snapshot()
	st.check(t, false)
	if _, ok := st.holders["next"]; !ok || len(st.queue) != 0 {
		t.Fatalf("next not granted: %+v", st)
	}
	// Every key has a TTL but the permanent hash.
	for _, k := range s2.keys[1:] {
		if ttl := rdb.PTTL(context.Background(), k).Val(); ttl == -1 {
			t.Fatalf("%s has no TTL", k)
		}
	}
}

// TestSemScriptRenewNeverRecreates: a renewal after the lease ended
// fails and leaves nothing; a waiter's token cannot renew itself into a
// holder.
func TestSemScriptRenewNeverRecreates(t *testing.T) {
	rdb := luaServer(t)
	s := newLuaSem(t, rdb, "renew", 2)
	luaWant(t, "A", s.acquire("A", 2, 1000, 3000, ""), []int64{1, 1})
	if s.renew("A", 60000) != 1 {
		t.Fatal("renewal within the TTL failed")
	}
	st := s.snapshot()
	if d := st.holders["A"] - st.now; d < 59000 {
		t.Fatalf("renewed lease ends in %dms", d)
	}
	s.acquire("B", 1, 60000, 3000, "")
	if s.renew("B", 60000) != 0 {
		t.Fatal("a waiter renewed")
	}

	s2 := newLuaSem(t, rdb, "renew2", 2)
	s2.acquire("A", 2, 50, 3000, "")
	time.Sleep(100 * time.Millisecond)
	if s2.renew("A", 60000) != 0 {
		t.Fatal("renewal after the lease ended succeeded")
	}
	luaWant(t, "stat", s2.stat(), []int64{2, 0, 0, 0})
	if s2.release("A") != 0 {
		t.Fatal("release after the lease ended succeeded")
	}
	// A later acquire with that token is a new grant, with a new fence.
	luaWant(t, "A again", s2.acquire("A", 2, 60000, 3000, ""), []int64{1, 2})
}

// TestSemScriptResize: a grow grants the waiters that now fit, with a
// message; a shrink revokes nothing, fails (with a message) the waiters
// whose weight exceeds the new size, and admits nobody until the weight
// held fits.
func TestSemScriptResize(t *testing.T) {
	rdb := luaServer(t)
	ps := luaSubscribe(t, rdb, "c")
	s := newLuaSem(t, rdb, "resize", 2)
	s.acquire("A", 2, 60000, 3000, "c")
	s.acquire("B", 1, 60000, 3000, "c")
	s.acquire("C", 1, 60000, 3000, "c")
	luaWant(t, "grow to 4", s.resize(4), []int64{4, 4, 0, 3})
	if got := luaMessages(t, ps, 2); !slices.Equal(got, []string{"B 2 7", "C 3 7"}) {
		t.Fatalf("messages %q", got)
	}
	// The stored size wins over a Client's.
	s.size = 100
	luaWant(t, "stat", s.stat(), []int64{4, 4, 0, 3})

	s.acquire("F", 3, 60000, 3000, "c")
	s.acquire("D", 1, 60000, 3000, "c")
	luaWant(t, "shrink to 2", s.resize(2), []int64{2, 4, 1, 3})
	if got := luaMessages(t, ps, 1); !slices.Equal(got, []string{"F -1 2"}) {
		t.Fatalf("messages %q", got)
	}
	s.snapshot().check(t, true)
	// F learns it on its refresh too, if the message was lost.
	luaWant(t, "F refreshes", s.acquire("F", 3, 60000, 3000, "c"), []int64{-1, 2})
	s.release("A")
	luaWant(t, "stat", s.stat(), []int64{2, 2, 1, 2}) // B and C: full
	luaNoMessage(t, ps)
	s.release("B")
	if got := luaMessages(t, ps, 1); !slices.Equal(got, []string{"D 4 7"}) {
		t.Fatalf("messages %q", got)
	}
	s.snapshot().check(t, false)
	luaWant(t, "shrink to 0", s.resize(0), []int64{0, 2, 0, 2})
	if r := s.acquire("E", 1, 60000, 3000, "c"); r[0] != -1 {
		t.Fatalf("acquire on size 0 = %v", r)
	}
}

// TestSemScriptProbe: on one server, a waiter whose Client is gone (its
// message reached nobody) is skipped and the next one served; without
// the probe (Cluster) the grant stands until its entry's deadline.
func TestSemScriptProbe(t *testing.T) {
	rdb := luaServer(t)
	ps := luaSubscribe(t, rdb, "alive")
	for _, probe := range []string{"1", "0"} {
		s := newLuaSem(t, rdb, "probe"+probe, 1)
		s.probe = probe
		s.acquire("A", 1, 60000, 3000, "alive")
		s.acquire("ghost", 1, 60000, 3000, "gone")
		s.acquire("B", 1, 60000, 3000, "alive")
		s.release("A")
		st := s.snapshot()
		st.check(t, false)
		_, ghost := st.holders["ghost"]
		_, b := st.holders["B"]
		if probe == "1" {
			if ghost || !b {
				t.Fatalf("probe on: ghost holds %v, B holds %v", ghost, b)
			}
			// The skipped grant burnt fence 2.
			if got := luaMessages(t, ps, 1); !slices.Equal(got, []string{"B 3 7"}) {
				t.Fatalf("messages %q", got)
			}
		} else {
			if !ghost || b {
				t.Fatalf("probe off: ghost holds %v, B holds %v", ghost, b)
			}
			if d := st.holders["ghost"] - st.now; d > 3000 {
				t.Fatalf("ghost's grant ends in %dms, after its entry", d)
			}
		}
	}
}

// TestSemScriptBadInput: bad arguments are refused before anything is
// written.
func TestSemScriptBadInput(t *testing.T) {
	rdb := luaServer(t)
	s := newLuaSem(t, rdb, "bad", 2)
	for _, args := range [][]any{
		{"acquire", "A", "1", 2, 1000, 0, 0, "", "0"},   // weight 0
		{"acquire", "A", "1", 2, 0, 1, 0, "", "0"},      // TTL 0
		{"acquire", "A", "1", 2, 1000, 1, -1, "", "0"},  // negative lifetime
		{"acquire", "A", "1", 2, 1000, 1.5, 0, "", "0"}, // fractional weight
		{"acquire", "", "1", 2, 1000, 1, 0, "", "0"},    // empty token
		{"acquire", "A B", "1", 2, 1000, 1, 0, "", "0"}, // token with a space
		{"acquire", "A", "1", 2, 1000, 1, 0, "", "x"},   // stamp
		{"acquire", "A", "1", -1, 1000, 1, 0, "", "0"},  // size
		{"renew", "A", "1", 2, "nan"},
		{"resize", "", "1", "inf"},
		{"frobnicate", "A", "1", 2},
	} {
		if err := s.run(args...).Err(); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	if n := rdb.DBSize(context.Background()).Val(); n != 0 {
		t.Fatalf("bad input wrote %d keys", n)
	}
}

// A semModel is what lua/sem.lua does when no lease or entry ends and
// every grant stands (no channel): the reference of TestSemScriptModel.
type semModel struct {
	size, fence int64
	holders     map[string][2]int64 // weight, fence
	queue       []string
	wants       map[string]int64
	ended       map[string]bool // holders whose lease the test ended
}

// reclaim drops the holders whose lease ended, as every call of the
// script does first.
func (m *semModel) reclaim() {
	for h := range m.ended {
		delete(m.holders, h)
	}
	clear(m.ended)
}

func (m *semModel) held() (sum int64) {
	for _, h := range m.holders {
		sum += h[0]
	}
	return sum
}

func (m *semModel) unqueue(w string) {
	m.queue = slices.DeleteFunc(m.queue, func(x string) bool { return x == w })
	delete(m.wants, w)
}

func (m *semModel) pump(self string) (mine int64) {
	for len(m.queue) > 0 {
		head := m.queue[0]
		w := m.wants[head]
		switch {
		case w > m.size:
			m.unqueue(head)
		case m.held()+w > m.size:
			return mine
		default:
			m.unqueue(head)
			m.fence++
			m.holders[head] = [2]int64{w, m.fence}
			if head == self {
				mine = m.fence
			}
		}
	}
	return mine
}

func (m *semModel) acquire(tok string, n int64, wait bool) []int64 {
	m.reclaim()
	if f := m.pump(tok); f != 0 {
		return []int64{1, f}
	}
	if h, ok := m.holders[tok]; ok {
		return []int64{1, h[1]}
	}
	if _, ok := m.wants[tok]; ok {
		return []int64{0}
	}
	if n > m.size {
		return []int64{-1, m.size}
	}
	if len(m.queue) == 0 && m.held()+n <= m.size {
		m.fence++
		m.holders[tok] = [2]int64{n, m.fence}
		return []int64{1, m.fence}
	}
	if wait {
		m.queue = append(m.queue, tok)
		m.wants[tok] = n
	}
	return []int64{0}
}

func (m *semModel) release(tok string) int64 {
	m.reclaim()
	r := int64(0)
	if _, ok := m.holders[tok]; ok {
		delete(m.holders, tok)
		r = 1
	} else {
		m.unqueue(tok)
	}
	m.pump("")
	return r
}

func (m *semModel) resize(size int64) {
	m.reclaim()
	m.size = size
	for _, w := range slices.Clone(m.queue) {
		if m.wants[w] > size {
			m.unqueue(w)
		}
	}
	m.pump("")
}

// A byteDrawer draws the operations of a model test from a fuzzer's
// bytes, one byte a draw (0 once they are used up), as a seeded
// generator's IntN does.
type byteDrawer struct{ data []byte }

func (d *byteDrawer) IntN(n int) int {
	if len(d.data) == 0 {
		return 0
	}
	b := d.data[0]
	d.data = d.data[1:]
	return int(b) % n
}

// fuzzScriptModel fuzzes run, a script model test, on one redis-server,
// with the operations drawn from the fuzzer's first 600 bytes: one
// operation for every 3 bytes, each drawing 2 to 4 of them (draws past the
// end give 0), and seeds of 0, 8, 64 and 300 bytes drawn by a
// generator seeded with seed.
func fuzzScriptModel(f *testing.F, seed uint64, run func(t *testing.T, rdb redis.UniversalClient, ops int, draw func(n int) int)) {
	rdb := luaServer(f)
	rng := rand.New(rand.NewPCG(seed, seed))
	for _, n := range []int{0, 8, 64, 300} {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d := &byteDrawer{data: data[:min(len(data), 600)]}
		run(t, rdb, (len(d.data)+2)/3, d.IntN)
	})
}

// modelRuns numbers the objects of model runs, so that each run of a fuzz
// target starts on keys of its own.
var modelRuns atomic.Int64

// TestSemScriptModel runs random operations one at a time and compares
// every reply and the whole state with semModel: FIFO order,
// head-of-line blocking, handoff to every waiter that fits, resize, and
// the weight of leases that ended reclaimed.
func TestSemScriptModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	semScriptModel(t, luaServer(t), 1500, rng.IntN)
}

// FuzzSemScript is TestSemScriptModel with the operations drawn from the
// fuzzer's bytes (see fuzzScriptModel), on a fresh semaphore
// each run.
func FuzzSemScript(f *testing.F) { fuzzScriptModel(f, 5, semScriptModel) }

// semScriptModel runs ops operations drawn by draw on a fresh semaphore
// of size 4 and compares every reply and the whole state with semModel.
func semScriptModel(t *testing.T, rdb redis.UniversalClient, ops int, draw func(n int) int) {
	s := newLuaSem(t, rdb, "model"+strconv.FormatInt(modelRuns.Add(1), 10), 4)
	m := &semModel{size: 4, holders: map[string][2]int64{}, wants: map[string]int64{}, ended: map[string]bool{}}
	s.stat() // stores the size
	for i := range ops {
		tok := "T" + strconv.Itoa(draw(12))
		var what string
		switch op := draw(20); {
		case op < 10:
			n := int64(1 + draw(5))
			wait := draw(4) != 0
			what = fmt.Sprintf("acquire(%s, %d, wait %v)", tok, n, wait)
			entry := int64(0)
			if wait {
				entry = 60000
			}
			got, want := s.acquire(tok, n, 60000, entry, ""), m.acquire(tok, n, wait)
			if got[0] == 0 {
				got = got[:1]
			}
			luaWant(t, what, got, want)
		case op < 17:
			what = fmt.Sprintf("release(%s)", tok)
			if got, want := s.release(tok), m.release(tok); got != want {
				t.Fatalf("op %d: %s = %d, want %d", i, what, got, want)
			}
		case op < 19:
			size := int64(draw(7))
			what = fmt.Sprintf("resize(%d)", size)
			s.resize(size)
			m.resize(size)
		default:
			// The lease of a holder ends (its deadline is in the past):
			// the next call reclaims its weight.
			holders := slices.Sorted(maps.Keys(m.holders))
			if len(holders) == 0 {
				continue
			}
			tok = holders[draw(len(holders))]
			what = fmt.Sprintf("end(%s)", tok)
			s.end(tok)
			m.ended[tok] = true
		}
		st := s.snapshot()
		st.check(t, m.held() > m.size) // after a shrink
		holders := map[string][2]int64{}
		for h := range st.holders {
			w, f := st.weight(h)
			holders[h] = [2]int64{w, f}
		}
		if !maps.Equal(holders, m.holders) || !slices.Equal(st.queue, m.queue) || st.size != m.size || st.fence != m.fence {
			t.Fatalf("op %d %s: state %+v\nwant holders %v queue %v size %d fence %d", i, what, st, m.holders, m.queue, m.size, m.fence)
		}
	}
}

// TestSemScriptConcurrent drives the script from several goroutines with
// random weights, TTLs short enough to expire, waits, give-ups, renewals
// and gone Clients, and checks after every call, on an atomic snapshot,
// that the weight held never exceeds the size, that the bookkeeping
// agrees, that the live head never fits, and that no fence is granted to
// two tokens.
func TestSemScriptConcurrent(t *testing.T) {
	rdb := luaServer(t)
	const size, workers, ops = 5, 4, 1000
	var (
		mu     sync.Mutex
		fences = map[int64]string{}
		grants int
	)
	granted := func(tok string, f int64) {
		mu.Lock()
		defer mu.Unlock()
		if other, ok := fences[f]; ok && other != tok {
			t.Errorf("fence %d granted to %s and %s", f, other, tok)
		}
		fences[f] = tok
		grants++
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			wt := luaWorkerT{t}
			s := newLuaSem(wt, rdb, "conc", size)
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			var held, waiting []string // as far as this worker knows
			pick := func(l *[]string) string {
				k := rng.IntN(len(*l))
				tok := (*l)[k]
				*l = slices.Delete(*l, k, k+1)
				return tok
			}
			for i := range ops {
				if t.Failed() {
					return
				}
				s.probe = strconv.Itoa(rng.IntN(2))
				switch op := rng.IntN(20); {
				case op < 6 || len(held)+len(waiting) == 0:
					tok := fmt.Sprintf("w%d-%d", w, i)
					ttl := []int64{20, 60, 1000}[rng.IntN(3)]
					entry := []int64{0, 30, 1000}[rng.IntN(3)]
					channel := []string{"", "nobody"}[rng.IntN(2)]
					if r := s.acquire(tok, int64(1+rng.IntN(3)), ttl, entry, channel); r[0] == 1 {
						granted(tok, r[1])
						held = append(held, tok)
					} else if entry > 0 && r[0] == 0 {
						waiting = append(waiting, tok)
					}
				case op < 10 && len(waiting) > 0:
					tok := pick(&waiting)
					if r := s.acquire(tok, 1, 1000, 1000, ""); r[0] == 1 {
						granted(tok, r[1])
						held = append(held, tok)
					} else {
						waiting = append(waiting, tok)
					}
				case op < 15 && len(held) > 0:
					s.release(pick(&held))
				case op < 16 && len(waiting) > 0:
					s.release(pick(&waiting))
				case op < 18 && len(held) > 0:
					s.renew(held[rng.IntN(len(held))], []int64{20, 1000}[rng.IntN(2)])
				default:
					s.stat()
				}
				s.snapshot().check(wt, false)
			}
		})
	}
	wg.Wait()
	s := newLuaSem(t, rdb, "conc", size)
	st := s.snapshot()
	st.check(t, false)
	t.Logf("%d grants seen by their callers, %d fences in all", grants, st.fence)
	if grants < 100 || st.fence < 200 {
		t.Fatal("the test exercised little")
	}
}

// luaCalls runs f and returns the commands that were called meanwhile on
// rdb's server, by name, other than INFO and the scripts' EVAL and
// EVALSHA: the commands the scripts called.
func luaCalls(t testing.TB, rdb redis.UniversalClient, f func()) map[string]int64 {
	t.Helper()
	stats := func() map[string]int64 {
		info, err := rdb.Info(context.Background(), "commandstats").Result()
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]int64{}
		for line := range strings.SplitSeq(info, "\n") {
			name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
			name, found := strings.CutPrefix(name, "cmdstat_")
			if !ok || !found || name == "info" || name == "eval" || name == "evalsha" {
				continue
			}
			calls, _, _ := strings.Cut(strings.TrimPrefix(rest, "calls="), ",")
			m[name] = luaInt(calls)
		}
		return m
	}
	before := stats()
	f()
	d := map[string]int64{}
	for name, n := range stats() {
		if n > before[name] {
			d[name] = n - before[name]
		}
	}
	return d
}

// luaWantCalls fails the test unless got has exactly the commands of want
// ("get del", a name per call).
func luaWantCalls(t testing.TB, what string, got map[string]int64, want string) {
	t.Helper()
	w := map[string]int64{}
	for c := range strings.FieldsSeq(want) {
		w[c]++
	}
	if !maps.Equal(got, w) {
		t.Fatalf("%s called %v, want %v", what, got, w)
	}
}

// TestSemScriptFastPaths: an acquire of an idle semaphore makes the
// caller its solo holder, whose release and renewal are two commands; any
// other call first moves the solo holder among the others, and the
// shortcut of a release by the only holder in KEYS[2] with no queue ends
// in the state and reply of the full path, which is taken when stale
// weights, an ended lease, another holder or a queue call for it.
func TestSemScriptFastPaths(t *testing.T) {
	rdb := luaServer(t)
	ctx := context.Background()
	s := newLuaSem(t, rdb, "fast", 3)
	k := s.keys
	only := func(what string) {
		t.Helper()
		if keys := rdb.Keys(ctx, "*").Val(); !slices.Equal(keys, []string{k[0]}) {
			t.Fatalf("%s: keys left: %q", what, keys)
		}
	}

	// A weight above the size is refused, and nothing but the size stored.
	luaWant(t, "too big", s.acquire("X", 4, 60000, 0, ""), []int64{-1, 3})
	only("too big")
	// Uncontended: the solo holder, with the full TTL; as many commands
	// as a mutex's acquire and release.
	luaWantCalls(t, "acquire(A)", luaCalls(t, rdb, func() {
		luaWant(t, "A", s.acquire("A", 2, 60000, 0, ""), []int64{1, 1})
	}), "exists hget hincrby set")
	st := s.snapshot()
	st.check(t, false)
	if w, f := st.weight("A"); w != 2 || f != 1 || st.weights[""] != "2" || st.size != 3 || st.solo != "A" || st.others != 0 {
		t.Fatalf("after A: %+v", st)
	}
	if d := st.holders["A"] - st.now; d < 59000 || d > 60000 {
		t.Fatalf("A's lease ends in %dms", d)
	}
	luaWantCalls(t, "renew(A)", luaCalls(t, rdb, func() {
		if r := s.renew("A", 90000); r != 1 {
			t.Fatalf("renew(A) = %d", r)
		}
	}), "get pexpire")
	if p := rdb.PTTL(ctx, k[7]).Val(); p < 89*time.Second {
		t.Fatalf("after the renewal, the solo key's TTL is %v", p)
	}
	// A release or renewal by another token finds the solo holder, moves
	// it among the others, and changes nothing else.
	if r := s.release("B"); r != 0 {
		t.Fatalf("release of a non-holder = %d", r)
	}
	if r := s.renew("B", 1000); r != 0 {
		t.Fatalf("renew of a non-holder = %d", r)
	}
	st = s.snapshot()
	st.check(t, false)
	if w, f := st.weight("A"); w != 2 || f != 1 || st.solo != "" || st.holders["A"]-st.now < 89000 {
		t.Fatalf("A after B's release: %+v", st)
	}
	ph, pw := rdb.PTTL(ctx, k[1]).Val(), rdb.PTTL(ctx, k[2]).Val()
	if ph < 89*time.Second || pw-ph < 900*time.Millisecond || pw-ph > 1100*time.Millisecond {
		t.Fatalf("TTLs: holders %v, weights %v", ph, pw)
	}
	luaWantCalls(t, "release(A) from KEYS[2]", luaCalls(t, rdb, func() {
		if r := s.release("A"); r != 1 {
			t.Fatalf("release(A) = %d", r)
		}
	}), "get exists time zrange del")
	only("after A's release")
	if r := s.release("A"); r != 0 {
		t.Fatalf("second release(A) = %d", r)
	}
	luaWantCalls(t, "a solo pair", luaCalls(t, rdb, func() {
		luaWant(t, "A again", s.acquire("A", 1, 60000, 0, ""), []int64{1, 2})
		if r := s.release("A"); r != 1 {
			t.Fatalf("release(A) = %d", r)
		}
	}), "exists hget hincrby set get del")
	only("after the solo pair")

	// A retried acquire by the solo holder gets the fence of its grant
	// and a full TTL.
	luaWant(t, "G", s.acquire("G", 1, 1000, 0, ""), []int64{1, 3})
	luaWant(t, "G again", s.acquire("G", 1, 60000, 0, ""), []int64{1, 3})
	st = s.snapshot()
	st.check(t, false)
	if st.solo != "" || st.holders["G"]-st.now < 59000 || st.fence != 3 {
		t.Fatalf("after G's retry: %+v", st)
	}
	s.release("G")
	only("after G")

	// The solo holder's lease ends with its key: the weight is free.
	luaWant(t, "H", s.acquire("H", 3, 30, 0, ""), []int64{1, 4})
	time.Sleep(60 * time.Millisecond)
	luaWant(t, "I after H's lease", s.acquire("I", 3, 60000, 0, ""), []int64{1, 5})
	if r := s.renew("H", 60000); r != 0 {
		t.Fatalf("renew of an ended solo lease = %d", r)
	}
	if r := s.release("H"); r != 0 {
		t.Fatalf("release of an ended solo lease = %d", r)
	}
	if r := s.release("I"); r != 1 {
		t.Fatalf("release(I) = %d", r)
	}
	only("after I")

	// The only holder in KEYS[2], whose lease has ended while its key
	// lives on: 0, and nothing left.
	now := s.snapshot().now
	rdb.ZAdd(ctx, k[1], redis.Z{Score: float64(now - 10), Member: "old"})
	rdb.HSet(ctx, k[2], "old", "1 9", "", "1")
	if r := s.release("old"); r != 0 {
		t.Fatalf("release of an ended lease = %d", r)
	}
	only("after the ended lease's release")

	// Stale weights (the holders' key expired): the acquire deletes them.
	rdb.HSet(ctx, k[2], "stale", "1 9", "", "1")
	luaWant(t, "C", s.acquire("C", 1, 60000, 0, ""), []int64{1, 6})
	st = s.snapshot()
	st.check(t, false)
	if _, ok := st.weights["stale"]; ok || st.weights[""] != "1" || st.solo != "C" || st.others != 0 {
		t.Fatalf("stale weights kept: %+v", st)
	}

	// Another holder whose lease has ended comes first: the release
	// reclaims it too.
	luaWant(t, "stat with C solo", s.stat(), []int64{3, 1, 0, 1}) // and moves C into KEYS[2]
	if st := s.snapshot(); st.solo != "" || st.holders["C"]-st.now < 59000 {
		t.Fatalf("C after stat: %+v", st)
	}
	rdb.ZAdd(ctx, k[1], redis.Z{Score: float64(s.snapshot().now - 10), Member: "dead"})
	rdb.HSet(ctx, k[2], "dead", "1 9", "", "2")
	if r := s.release("C"); r != 1 {
		t.Fatalf("release(C) = %d", r)
	}
	only("after C's release")

	// Two holders: the release of one keeps the other's weight.
	s.acquire("D", 1, 60000, 0, "")
	s.acquire("E", 2, 60000, 0, "")
	s.release("D")
	st = s.snapshot()
	st.check(t, false)
	if len(st.holders) != 1 || st.weights[""] != "2" || st.solo != "" {
		t.Fatalf("after D's release: %+v", st)
	}

	// The only holder, with a waiter: the release grants it.
	luaWant(t, "F queued", s.acquire("F", 3, 60000, 60000, "")[:1], []int64{0})
	s.release("E")
	st = s.snapshot()
	st.check(t, false)
	if w, f := st.weight("F"); w != 3 || f != 9 || len(st.queue) != 0 {
		t.Fatalf("F not granted at E's release: %+v", st)
	}
	s.release("F")
	only("at the end")
}
