package redislock

// Script-level tests of lua/rw.lua against a real redis-server (helpers
// in sem_script_test.go).

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var luaRWScript = redis.NewScript(rwSrc)

// luaRWKeys returns the KEYS of lua/rw.lua for the lock name with the
// default prefix.
func luaRWKeys(name string) []string {
	r := "lock:{" + name + "}:rw"
	return []string{r, r + ":readers", r + ":fences", r + ":writer", r + ":blocked", r + ":queue", r + ":deadlines", r + ":entries",
		r + ":solo"}
}

// A luaRW calls lua/rw.lua on one lock as a Client would.
type luaRW struct {
	t     testing.TB
	rdb   redis.UniversalClient
	keys  []string
	probe string
}

func newLuaRW(t testing.TB, rdb redis.UniversalClient, name string) *luaRW {
	return &luaRW{t: t, rdb: rdb, keys: luaRWKeys(name), probe: "1"}
}

func (l *luaRW) run(args ...any) *redis.Cmd {
	return luaRWScript.Run(context.Background(), l.rdb, l.keys, args...)
}

// read and write call the script for tok with a TTL and a queue entry's
// lifetime (ms), on channel ("" for none), and return the reply.
func (l *luaRW) read(tok string, ttl, entry int64, channel string) []int64 {
	l.t.Helper()
	return luaInts(l.t, l.run("read", tok, l.probe, ttl, entry, channel, "7"))
}

func (l *luaRW) write(tok string, ttl, entry int64, channel string) []int64 {
	l.t.Helper()
	return luaInts(l.t, l.run("write", tok, l.probe, ttl, entry, channel, "7"))
}

func (l *luaRW) int(args ...any) int64 {
	l.t.Helper()
	v, err := l.run(args...).Int64()
	if err != nil {
		l.t.Fatal(err)
	}
	return v
}

func (l *luaRW) release(tok string) int64 { return l.int("release", tok, l.probe) }

func (l *luaRW) renew(tok string, ttl int64) int64 { return l.int("renew", tok, l.probe, ttl) }

func (l *luaRW) downgrade(tok string, ttl int64) int64 {
	return l.int("downgrade", tok, l.probe, ttl)
}

// stat returns {readers, writer (0 none, 1 announced, 2 holding),
// blocked readers, queued writers}.
func (l *luaRW) stat() []int64 {
	l.t.Helper()
	return luaInts(l.t, l.run("stat", "", l.probe))
}

var luaRWSnapshot = redis.NewScript(`
local t = redis.call('time')
return {t[1] * 1000 + math.floor(t[2] / 1000),
	redis.call('hgetall', KEYS[1]),
	redis.call('zrange', KEYS[2], 0, -1, 'withscores'),
	redis.call('hgetall', KEYS[3]),
	redis.call('hgetall', KEYS[4]),
	redis.call('zrange', KEYS[5], 0, -1, 'withscores'),
	redis.call('zrange', KEYS[6], 0, -1, 'withscores'),
	redis.call('zrange', KEYS[7], 0, -1, 'withscores'),
	redis.call('hgetall', KEYS[8]),
	redis.call('get', KEYS[9]) or '',
	redis.call('pexpiretime', KEYS[9]),
	redis.call('exists', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]),
	redis.call('pexpiretime', KEYS[3])}`)

// An rwState is a lock's keys at one moment, with the solo holder
// (KEYS[9]) shown as the full representation would show it: a reader in
// readers and fences, or a writer with the fields that its spill writes.
type rwState struct {
	now       int64
	fence     int64
	readers   map[string]int64 // token -> deadline
	fences    map[string]string
	writer    map[string]string // tok, held, dl, fence, stamp, chan
	blocked   []string          // in score order
	blockedDL map[string]int64
	queue     []string
	deadlines map[string]int64
	entries   map[string]string
	solo      string // KEYS[9], "" if it did not exist
	soloAt    int64  // its PEXPIRETIME (-1: no TTL), if it existed
	others    int64  // how many of KEYS[2] to KEYS[8] existed
	fencesAt  int64  // KEYS[3]'s PEXPIRETIME (-2: no key)
}

func (l *luaRW) snapshot() rwState {
	l.t.Helper()
	v, err := luaRWSnapshot.Run(context.Background(), l.rdb, l.keys).Result()
	if err != nil {
		l.t.Fatal(err)
	}
	a := v.([]any)
	st := rwState{
		now: a[0].(int64), fence: luaInt(luaPairs(a[1])["fence"]),
		readers: map[string]int64{}, fences: luaPairs(a[3]), writer: luaPairs(a[4]),
		blocked: luaMembers(a[5]), blockedDL: map[string]int64{}, queue: luaMembers(a[6]),
		deadlines: map[string]int64{}, entries: luaPairs(a[8]),
		solo: a[9].(string), others: a[11].(int64), fencesAt: a[12].(int64),
	}
	for k, v := range luaPairs(a[2]) {
		st.readers[k] = luaInt(v)
	}
	for k, v := range luaPairs(a[5]) {
		st.blockedDL[k] = luaInt(v)
	}
	for k, v := range luaPairs(a[7]) {
		st.deadlines[k] = luaInt(v)
	}
	if st.solo != "" {
		f := strings.Fields(st.solo)
		if len(f) != 3 {
			l.t.Fatalf("solo key %q", st.solo)
		}
		st.soloAt = a[10].(int64)
		dl := st.soloAt
		switch f[1] {
		case "r":
			st.readers[f[0]], st.fences[f[0]] = dl, f[2]
		case "w":
			st.writer = map[string]string{"tok": f[0], "held": "1", "dl": strconv.FormatInt(dl, 10), "fence": f[2],
				"stamp": "0", "chan": ""}
		default:
			l.t.Fatalf("solo key %q", st.solo)
		}
	}
	return st
}

