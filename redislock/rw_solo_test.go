package redislock

// Script-level tests of the solo key of lua/rw.lua (KEYS[9]): the only
// holder of an uncontended lock, and how the other calls spill it.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// soloLeft returns the solo key of st and the time (ms) until it expires,
// failing the test unless it exists.
func soloLeft(t *testing.T, st rwState) (string, int64) {
	t.Helper()
	if st.solo == "" {
		t.Fatalf("no solo key: %+v", st)
	}
	return st.solo, st.soloAt - st.now
}

// onlyFence fails the test unless the lock's permanent fence hash is the
// only key left on the server.
func onlyFence(t *testing.T, l *luaRW) {
	t.Helper()
	if keys := l.rdb.Keys(context.Background(), "*").Val(); !slices.Equal(keys, l.keys[:1]) {
		t.Fatalf("keys left: %q", keys)
	}
}

// TestRWScriptSoloExpires: the solo key's lease ends when it expires:
// its holder's release and renewal return 0, and the next read or write
// gets the lock with a new fence.
func TestRWScriptSoloExpires(t *testing.T) {
	rdb := luaServer(t)
	l := newLuaRW(t, rdb, "soloexp")
	luaWant(t, "read A", l.read("A", 50, 3000, ""), []int64{1, 1})
	time.Sleep(100 * time.Millisecond)
	onlyFence(t, l)
	if l.renew("A", 60000) != 0 || l.release("A") != 0 {
		t.Fatal("the reader renewed or released after its lease ended")
	}
	luaWant(t, "write W", l.write("W", 50, 3000, ""), []int64{1, 2})
	time.Sleep(100 * time.Millisecond)
	onlyFence(t, l)
	if l.renew("W", 60000) != 0 || l.downgrade("W", 60000) != 0 || l.release("W") != 0 {
		t.Fatal("the writer renewed, downgraded or released after its lease ended")
	}
	luaWant(t, "read B", l.read("B", 60000, 3000, ""), []int64{1, 3})
	if solo, _ := soloLeft(t, l.snapshot()); solo != "B r 3" {
		t.Fatalf("solo %q", solo)
	}
}

// TestRWScriptSoloSecondReader: a second reader spills the solo reader,
// which keeps its fence and its lease's deadline; both read, both
// releases return 1, and only the fence hash is left.
func TestRWScriptSoloSecondReader(t *testing.T) {
	rdb := luaServer(t)
	l := newLuaRW(t, rdb, "solo2r")
	luaWant(t, "read A", l.read("A", 30000, 3000, ""), []int64{1, 1})
	before := l.snapshot()
	luaWant(t, "read B", l.read("B", 60000, 3000, ""), []int64{1, 2})
	st := l.snapshot()
	st.check(t, true)
	if st.solo != "" || len(st.readers) != 2 || st.fences["A"] != "1" || st.fences["B"] != "2" ||
		st.readers["A"] < before.readers["A"]-1 || st.readers["A"] > before.readers["A"]+1 {
		t.Fatalf("after B's read: %+v, before %+v", st, before)
	}
	luaWant(t, "stat", l.stat(), []int64{2, 0, 0, 0})
	if l.release("A") != 1 || l.release("B") != 1 {
		t.Fatal("a reader's release")
	}
	onlyFence(t, l)
}

// TestRWScriptSoloWriterWaits: a writer that arrives while a solo reader
// holds is announced and waits for it, and is granted when it releases.
func TestRWScriptSoloWriterWaits(t *testing.T) {
	rdb := luaServer(t)
	ps := luaSubscribe(t, rdb, "c")
	l := newLuaRW(t, rdb, "solow")
	l.read("A", 30000, 3000, "c")
	if r := l.write("W", 60000, 3000, "c"); r[0] != 0 || r[1] <= 29000 || r[1] > 30000 {
		t.Fatalf("W = %v, want announced, the reader's lease ending in about 30s", r)
	}
	luaWant(t, "stat", l.stat(), []int64{1, 1, 0, 0})
	if r := l.read("B", 60000, 3000, "c"); r[0] != 0 {
		t.Fatalf("B after W announced = %v", r)
	}
	l.snapshot().check(t, true)
	if l.release("A") != 1 {
		t.Fatal("release(A)")
	}
	if got := luaMessages(t, ps, 1); !slices.Equal(got, []string{"W 2 7"}) {
		t.Fatalf("messages %q", got)
	}
	luaWant(t, "stat", l.stat(), []int64{0, 2, 1, 0})
}

