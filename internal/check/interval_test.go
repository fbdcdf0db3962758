package check_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/codomyrmex/concurrency/internal/check"
)

func iv(owner uint64, start, end int64) check.Interval {
	return check.Interval{Owner: owner, Weight: 1, Start: start, End: end}
}

func TestOverlapsAcceptsSequentialHolds(t *testing.T) {
	// Touching ends do not overlap: holds are half-open.
	ivs := []check.Interval{iv(3, 20, 30), iv(1, 0, 10), iv(2, 10, 20)}
	if got := check.Overlaps(ivs); got != nil {
		t.Fatalf("Overlaps = %v, want none", got)
	}
	if got := check.OverCapacity(ivs, 1); got != nil {
		t.Fatalf("OverCapacity = %v, want none", got)
	}
}

func TestOverlapsReportsEachIntruder(t *testing.T) {
	// 2 starts inside 1; 3 starts inside 1 after 2 ended (nested holds are
	// paired with the hold that ends last, 1).
	ivs := []check.Interval{iv(1, 0, 100), iv(2, 10, 20), iv(3, 30, 40), iv(4, 100, 110)}
	got := check.Overlaps(ivs)
	if len(got) != 2 || got[0].First.Owner != 1 || got[0].Second.Owner != 2 ||
		got[1].First.Owner != 1 || got[1].Second.Owner != 3 {
		t.Fatalf("Overlaps = %v, want 1/2 and 1/3", got)
	}
	t.Log(got[0])
	if ex := check.OverCapacity(ivs, 1); len(ex) != 2 || ex[0].At != 10 || ex[1].At != 30 {
		t.Fatalf("OverCapacity = %v, want excesses at 10 and 30", ex)
	}
}

func TestOverCapacityReaderWriter(t *testing.T) {
	const capacity = 8 // readers weigh 1, a writer weighs 8
	reader := func(start, end int64) check.Interval { return check.Interval{Weight: 1, Start: start, End: end} }
	writer := func(start, end int64) check.Interval { return check.Interval{Weight: capacity, Start: start, End: end} }
	good := []check.Interval{reader(0, 10), reader(5, 15), reader(1, 12), writer(15, 20), reader(20, 25)}
	if ex := check.OverCapacity(good, capacity); ex != nil {
		t.Fatalf("readers then writer: %v", ex)
	}
	bad := append(good, reader(18, 19))
	ex := check.OverCapacity(bad, capacity)
	if len(ex) != 1 || ex[0].At != 18 || ex[0].Weight != capacity+1 || ex[0].Holds != 2 {
		t.Fatalf("reader inside writer: %v", ex)
	}
}

func TestTokenRegressions(t *testing.T) {
	tok := func(start, token int64) check.Interval {
		return check.Interval{Start: start, End: start + 1, Token: token}
	}
	if r := check.TokenRegressions([]check.Interval{tok(2, 7), tok(0, 3), tok(1, 5), tok(3, 0)}); r != nil {
		t.Fatalf("increasing tokens: %v", r)
	}
	r := check.TokenRegressions([]check.Interval{tok(0, 3), tok(1, 5), tok(2, 5), tok(3, 4)})
	if len(r) != 2 || r[0].Later.Token != 5 || r[1].Later.Token != 4 {
		t.Fatalf("TokenRegressions = %v, want the repeated 5 and the 4", r)
	}
	t.Log(r[1])
}

// TestIntervalLogMergesProcesses writes two logs as two processes would, one
// of them killed while holding, and checks the merged holds.
func TestIntervalLogMergesProcesses(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	la, err := check.CreateIntervalLog(a)
	if err != nil {
		t.Fatal(err)
	}
	defer la.Close()
	lb, err := check.CreateIntervalLog(b)
	if err != nil {
		t.Fatal(err)
	}
	defer lb.Close()
	if _, err := check.CreateIntervalLog(a); err == nil {
		t.Fatal("CreateIntervalLog reused an existing file")
	}

	h, _ := la.Begin(1, 1, 10)
	first, err := h.End()
	if err != nil {
		t.Fatal(err)
	}
	h, _ = lb.Begin(2, 1, 11)
	second, _ := h.End()
	if _, err := la.Begin(1, 1, 12); err != nil { // process a "dies" holding this
		t.Fatal(err)
	}
	killedAt := check.Now()
	late := check.Now() // a hold of b that began after a's death: no overlap
	h, _ = lb.Begin(2, 1, 13)
	third, _ := h.End()
	h, _ = lb.Begin(2, 1, 14) // a hold found without guarantee at its end
	if lost, err := h.EndAt(third.End+1, 0); err != nil || lost.Weight != 0 {
		t.Fatalf("EndAt = %+v, %v", lost, err)
	}
	// A torn record at the end of b, as a crash mid-write would leave.
	f, err := os.OpenFile(b, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write(make([]byte, 17))
	f.Close()

	ivsA, err := check.ReadIntervalLog(a, killedAt)
	if err != nil {
		t.Fatal(err)
	}
	ivsB, err := check.ReadIntervalLog(b, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(ivsA) != 2 || ivsA[0] != first || ivsA[1].End != killedAt || ivsA[1].Token != 12 {
		t.Fatalf("log a = %+v", ivsA)
	}
	if len(ivsB) != 3 || ivsB[0] != second || ivsB[1] != third || ivsB[2].Weight != 0 || third.Start < late {
		t.Fatalf("log b = %+v", ivsB)
	}
	all := append(ivsA, ivsB...)
	if o := check.OverCapacity(all, 1); o != nil {
		t.Fatalf("OverCapacity = %v", o)
	}
	if r := check.TokenRegressions(all); r != nil {
		t.Fatalf("TokenRegressions = %v", r)
	}

	// Had a's last hold been taken to end later, b's last hold overlaps it.
	ivsA, _ = check.ReadIntervalLog(a, third.End)
	if o := check.Overlaps(append(ivsA, ivsB[:2]...)); len(o) != 1 || o[0].Second != third {
		t.Fatalf("Overlaps with a later death = %v, want b's last hold", o)
	}
}