// check verifies the invariants that hold between any two calls: never a
// writer with anyone else; every token in one role; the keys agree. With
// settled (no lease or entry has ended since the last call), readers
// wait only in a writer's phase and writers only behind a writer's turn.
func (st rwState) check(t testing.TB, settled bool) {
	t.Helper()
	if st.solo != "" && (st.others != 0 || st.soloAt < 0) {
		t.Fatalf("solo key %q (expiring at %d) with %d of the other keys", st.solo, st.soloAt, st.others)
	}
	if st.writer["held"] == "1" && len(st.readers) > 0 {
		t.Fatalf("writer %s holds with readers %v", st.writer["tok"], st.readers)
	}
	// The fences outlive the readers' key by a second (see lua/rw.lua):
	// once it has expired, with the last lease, the next call deletes
	// them.
	lapsed := len(st.readers) == 0 && st.fencesAt >= 0 && st.fencesAt-1000 <= st.now
	if !lapsed && !maps.EqualFunc(st.readers, st.fences, func(int64, string) bool { return true }) {
		t.Fatalf("readers %v, fences %v", st.readers, st.fences)
	}
	roles := map[string]string{}
	role := func(tok, r string) {
		if other, ok := roles[tok]; ok {
			t.Fatalf("%s is %s and %s", tok, other, r)
		}
		roles[tok] = r
	}
	for r := range st.readers {
		role(r, "reader")
	}
	if w, ok := st.writer["tok"]; ok {
		role(w, "writer")
	}
	for _, r := range st.blocked {
		role(r, "blocked")
	}
	for _, w := range st.queue {
		role(w, "queued")
		if _, ok := st.deadlines[w]; !ok {
			t.Fatalf("queued %s without a deadline", w)
		}
	}
	if len(st.deadlines) != len(st.queue) || len(st.entries) != len(st.queue)+len(st.blocked) {
		t.Fatalf("waiters' keys disagree: %+v", st)
	}
	if settled && st.writer["tok"] == "" && (len(st.blocked) > 0 || len(st.queue) > 0) {
		t.Fatalf("waiters %v %v without a writer's turn", st.blocked, st.queue)
	}
	if settled && st.writer["held"] == "0" && len(st.readers) == 0 {
		t.Fatalf("announced writer %s with no reader inside", st.writer["tok"])
	}
}

// TestRWScriptPhases: readers share; a writer that does not wait never
// announces itself; an announced writer stops newcomer readers and waits
// for those inside; when its phase ends, every reader that waited in it
// enters, before the writers queued meanwhile; writers keep their order.
func TestRWScriptPhases(t *testing.T) {
	rdb := luaServer(t)
	ps := luaSubscribe(t, rdb, "c")
	l := newLuaRW(t, rdb, "phases")

	luaWant(t, "r1", l.read("r1", 60000, 3000, "c"), []int64{1, 1})
	luaWant(t, "r2", l.read("r2", 60000, 3000, "c"), []int64{1, 2})
	if r := l.write("try", 60000, 0, "c"); r[0] != 0 {
		t.Fatalf("try-write with readers = %v", r)
	}
	luaWant(t, "stat", l.stat(), []int64{2, 0, 0, 0})
	if r := l.write("w1", 60000, 3000, "c"); r[0] != 0 {
		t.Fatalf("w1 with readers = %v", r)
	}
	luaWant(t, "stat", l.stat(), []int64{2, 1, 0, 0})
	if r := l.read("r3", 60000, 3000, "c"); r[0] != 0 {
		t.Fatalf("r3 after w1 announced = %v, want blocked", r)
	}
	if r := l.read("try", 60000, 0, "c"); r[0] != 0 {
		t.Fatalf("try-read after w1 announced = %v", r)
	}
	if r := l.write("w2", 60000, 3000, "c"); r[0] != 0 {
		t.Fatalf("w2 = %v", r)
	}
	luaWant(t, "stat", l.stat(), []int64{2, 1, 1, 1})
	l.snapshot().check(t, true)

	if l.release("r1") != 1 {
		t.Fatal("release(r1)")
	}
	luaNoMessage(t, ps)
	l.release("r2")
	if got := luaMessages(t, ps, 1); !slices.Equal(got, []string{"w1 3 7"}) {
		t.Fatalf("messages %q", got)
	}
	luaWant(t, "stat", l.stat(), []int64{0, 2, 1, 1})
	// A reader arriving in w1's phase waits for it, with r3.
	l.read("r4", 60000, 3000, "c")
	l.snapshot().check(t, true)

	// w1's phase ends: r3 and r4 enter before w2, which is announced and
	// waits for them; r5 arrives in w2's phase.
	if l.release("w1") != 1 {
		t.Fatal("release(w1)")
	}
	if got := luaMessages(t, ps, 2); !slices.Equal(got, []string{"r3 4 7", "r4 5 7"}) {
		t.Fatalf("messages %q", got)
	}
	luaWant(t, "stat", l.stat(), []int64{2, 1, 0, 0})
	st := l.snapshot()
	st.check(t, true)
	if st.writer["tok"] != "w2" || st.writer["held"] != "0" {
		t.Fatalf("writer %v, want w2 announced", st.writer)
	}
	// A grantee's claim: the fence of its grant and a full TTL.
	luaWant(t, "r3 claims", l.read("r3", 60000, 3000, "c"), []int64{1, 4})
	l.read("r5", 60000, 3000, "c")
	l.release("r3")
	l.release("r4")
	if got := luaMessages(t, ps, 1); !slices.Equal(got, []string{"w2 6 7"}) {
		t.Fatalf("messages %q", got)
	}
	l.release("w2")
	if got := luaMessages(t, ps, 1); !slices.Equal(got, []string{"r5 7 7"}) {
		t.Fatalf("messages %q", got)
	}
	luaWant(t, "stat", l.stat(), []int64{1, 0, 0, 0})
	l.release("r5")
	if keys := rdb.Keys(context.Background(), "*").Val(); !slices.Equal(keys, []string{"lock:{phases}:rw"}) {
		t.Fatalf("keys left: %q", keys)
	}
}

// TestRWScriptWritersFIFO: writers get the lock in arrival order.
func TestRWScriptWritersFIFO(t *testing.T) {
	rdb := luaServer(t)
	ps := luaSubscribe(t, rdb, "c")
	l := newLuaRW(t, rdb, "fifo")
	luaWant(t, "w0", l.write("w0", 60000, 3000, "c"), []int64{1, 1})
	for i := 1; i <= 4; i++ {
		l.write("w"+strconv.Itoa(i), 60000, 3000, "c")
	}
	luaWant(t, "stat", l.stat(), []int64{0, 2, 0, 4})
	for i := range 4 {
		l.release("w" + strconv.Itoa(i))
		want := fmt.Sprintf("w%d %d 7", i+1, i+2)
		if got := luaMessages(t, ps, 1); got[0] != want {
			t.Fatalf("message %q, want %q", got[0], want)
		}
	}
}