// TestRWScriptSoloReaderBlocked: a reader that arrives while a solo
// writer holds waits, and is granted when the writer releases.
func TestRWScriptSoloReaderBlocked(t *testing.T) {
	rdb := luaServer(t)
	ps := luaSubscribe(t, rdb, "c")
	l := newLuaRW(t, rdb, "solor")
	l.write("W", 30000, 3000, "c")
	if r := l.read("R", 60000, 3000, "c"); r[0] != 0 || r[1] <= 29000 || r[1] > 30000 {
		t.Fatalf("R = %v, want blocked, the writer's lease ending in about 30s", r)
	}
	luaWant(t, "stat", l.stat(), []int64{0, 2, 1, 0})
	st := l.snapshot()
	st.check(t, true)
	if st.solo != "" || st.writer["tok"] != "W" || st.writer["fence"] != "1" || !slices.Equal(st.blocked, []string{"R"}) {
		t.Fatalf("after R's read: %+v", st)
	}
	if l.release("W") != 1 {
		t.Fatal("release(W)")
	}
	if got := luaMessages(t, ps, 1); !slices.Equal(got, []string{"R 2 7"}) {
		t.Fatalf("messages %q", got)
	}
	luaWant(t, "stat", l.stat(), []int64{1, 0, 0, 0})
}

// TestRWScriptSoloRoles: a read with the solo writer's token, or a write
// with the solo reader's, is refused as it is with the full
// representation, and changes nothing; a retried read or write by the
// solo holder returns its fence with a full TTL.
func TestRWScriptSoloRoles(t *testing.T) {
	rdb := luaServer(t)
	for _, c := range []struct {
		hold, other, err string
		fence            int64
	}{
		{"write", "read", "read with a writer's token", 1},
		{"read", "write", "write with a reader's token", 2},
	} {
		l := newLuaRW(t, rdb, "soloroles")
		luaWant(t, c.hold, luaInts(t, l.run(c.hold, "T", "1", 1000, 3000, "c", "7")), []int64{1, c.fence})
		before := l.snapshot()
		err := l.run(c.other, "T", "1", 60000, 3000, "c", "7").Err()
		if err == nil || !strings.Contains(err.Error(), "rw.lua: "+c.err) {
			t.Fatalf("%s with the solo %s's token: %v", c.other, c.hold, err)
		}
		after := l.snapshot()
		before.now, after.now = 0, 0
		if before.solo == "" || fmt.Sprint(before) != fmt.Sprint(after) {
			t.Fatalf("the refused %s changed %+v into %+v", c.other, before, after)
		}
		luaWant(t, "retried "+c.hold, luaInts(t, l.run(c.hold, "T", "1", 60000, 3000, "c", "7")), []int64{1, c.fence})
		st := l.snapshot()
		st.check(t, true)
		dl := st.readers["T"]
		if c.hold == "write" {
			dl = luaInt(st.writer["dl"])
		}
		if st.solo != "" || dl-st.now <= 59000 || dl-st.now > 60000 {
			t.Fatalf("after the retried %s: %+v", c.hold, st)
		}
		if l.release("T") != 1 {
			t.Fatal("release(T)")
		}
		onlyFence(t, l)
	}
}

// TestRWScriptSoloRenew: the solo holder's renewal extends its key's TTL
// to the TTL given, and it stays the solo holder.
func TestRWScriptSoloRenew(t *testing.T) {
	rdb := luaServer(t)
	l := newLuaRW(t, rdb, "solorenew")
	for _, op := range []string{"read", "write"} {
		luaInts(t, l.run(op, "T"+op, "1", 1000, 3000, "", "7"))
		if _, left := soloLeft(t, l.snapshot()); left > 1000 {
			t.Fatalf("%s: %dms left", op, left)
		}
		if l.renew("T"+op, 60000) != 1 {
			t.Fatalf("renew after %s", op)
		}
		if _, left := soloLeft(t, l.snapshot()); left <= 59000 || left > 60000 {
			t.Fatalf("%s renewed: %dms left", op, left)
		}
		if l.release("T"+op) != 1 {
			t.Fatalf("release after %s", op)
		}
	}
	onlyFence(t, l)
}