// TestRWScriptReaderExpiry: a crashed reader's share ends with its own
// lease, whatever the other readers renew; an announced writer then gets
// the lock.
func TestRWScriptReaderExpiry(t *testing.T) {
	rdb := luaServer(t)
	l := newLuaRW(t, rdb, "rexp")
	l.read("crashed", 400, 3000, "")
	l.read("live", 60000, 3000, "")
	if r := l.write("w", 60000, 3000, ""); r[0] != 0 || r[1] > 400 {
		t.Fatalf("w = %v, want announced, the first reader's lease ending within 400ms", r)
	}
	before := l.snapshot().readers["crashed"]
	for range 2 {
		time.Sleep(30 * time.Millisecond)
		if l.renew("live", 60000) != 1 {
			t.Fatal("live reader's renewal failed")
		}
	}
	if after := l.snapshot().readers["crashed"]; after != before {
		t.Fatalf("the crashed reader's deadline moved from %d to %d", before, after)
	}
	l.release("live")
	luaWant(t, "stat", l.stat(), []int64{1, 1, 0, 0})
	time.Sleep(450 * time.Millisecond)
	// The writer's next refresh finds the crashed reader gone.
	if r := l.write("w", 60000, 3000, ""); r[0] != 1 {
		t.Fatalf("w after the crashed reader's lease = %v", r)
	}
	l.snapshot().check(t, true)
}

// TestRWScriptWriterExpiry: a crashed writer's phase ends with its lease,
// and an announced writer's with its entry; the readers that waited enter.
func TestRWScriptWriterExpiry(t *testing.T) {
	rdb := luaServer(t)
	l := newLuaRW(t, rdb, "wexp")
	luaWant(t, "w", l.write("w", 100, 3000, ""), []int64{1, 1})
	l.read("r", 60000, 3000, "")
	time.Sleep(150 * time.Millisecond)
	if l.renew("w", 60000) != 0 || l.downgrade("w", 60000) != 0 {
		t.Fatal("the crashed writer renewed or downgraded")
	}
	luaWant(t, "stat", l.stat(), []int64{1, 0, 0, 0})

	l2 := newLuaRW(t, rdb, "wexp2")
	l2.read("r1", 60000, 3000, "")
	l2.write("w", 60000, 400, "") // announced; never refreshes its entry
	l2.read("r2", 60000, 3000, "")
	luaWant(t, "stat", l2.stat(), []int64{1, 1, 1, 0})
	time.Sleep(450 * time.Millisecond)
	luaWant(t, "r2 refreshes", l2.read("r2", 60000, 3000, ""), []int64{1, 2})
	luaWant(t, "stat", l2.stat(), []int64{2, 0, 0, 0})
	for _, k := range l2.keys[1:] {
		if ttl := rdb.PTTL(context.Background(), k).Val(); ttl == -1 {
			t.Fatalf("%s has no TTL", k)
		}
	}

	// An announced writer that refreshes late, before any other call,
	// keeps its turn: it is alive.
	l3 := newLuaRW(t, rdb, "wexp3")
	l3.read("r1", 60000, 3000, "")
	l3.write("w", 60000, 100, "")
	time.Sleep(150 * time.Millisecond)
	if r := l3.write("w", 60000, 3000, ""); r[0] != 0 {
		t.Fatalf("late refresh = %v", r)
	}
	luaWant(t, "stat", l3.stat(), []int64{1, 1, 0, 0})
}

// TestRWScriptDowngrade: in one call the writer becomes a reader with its
// fence, the readers that waited in its phase enter, and the next writer
// is announced, to wait for all of them. A concurrent observer never sees
// a writer with readers, nor the downgraded token in two roles.
func TestRWScriptDowngrade(t *testing.T) {
	rdb := luaServer(t)
	ps := luaSubscribe(t, rdb, "c")
	l := newLuaRW(t, rdb, "down")
	luaWant(t, "w", l.write("w", 60000, 3000, "c"), []int64{1, 1})
	l.read("r1", 60000, 3000, "c")
	l.read("r2", 60000, 3000, "c")
	l.write("w2", 60000, 3000, "c")
	if l.downgrade("w2", 60000) != 0 {
		t.Fatal("a queued writer downgraded")
	}
	if l.downgrade("w", 60000) != 1 {
		t.Fatal("downgrade(w) failed")
	}
	if got := luaMessages(t, ps, 2); !slices.Equal(got, []string{"r1 2 7", "r2 3 7"}) {
		t.Fatalf("messages %q", got)
	}
	luaWant(t, "stat", l.stat(), []int64{3, 1, 0, 0})
	st := l.snapshot()
	st.check(t, true)
	if st.fences["w"] != "1" || st.writer["tok"] != "w2" || st.readers["w"]-st.now < 59000 {
		t.Fatalf("after the downgrade: %+v", st)
	}
	if l.downgrade("w", 60000) != 0 {
		t.Fatal("a reader downgraded")
	}
	// A newcomer reader waits for w2's phase.
	if r := l.read("r3", 60000, 3000, "c"); r[0] != 0 {
		t.Fatalf("r3 = %v", r)
	}
	for _, r := range []string{"w", "r1", "r2"} {
		if l.release(r) != 1 {
			t.Fatalf("release(%s)", r)
		}
	}
	if got := luaMessages(t, ps, 1); !slices.Equal(got, []string{"w2 4 7"}) {
		t.Fatalf("messages %q", got)
	}

	// Cycles of write, downgrade, release under an observer.
	l2 := newLuaRW(t, rdb, "down2")
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Go(func() {
		wt := luaWorkerT{t}
		o := newLuaRW(wt, rdb, "down2")
		for !stop.Load() {
			o.snapshot().check(wt, true)
		}
	})
	for i := range 100 {
		w := "w" + strconv.Itoa(i)
		l2.read("a"+strconv.Itoa(i), 60000, 3000, "")
		l2.write(w, 60000, 3000, "")
		l2.read("b"+strconv.Itoa(i), 60000, 3000, "")
		l2.release("a" + strconv.Itoa(i))
		l2.downgrade(w, 60000)
		l2.release("b" + strconv.Itoa(i))
		l2.release(w)
	}
	stop.Store(true)
	wg.Wait()
	luaWant(t, "stat", l2.stat(), []int64{0, 0, 0, 0})
}

// TestRWScriptGiveUp: an announced writer that gives up ends its phase:
// the readers that waited in it enter at once, and the next writer is
// announced.
func TestRWScriptGiveUp(t *testing.T) {
	rdb := luaServer(t)
	l := newLuaRW(t, rdb, "giveup")
	l.read("r1", 60000, 3000, "")
	l.write("w1", 60000, 3000, "")
	l.read("r2", 60000, 3000, "")
	l.write("w2", 60000, 3000, "")
	if l.release("w1") != 0 {
		t.Fatal("release of a waiting writer reported a hold")
	}
	st := l.snapshot()
	st.check(t, true)
	if _, ok := st.readers["r2"]; !ok || st.writer["tok"] != "w2" || st.writer["held"] != "0" {
		t.Fatalf("after w1 gave up: %+v", st)
	}
}

// TestRWScriptProbe: on one server, readers and writers whose Client is
// gone are skipped.
func TestRWScriptProbe(t *testing.T) {
	rdb := luaServer(t)
	ps := luaSubscribe(t, rdb, "alive")
	l := newLuaRW(t, rdb, "probe")
	l.write("w", 60000, 3000, "alive")
	// Readers that wait are served in the order of their entries'
	// deadlines, then of their tokens: these are in both orders.
	l.read("r1ghost", 60000, 3000, "gone")
	l.read("r2", 60000, 3000, "alive")
	l.write("wghost", 60000, 3000, "gone")
	l.write("w3", 60000, 3000, "alive")
	l.release("w")
	if got := luaMessages(t, ps, 1); !slices.Equal(got, []string{"r2 3 7"}) {
		t.Fatalf("messages %q", got) // r1ghost burnt fence 2
	}
	st := l.snapshot()
	if _, ok := st.readers["r1ghost"]; ok || st.writer["tok"] != "wghost" {
		t.Fatalf("after w's release: %+v", st)
	}
	l.release("r2")
	if got := luaMessages(t, ps, 1); !slices.Equal(got, []string{"w3 5 7"}) {
		t.Fatalf("messages %q", got) // wghost burnt fence 4
	}
	luaWant(t, "stat", l.stat(), []int64{0, 2, 0, 0})

	// Without the probe the grant stands until the entry's deadline.
	l2 := newLuaRW(t, rdb, "probe0")
	l2.probe = "0"
	l2.write("w", 60000, 3000, "")
	l2.write("wghost", 60000, 3000, "gone")
	l2.release("w")
	st = l2.snapshot()
	if st.writer["tok"] != "wghost" || st.writer["held"] != "1" || luaInt(st.writer["dl"])-st.now > 3000 {
		t.Fatalf("probe off: %+v", st)
	}
}

// TestRWScriptRenewNeverRecreates: nothing renews a lease that has ended.
func TestRWScriptRenewNeverRecreates(t *testing.T) {
	rdb := luaServer(t)
	l := newLuaRW(t, rdb, "renew")
	l.read("r", 1000, 3000, "")
	if l.renew("r", 60000) != 1 {
		t.Fatal("renewal within the TTL failed")
	}
	l.write("w", 50, 3000, "") // announced, waits for r
	if l.renew("w", 60000) != 0 {
		t.Fatal("an announced writer renewed")
	}
	l.release("r")
	l.write("w", 50, 3000, "")
	time.Sleep(100 * time.Millisecond)
	if l.renew("w", 60000) != 0 || l.release("w") != 0 {
		t.Fatal("renewal or release after the lease ended succeeded")
	}
	l.read("r2", 50, 3000, "")
	time.Sleep(100 * time.Millisecond)
	if l.renew("r2", 60000) != 0 {
		t.Fatal("reader renewed after its lease ended")
	}
	luaWant(t, "stat", l.stat(), []int64{0, 0, 0, 0})
}

// TestRWScriptBadInput: bad arguments and a token used in the other role
// are refused before anything changes.
func TestRWScriptBadInput(t *testing.T) {
	rdb := luaServer(t)
	l := newLuaRW(t, rdb, "bad")
	for _, args := range [][]any{
		{"read", "A", "1", 0, 0, "", "0"},
		{"write", "A", "1", 1000, -1, "", "0"},
		{"read", "", "1", 1000, 0, "", "0"},
		{"read", "A", "1", 1000, 0, "", "a b"},
		{"renew", "A", "1", "x"},
		{"frobnicate", "A", "1"},
	} {
		if err := l.run(args...).Err(); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
	if n := rdb.DBSize(context.Background()).Val(); n != 0 {
		t.Fatalf("bad input wrote %d keys", n)
	}
	l.write("w", 60000, 3000, "")
	l.read("r", 60000, 3000, "")
	before := l.snapshot()
	if err := l.run("read", "w", "1", 1000, 1000, "", "0").Err(); err == nil {
		t.Error("read with the writer's token")
	}
	if err := l.run("write", "r", "1", 1000, 1000, "", "0").Err(); err == nil {
		t.Error("write with a blocked reader's token")
	}
	after := l.snapshot()
	before.now, after.now = 0, 0
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Fatalf("refused calls changed %+v into %+v", before, after)
	}
}

// luaRWSpillEnded spills the solo holder (KEYS[9]) if its token is
// ARGV[1], as lua/rw.lua does, but with a deadline of 1 (its lease has
// ended), so that the model test can end it as it ends the others.
var luaRWSpillEnded = redis.NewScript(`
local tok, mode, fence = string.match(redis.call('get', KEYS[9]) or '', '^(%S+) ([rw]) (%d+)$')
if tok ~= ARGV[1] then
	return 0
end
local ms = redis.call('pttl', KEYS[9])
if mode == 'r' then
	redis.call('zadd', KEYS[2], 1, tok)
	redis.call('hset', KEYS[3], tok, fence)
	redis.call('pexpire', KEYS[2], ms)
	redis.call('pexpire', KEYS[3], ms + 1000)
else
	redis.call('hset', KEYS[4], 'tok', tok, 'held', '1', 'dl', '1', 'fence', fence, 'stamp', '0', 'chan', '')
	redis.call('pexpire', KEYS[4], ms + 1000)
end
redis.call('del', KEYS[9])
return 1`)

// An rwModel is what lua/rw.lua does when no lease or entry ends and
// every grant stands (no channel): the reference of TestRWScriptModel.
type rwModel struct {
	fence   int64
	readers map[string]int64
	w       string // the writer whose turn it is, "" for none
	wHeld   bool
	wFence  int64
	blocked map[string]bool
	queue   []string
	order   []string        // the server's order of blocked readers
	ended   map[string]bool // readers whose lease the test ended
	wEnded  bool            // the test ended the writer's lease or entry
}

// reclaim drops the readers whose lease ended, and the writer whose lease
// or entry ended unless it is selfW waiting for its turn (a writer that
// calls is alive), as every call of the script does first.
func (m *rwModel) reclaim(selfW string) {
	for r := range m.ended {
		delete(m.readers, r)
	}
	clear(m.ended)
	if m.wEnded && (m.wHeld || m.w != selfW) {
		m.w, m.wHeld, m.wEnded = "", false, false
	}
}