// TestRWScriptSoloDowngrade: the solo writer's downgrade makes it a
// reader with its fence and the lease given; the solo reader's is
// refused (0), and it reads on.
func TestRWScriptSoloDowngrade(t *testing.T) {
	rdb := luaServer(t)
	l := newLuaRW(t, rdb, "solodown")
	luaWant(t, "write W", l.write("W", 60000, 3000, ""), []int64{1, 1})
	if l.downgrade("W", 30000) != 1 {
		t.Fatal("downgrade(W)")
	}
	st := l.snapshot()
	st.check(t, true)
	if left := st.readers["W"] - st.now; st.solo != "" || len(st.writer) != 0 || len(st.readers) != 1 ||
		st.fences["W"] != "1" || left <= 29000 || left > 30000 {
		t.Fatalf("after the downgrade: %+v", st)
	}
	if l.downgrade("W", 30000) != 0 {
		t.Fatal("a reader downgraded")
	}
	luaWant(t, "read R", l.read("R", 60000, 3000, ""), []int64{1, 2})
	if l.release("W") != 1 || l.release("R") != 1 {
		t.Fatal("a reader's release")
	}
	onlyFence(t, l)

	luaWant(t, "read S", l.read("S", 60000, 3000, ""), []int64{1, 3})
	if l.downgrade("S", 30000) != 0 {
		t.Fatal("the solo reader downgraded")
	}
	st = l.snapshot()
	st.check(t, true)
	if len(st.readers) != 1 || st.fences["S"] != "3" || len(st.writer) != 0 {
		t.Fatalf("after the reader's downgrade: %+v", st)
	}
}

// TestRWScriptSoloStat: stat reports the solo reader or writer as it
// reports a holder of the full representation, and the holder holds on.
func TestRWScriptSoloStat(t *testing.T) {
	rdb := luaServer(t)
	l := newLuaRW(t, rdb, "solostat")
	l.read("R", 60000, 3000, "")
	luaWant(t, "stat with the solo reader", l.stat(), []int64{1, 0, 0, 0})
	if l.release("R") != 1 {
		t.Fatal("release(R)")
	}
	luaWant(t, "stat of nobody", l.stat(), []int64{0, 0, 0, 0})
	l.write("W", 60000, 3000, "")
	luaWant(t, "stat with the solo writer", l.stat(), []int64{0, 2, 0, 0})
	if l.renew("W", 60000) != 1 || l.release("W") != 1 {
		t.Fatal("renew or release of W")
	}
	onlyFence(t, l)
}

// holderOf returns the deadline and fence of T, which holds the lock for
// op ("read" or "write") in st.
func holderOf(st rwState, op string) (int64, string) {
	if op == "read" {
		return st.readers["T"], st.fences["T"]
	}
	if st.writer["tok"] != "T" || st.writer["held"] != "1" {
		return 0, ""
	}
	return luaInt(st.writer["dl"]), st.writer["fence"]
}

// TestRWScriptSoloForeign: another token's release, renewal or downgrade
// returns 0, and the solo holder still holds, with its fence and lease.
func TestRWScriptSoloForeign(t *testing.T) {
	rdb := luaServer(t)
	l := newLuaRW(t, rdb, "soloforeign")
	for _, op := range []string{"read", "write"} {
		luaInts(t, l.run(op, "T", "1", 30000, 3000, "", "7"))
		before := l.snapshot()
		if l.release("X") != 0 || l.renew("X", 60000) != 0 || l.downgrade("X", 60000) != 0 {
			t.Fatalf("another token's call returned 1 with the solo %s", op)
		}
		st := l.snapshot()
		st.check(t, true)
		dl, fence := holderOf(st, op)
		wasDL, wasFence := holderOf(before, op)
		if dl < wasDL-1 || dl > wasDL+1 || fence != wasFence || fence == "" || st.fence != before.fence {
			t.Fatalf("after the other token's calls: %+v, before %+v", st, before)
		}
		if l.renew("T", 30000) != 1 || l.release("T") != 1 {
			t.Fatalf("the %s's renewal or release", op)
		}
		onlyFence(t, l)
	}
}