func (m *rwModel) advance(selfR, selfW string) (mine int64) {
	if m.w == "" {
		for _, r := range m.order {
			if m.blocked[r] {
				m.fence++
				m.readers[r] = m.fence
				if r == selfR {
					mine = m.fence
				}
			}
		}
		clear(m.blocked)
		if len(m.queue) == 0 {
			return mine
		}
		m.w, m.wHeld, m.queue = m.queue[0], false, m.queue[1:]
	}
	if !m.wHeld && len(m.readers) == 0 {
		m.fence++
		m.wHeld, m.wFence, m.wEnded = true, m.fence, false
		if m.w == selfW {
			mine = m.fence
		}
	}
	return mine
}

func (m *rwModel) read(tok string, wait bool) []int64 {
	m.reclaim("")
	if f := m.advance(tok, ""); f != 0 {
		return []int64{1, f}
	}
	if f, ok := m.readers[tok]; ok {
		return []int64{1, f}
	}
	if m.blocked[tok] {
		return []int64{0}
	}
	if m.w == "" {
		m.fence++
		m.readers[tok] = m.fence
		return []int64{1, m.fence}
	}
	if wait {
		m.blocked[tok] = true
	}
	return []int64{0}
}

func (m *rwModel) write(tok string, wait bool) []int64 {
	m.reclaim(tok)
	if f := m.advance("", tok); f != 0 {
		return []int64{1, f}
	}
	if m.w == tok {
		if m.wHeld {
			return []int64{1, m.wFence}
		}
		if wait { // its entry is refreshed
			m.wEnded = false
		}
		return []int64{0}
	}
	if slices.Contains(m.queue, tok) {
		return []int64{0}
	}
	if m.w == "" {
		if len(m.readers) == 0 {
			m.fence++
			m.w, m.wHeld, m.wFence = tok, true, m.fence
			return []int64{1, m.fence}
		}
		if wait {
			m.w, m.wHeld = tok, false
		}
		return []int64{0}
	}
	if wait {
		m.queue = append(m.queue, tok)
	}
	return []int64{0}
}

func (m *rwModel) release(tok string) int64 {
	m.reclaim("")
	r := int64(0)
	switch {
	case m.readers[tok] != 0:
		delete(m.readers, tok)
		r = 1
	case m.w == tok:
		if m.wHeld {
			r = 1
		}
		m.w, m.wEnded = "", false
	case m.blocked[tok]:
		delete(m.blocked, tok)
	default:
		m.queue = slices.DeleteFunc(m.queue, func(w string) bool { return w == tok })
	}
	m.advance("", "")
	return r
}

func (m *rwModel) downgrade(tok string) int64 {
	m.reclaim("")
	r := int64(0)
	if m.w == tok && m.wHeld {
		m.readers[tok] = m.wFence
		m.w, m.wEnded = "", false
		r = 1
	}
	m.advance("", "")
	return r
}

// TestRWScriptModel runs random operations one at a time and compares
// every reply and the whole state with rwModel, with readers' and
// writers' leases that end.
func TestRWScriptModel(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	rwScriptModel(t, luaServer(t), 2000, rng.IntN)
}

// FuzzRWScript is TestRWScriptModel with the operations drawn from the
// fuzzer's bytes (see fuzzScriptModel), on a fresh lock each
// run.
func FuzzRWScript(f *testing.F) { fuzzScriptModel(f, 7, rwScriptModel) }

// rwScriptModel runs ops operations drawn by draw on a fresh lock and
// compares every reply and the whole state with rwModel.
func rwScriptModel(t *testing.T, rdb redis.UniversalClient, ops int, draw func(n int) int) {
	l := newLuaRW(t, rdb, "model"+strconv.FormatInt(modelRuns.Add(1), 10))
	m := &rwModel{readers: map[string]int64{}, blocked: map[string]bool{}, ended: map[string]bool{}}
	for i := range ops {
		tok := string(rune('A' + draw(10)))
		isWriter := m.w == tok || slices.Contains(m.queue, tok)
		isReader := m.readers[tok] != 0 || m.blocked[tok]
		m.order = l.snapshot().blocked
		var what string
		switch op := draw(11); {
		case op < 3 && !isWriter:
			wait := draw(4) != 0
			what = fmt.Sprintf("read(%s, wait %v)", tok, wait)
			got, want := l.read(tok, 60000, map[bool]int64{true: 60000}[wait], ""), m.read(tok, wait)
			if got[0] == 0 {
				got = got[:1]
			}
			luaWant(t, what, got, want)
		case op < 6 && !isReader:
			wait := draw(4) != 0
			what = fmt.Sprintf("write(%s, wait %v)", tok, wait)
			got, want := l.write(tok, 60000, map[bool]int64{true: 60000}[wait], ""), m.write(tok, wait)
			if got[0] == 0 {
				got = got[:1]
			}
			luaWant(t, what, got, want)
		case op < 9:
			what = fmt.Sprintf("release(%s)", tok)
			if got, want := l.release(tok), m.release(tok); got != want {
				t.Fatalf("op %d: %s = %d, want %d", i, what, got, want)
			}
		case op < 10:
			what = fmt.Sprintf("downgrade(%s)", tok)
			if got, want := l.downgrade(tok, 60000), m.downgrade(tok); got != want {
				t.Fatalf("op %d: %s = %d, want %d", i, what, got, want)
			}
		default:
			// The lease of a reader, or the lease or entry of the writer
			// whose turn it is, ends (its deadline is in the past): the
			// next call drops it.
			holders := slices.Sorted(maps.Keys(m.readers))
			if m.w != "" {
				holders = append(holders, m.w)
			}
			if len(holders) == 0 {
				continue
			}
			tok = holders[draw(len(holders))]
			what = fmt.Sprintf("end(%s)", tok)
			if err := luaRWSpillEnded.Run(context.Background(), rdb, l.keys, tok).Err(); err != nil {
				t.Fatal(err)
			}
			switch {
			case m.readers[tok] != 0:
				if err := rdb.ZAddXX(context.Background(), l.keys[1], redis.Z{Score: 1, Member: tok}).Err(); err != nil {
					t.Fatal(err)
				}
				m.ended[tok] = true
			case m.w == tok:
				if err := rdb.HSet(context.Background(), l.keys[3], "dl", "1").Err(); err != nil {
					t.Fatal(err)
				}
				m.wEnded = true
			}
		}
		st := l.snapshot()
		st.check(t, true)
		readers := map[string]int64{}
		for r := range st.readers {
			readers[r] = luaInt(st.fences[r])
		}
		blocked := slices.Sorted(maps.Keys(m.blocked))
		gotBlocked := slices.Clone(st.blocked)
		sort.Strings(gotBlocked)
		wantHeld := map[bool]string{true: "1", false: "0"}[m.wHeld]
		if !maps.Equal(readers, m.readers) || st.writer["tok"] != m.w || (m.w != "" && st.writer["held"] != wantHeld) ||
			!slices.Equal(gotBlocked, blocked) || !slices.Equal(st.queue, m.queue) || st.fence != m.fence {
			t.Fatalf("op %d %s: state %+v\nwant readers %v writer %q held %v blocked %v queue %v fence %d",
				i, what, st, m.readers, m.w, m.wHeld, blocked, m.queue, m.fence)
		}
		if m.w != "" && m.wHeld && luaInt(st.writer["fence"]) != m.wFence {
			t.Fatalf("op %d %s: writer's fence %s, want %d", i, what, st.writer["fence"], m.wFence)
		}
	}
}

// The waiters' keys expire together: when the last blocked reader's entry
// dies while a writer still queues, or the last queued writer's while a
// reader is still blocked, its entry does not stay behind in KEYS[8] (no
// call could find it there: reclaim finds the dead by their deadlines).
func TestRWScriptWaiterKeysExpireTogether(t *testing.T) {
	rdb := luaServer(t)
	for _, readerDies := range []bool{true, false} {
		t.Run(fmt.Sprintf("reader dies=%v", readerDies), func(t *testing.T) {
			l := newLuaRW(t, rdb, fmt.Sprintf("together-%v", readerDies))
			readerEntry, writerEntry := int64(3000), int64(3000)
			if readerDies {
				readerEntry = 50
			} else {
				writerEntry = 50
			}
			luaWant(t, "r1", l.read("r1", 60000, 3000, ""), []int64{1, 1})
			if r := l.write("w1", 60000, 3000, ""); r[0] != 0 {
				t.Fatalf("w1 with a reader inside = %v", r)
			}
			if r := l.read("r2", 60000, readerEntry, ""); r[0] != 0 {
				t.Fatalf("r2 in w1's phase = %v", r)
			}
			if r := l.write("w2", 60000, writerEntry, ""); r[0] != 0 {
				t.Fatalf("w2 behind w1 = %v", r)
			}
			time.Sleep(100 * time.Millisecond)
			// The survivor refreshes its entry: a call, which drops the dead.
			if readerDies {
				l.write("w2", 60000, 3000, "")
			} else {
				l.read("r2", 60000, 3000, "")
			}
			st := l.snapshot()
			st.check(t, true)
			dead := map[bool]string{true: "r2", false: "w2"}[readerDies]
			if _, ok := st.entries[dead]; ok || len(st.entries) != 1 {
				t.Fatalf("entries %v after %s's entry died", st.entries, dead)
			}
		})
	}
}

// TestRWScriptConcurrent drives the script from several goroutines with
// random reads, writes, TTLs short enough to expire, give-ups, renewals,
// downgrades and gone Clients, and checks after every call, on an atomic
// snapshot, that a writer never holds with anyone else and that no fence
// is granted to two tokens.
func TestRWScriptConcurrent(t *testing.T) {
	rdb := luaServer(t)
	const workers, ops = 4, 1000
	var (
		mu     sync.Mutex
		fences = map[int64]string{}
		writes int
		reads  int
	)
	granted := func(tok string, f int64, write bool) {
		mu.Lock()
		defer mu.Unlock()
		if other, ok := fences[f]; ok && other != tok {
			t.Errorf("fence %d granted to %s and %s", f, other, tok)
		}
		fences[f] = tok
		if write {
			writes++
		} else {
			reads++
		}
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			wt := luaWorkerT{t}
			l := newLuaRW(wt, rdb, "conc")
			rng := rand.New(rand.NewPCG(uint64(w), 7))
			type lease struct {
				tok   string
				write bool
			}
			var held, waiting []lease
			pick := func(s *[]lease) lease {
				k := rng.IntN(len(*s))
				x := (*s)[k]
				*s = slices.Delete(*s, k, k+1)
				return x
			}
			call := func(x lease, ttl, entry int64, channel string) {
				var r []int64
				if x.write {
					r = l.write(x.tok, ttl, entry, channel)
				} else {
					r = l.read(x.tok, ttl, entry, channel)
				}
				if r[0] == 1 {
					granted(x.tok, r[1], x.write)
					held = append(held, x)
				} else if entry > 0 {
					waiting = append(waiting, x)
				}
			}
			for i := range ops {
				if t.Failed() {
					return
				}
				l.probe = strconv.Itoa(rng.IntN(2))
				switch op := rng.IntN(20); {
				case op < 6 || len(held)+len(waiting) == 0:
					x := lease{fmt.Sprintf("w%d-%d", w, i), rng.IntN(3) == 0}
					call(x, []int64{20, 60, 1000}[rng.IntN(3)], []int64{0, 30, 1000}[rng.IntN(3)], []string{"", "nobody"}[rng.IntN(2)])
				case op < 10 && len(waiting) > 0:
					call(pick(&waiting), 1000, 1000, "")
				case op < 15 && len(held) > 0:
					l.release(pick(&held).tok)
				case op < 16 && len(waiting) > 0:
					l.release(pick(&waiting).tok)
				case op < 17 && len(held) > 0:
					x := held[rng.IntN(len(held))]
					if x.write && l.downgrade(x.tok, 1000) == 1 {
						for k := range held {
							if held[k] == x {
								held[k].write = false
							}
						}
					}
				case op < 19 && len(held) > 0:
					l.renew(held[rng.IntN(len(held))].tok, []int64{20, 1000}[rng.IntN(2)])
				default:
					l.stat()
				}
				l.snapshot().check(wt, false)
			}
		})
	}
	wg.Wait()
	st := newLuaRW(t, rdb, "conc").snapshot()
	st.check(t, false)
	t.Logf("%d write and %d read grants seen by their callers, %d fences in all", writes, reads, st.fence)
	if writes < 5 || reads < 50 || st.fence < 200 {
		t.Fatal("the test exercised little")
	}
}

// TestRWScriptFastPaths: the shortcuts of an uncontended read or write
// (nobody holds or waits: the solo key) and of its release and renewal,
// of the release of the only reader (no writer, no waiters) and of the
// writer's release (no readers, no waiters) end in the state and reply of
// the full path, with the stale keys that ended leases leave behind (a
// reader's fences, a writer's hash, a reader whose key outlives its
// lease), and the full path is taken, the solo holder spilled, when
// another reader, a writer or a waiter calls for it. An uncontended read
// or write and its release run 5 commands, none of them TIME, and a
// renewal 2.
func TestRWScriptFastPaths(t *testing.T) {
	rdb := luaServer(t)
	ctx := context.Background()
	ps := luaSubscribe(t, rdb, "c")
	l := newLuaRW(t, rdb, "fast")
	k := l.keys
	// only fails the test unless exactly the keys k[i] for idx exist.
	only := func(what string, idx ...int) {
		t.Helper()
		var want []string
		for _, i := range idx {
			want = append(want, k[i])
		}
		got := rdb.Keys(ctx, "*").Val()
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%s: keys %q, want %q", what, got, want)
		}
	}
	// solo checks that tok is the solo holder in mode ("r" or "w"), with
	// fence and a lease of about ttl ms, and that nothing else is left.
	solo := func(what, tok, mode string, fence, ttl int64) {
		t.Helper()
		st := l.snapshot()
		st.check(t, true)
		left := st.soloAt - st.now
		if want := fmt.Sprintf("%s %s %d", tok, mode, fence); st.solo != want || left <= ttl-1000 || left > ttl {
			t.Fatalf("%s: solo %q, expiring in %dms; want %q, %dms", what, st.solo, left, want, ttl)
		}
		only(what, 0, 8)
	}
	// reader checks that tok is the only reader, with fence and a lease of
	// about ttl ms, in KEYS[2] and KEYS[3], and the keys' TTLs: the
	// readers' the lease's, the fences' a second longer; and that no
	// writer or waiter is left.
	reader := func(what, tok string, fence, ttl int64) {
		t.Helper()
		st := l.snapshot()
		st.check(t, true)
		left := st.readers[tok] - st.now
		if len(st.readers) != 1 || left <= ttl-1000 || left > ttl || len(st.fences) != 1 ||
			st.fences[tok] != strconv.FormatInt(fence, 10) {
			t.Fatalf("%s: %+v", what, st)
		}
		only(what, 0, 1, 2)
		pr, pf := rdb.PTTL(ctx, k[1]).Val(), rdb.PTTL(ctx, k[2]).Val()
		if pr <= time.Duration(ttl-1000)*time.Millisecond || pr > time.Duration(ttl)*time.Millisecond ||
			pf-pr < 900*time.Millisecond || pf-pr > 1100*time.Millisecond {
			t.Fatalf("%s: TTLs: readers %v, fences %v", what, pr, pf)
		}
	}
	// writer checks that tok holds for writing in KEYS[4] with fence,
	// entry ("stamp channel": of its grant, or "0 " if it was spilled)
	// and a lease of about ttl ms, its hash living a second longer, and
	// nobody else.
	writer := func(what, tok string, fence int64, entry string, ttl int64) {
		t.Helper()
		st := l.snapshot()
		st.check(t, true)
		w := st.writer
		left := luaInt(w["dl"]) - st.now
		if len(w) != 6 || w["tok"] != tok || w["held"] != "1" || w["fence"] != strconv.FormatInt(fence, 10) ||
			w["stamp"]+" "+w["chan"] != entry || left <= ttl-1000 || left > ttl {
			t.Fatalf("%s: %+v", what, st)
		}
		only(what, 0, 3)
		if p := rdb.PTTL(ctx, k[3]).Val(); p <= time.Duration(ttl)*time.Millisecond || p > time.Duration(ttl+1000)*time.Millisecond {
			t.Fatalf("%s: the writer's TTL %v", what, p)
		}
	}
	release := func(tok string, want int64) {
		t.Helper()
		if r := l.release(tok); r != want {
			t.Fatalf("release(%s) = %d, want %d", tok, r, want)
		}
	}
	// refused checks that a call fails and changes nothing.
	refused := func(what string, args ...any) {
		t.Helper()
		before := l.snapshot()
		if err := l.run(args...).Err(); err == nil {
			t.Fatalf("%s: no error", what)
		}
		after := l.snapshot()
		before.now, after.now = 0, 0
		if fmt.Sprint(before) != fmt.Sprint(after) {
			t.Fatalf("%s changed %+v into %+v", what, before, after)
		}
	}
	// Uncontended read, its renewal and its release.
	luaWantCalls(t, "the read pair", luaCalls(t, rdb, func() {
		luaWant(t, "read A", l.read("A", 60000, 3000, "c"), []int64{1, 1})
		release("A", 1)
	}), "exists hincrby set get del")
	luaWant(t, "read A", l.read("A", 60000, 3000, "c"), []int64{1, 2})
	solo("after A's read", "A", "r", 2, 60000)
	refused("write with A's token", "write", "A", l.probe, 60000, 3000, "c", "7")
	solo("after the refused write", "A", "r", 2, 60000)
	if err := rdb.PExpire(ctx, k[8], 10*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	luaWantCalls(t, "the renewal", luaCalls(t, rdb, func() {
		if l.renew("A", 60000) != 1 {
			t.Fatal("renew(A)")
		}
	}), "get pexpire")
	solo("after A's renewal", "A", "r", 2, 60000)
	release("A", 1)
	only("after A's release", 0)
	release("A", 0)
	only("after A's second release", 0)

	// Another token's release spills the solo reader: it holds on, in
	// KEYS[2] and KEYS[3], with the rest of its lease.
	l.read("A2", 30000, 3000, "c")
	release("B", 0)
	reader("after B's release", "A2", 3, 30000)
	release("A2", 1)
	only("after A2's release", 0)

	// Uncontended write, its renewal and its release.
	luaWantCalls(t, "the write pair", luaCalls(t, rdb, func() {
		luaWant(t, "write W", l.write("W", 60000, 3000, "c"), []int64{1, 4})
		release("W", 1)
	}), "exists hincrby set get del")
	luaWant(t, "write W", l.write("W", 60000, 3000, "c"), []int64{1, 5})
	solo("after W's write", "W", "w", 5, 60000)
	refused("read with W's token", "read", "W", l.probe, 60000, 3000, "c", "7")
	if err := rdb.PExpire(ctx, k[8], 10*time.Second).Err(); err != nil {
		t.Fatal(err)
	}
	if l.renew("W", 60000) != 1 {
		t.Fatal("renew(W)")
	}
	solo("after W's renewal", "W", "w", 5, 60000)
	release("W", 1)
	only("after W's release", 0)
	release("W", 0)

	// Another token's release spills the solo writer.
	l.write("W1", 30000, 3000, "c")
	release("B", 0)
	writer("after B's release", "W1", 6, "0 ", 30000)
	release("W1", 1)
	only("after W1's release", 0)

	// A write downgraded (spilled first), then released as a read.
	luaWant(t, "write D", l.write("D", 60000, 3000, "c"), []int64{1, 7})
	if l.downgrade("D", 30000) != 1 {
		t.Fatal("downgrade(D)")
	}
	reader("after D's downgrade", "D", 7, 30000)
	release("D", 1)
	only("after D's release", 0)

	// Readers' leases ended and their key expired, their fences not: a
	// read or a write drops them.
	l.read("old", 50, 3000, "c")
	l.read("old1", 50, 3000, "c")
	time.Sleep(100 * time.Millisecond)
	only("after old's and old1's leases", 0, 2)
	luaWant(t, "read X", l.read("X", 60000, 3000, "c"), []int64{1, 10})
	solo("after X's read", "X", "r", 10, 60000)
	release("X", 1)
	only("after X's release", 0)
	l.read("old2", 50, 3000, "c")
	l.read("old3", 50, 3000, "c")
	time.Sleep(100 * time.Millisecond)
	luaWant(t, "write Y", l.write("Y", 60000, 3000, "c"), []int64{1, 13})
	solo("after Y's write", "Y", "w", 13, 60000)
	release("old2", 0)
	writer("after old2's release", "Y", 13, "0 ", 60000)
	release("Y", 1)
	only("after Y's release", 0)

	// A spilled writer's lease ended, its hash not (it lives a second
	// longer): its release returns 0 and leaves nothing; its token still
	// cannot read; another reader or writer gets the lock. (A try-read
	// spills it, and changes nothing else.)
	luaWant(t, "write W2", l.write("W2", 50, 3000, "c"), []int64{1, 14})
	if r := l.read("T", 60000, 0, "c"); r[0] != 0 {
		t.Fatalf("try-read with a writer = %v", r)
	}
	time.Sleep(100 * time.Millisecond)
	only("after W2's lease", 0, 3)
	release("W2", 0)
	only("after W2's release", 0)
	luaWant(t, "write W3", l.write("W3", 50, 3000, "c"), []int64{1, 15})
	l.read("T", 60000, 0, "c")
	time.Sleep(100 * time.Millisecond)
	refused("read with W3's token", "read", "W3", l.probe, 60000, 3000, "c", "7")
	luaWant(t, "read R", l.read("R", 60000, 3000, "c"), []int64{1, 16})
	reader("after R's read", "R", 16, 60000)
	release("R", 1)
	luaWant(t, "write W4", l.write("W4", 50, 3000, "c"), []int64{1, 17})
	l.read("T", 60000, 0, "c")
	time.Sleep(100 * time.Millisecond)
	luaWant(t, "write W5", l.write("W5", 60000, 3000, "c"), []int64{1, 18})
	writer("after W5's write", "W5", 18, "7 c", 60000)
	release("W4", 0)
	writer("after W4's release", "W5", 18, "7 c", 60000)
	release("W5", 1)
	only("after W5's release", 0)

	// An announced writer whose readers' leases ended: its release
	// returns 0 and leaves nothing (the fences go too).
	luaWant(t, "read r", l.read("r", 50, 3000, "c"), []int64{1, 19})
	if r := l.write("w", 60000, 3000, "c"); r[0] != 0 || r[1] > 50 {
		t.Fatalf("w = %v, want announced", r)
	}
	time.Sleep(100 * time.Millisecond)
	only("after r's lease", 0, 2, 3)
	release("w", 0)
	only("after w gave up", 0)

	// The only reader, whose lease has ended while its key lives on: 0,
	// and nothing left; a reader whose lease has ended ahead of a live
	// one is dropped by the other's read and release.
	now := l.snapshot().now
	rdb.ZAdd(ctx, k[1], redis.Z{Score: float64(now - 10), Member: "dead"})
	rdb.HSet(ctx, k[2], "dead", "9")
	release("dead", 0)
	only("after dead's release", 0)
	rdb.ZAdd(ctx, k[1], redis.Z{Score: float64(now - 10), Member: "dead"})
	rdb.HSet(ctx, k[2], "dead", "9")
	luaWant(t, "read R2", l.read("R2", 60000, 3000, "c"), []int64{1, 20})
	reader("after R2's read", "R2", 20, 60000)
	rdb.ZAdd(ctx, k[1], redis.Z{Score: float64(now - 10), Member: "dead"})
	rdb.HSet(ctx, k[2], "dead", "9")
	release("R2", 1)
	only("after R2's release", 0)

	// Two readers: the release of one keeps the other.
	l.read("R3", 60000, 3000, "c")
	l.read("R4", 30000, 3000, "c")
	release("R3", 1)
	reader("after R3's release", "R4", 22, 30000)
	release("R4", 1)
	only("after R4's release", 0)

	// The only reader, with a writer announced: its release grants it.
	l.read("R5", 60000, 3000, "c")
	l.write("W6", 60000, 3000, "c")
	release("R5", 1)
	if got := luaMessages(t, ps, 1); !slices.Equal(got, []string{"W6 24 7"}) {
		t.Fatalf("messages %q", got)
	}
	st := l.snapshot()
	if st.writer["tok"] != "W6" || st.writer["held"] != "1" || len(st.readers) != 0 {
		t.Fatalf("after R5's release: %+v", st)
	}
	release("W6", 1)
	only("after W6's release", 0)

	// The writer, with a reader blocked: its release grants it; with a
	// writer queued: its release grants it.
	l.write("W7", 60000, 3000, "c")
	if r := l.read("T", 60000, 0, "c"); r[0] != 0 {
		t.Fatalf("try-read with a writer = %v", r)
	}
	writer("after the try-read", "W7", 25, "0 ", 60000)
	l.read("R6", 60000, 3000, "c")
	release("W7", 1)
	if got := luaMessages(t, ps, 1); !slices.Equal(got, []string{"R6 26 7"}) {
		t.Fatalf("messages %q", got)
	}
	st = l.snapshot()
	st.check(t, true)
	if _, ok := st.readers["R6"]; !ok || len(st.readers) != 1 || len(st.writer) != 0 {
		t.Fatalf("after W7's release: %+v", st)
	}
	release("R6", 1)
	l.write("W8", 60000, 3000, "c")
	l.write("W9", 60000, 3000, "c")
	release("W8", 1)
	if got := luaMessages(t, ps, 1); !slices.Equal(got, []string{"W9 28 7"}) {
		t.Fatalf("messages %q", got)
	}
	release("W9", 1)
	only("at the end", 0)
}
