package check_test

import (
	"slices"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/check"
)

func grant(owner uint64, w, token, called, granted, end, validUntil int64) check.Grant {
	return check.Grant{Owner: owner, Weight: w, Token: token, Called: called, Granted: granted, End: end, ValidUntil: validUntil}
}

// OverAdmitted catches a semaphore of size 4 that admits 2+2+1 at once,
// but not a grant that overlaps the others only after its lease's
// validity ran out (a holder stalled beyond its TTL whose weight the
// server gave to another).
func TestOverAdmittedCatchesOverAdmission(t *testing.T) {
	const size = 4
	fits := []check.Grant{
		grant(1, 2, 1, 0, 1, 50, 0),
		grant(2, 2, 2, 0, 2, 40, 100),
		grant(3, 1, 3, 30, 40, 60, 0), // takes 2's place at 40 (half-open holds)
		grant(4, 3, 4, 45, 50, 90, 0), // 1's and 2's
	}
	if ex := check.OverAdmitted(fits, size); ex != nil {
		t.Fatalf("grants that fit: %v", ex)
	}
	over := append(fits, grant(5, 1, 5, 3, 5, 20, 0)) // 2+2+1 from 5 to 20
	ex := check.OverAdmitted(over, size)
	if len(ex) != 1 || ex[0].At != 5 || ex[0].Weight != 5 || ex[0].Holds != 3 {
		t.Fatalf("over-admission: %v, want 5 held at 5 by 3 holds", ex)
	}
	t.Log(ex[0])

	// Owner 6 stalled: its release came at 95, but its lease was valid
	// only until 20, after which the server gave its weight to 7.
	stalled := []check.Grant{grant(6, 4, 6, 0, 1, 95, 20), grant(7, 4, 7, 10, 30, 60, 0)}
	if ex := check.OverAdmitted(stalled, size); ex != nil {
		t.Fatalf("a hold past its validity counted: %v", ex)
	}
	// Had its validity lasted to 40, the two overlap.
	stalled[0].ValidUntil = 40
	if ex := check.OverAdmitted(stalled, size); len(ex) != 1 || ex[0].At != 30 {
		t.Fatalf("a valid hold overlapping: %v", ex)
	}
	// A grant whose validity had run out when it was granted holds
	// nothing.
	if h := grant(8, 1, 8, 0, 10, 20, 5).Hold(); h.End != h.Start {
		t.Fatalf("Hold of an expired grant = %+v", h)
	}
}

// OverAdmitted with readers of weight 1 and writers of weight size checks
// a reader/writer lock, a downgrade included (its write hold ends when
// the downgrade is called, its read hold starts there).
func TestOverAdmittedReaderWriter(t *testing.T) {
	const size = 100
	good := []check.Grant{
		grant(1, size, 1, 0, 1, 10, 0), // writer, downgrades at 10
		grant(1, 1, 0, 10, 10, 30, 0),  // its read hold
		grant(2, 1, 2, 5, 12, 20, 0),   // a reader that waited in the write phase
		grant(3, size, 3, 6, 31, 40, 0),
	}
	if ex := check.OverAdmitted(good, size); ex != nil {
		t.Fatalf("good: %v", ex)
	}
	bad := append(good, grant(4, 1, 4, 33, 35, 36, 0)) // a reader inside a writer
	if ex := check.OverAdmitted(bad, size); len(ex) != 1 || ex[0].At != 35 {
		t.Fatalf("reader inside writer: %v", ex)
	}
}

func TestFenceDisorders(t *testing.T) {
	good := []check.Grant{
		grant(1, 1, 2, 0, 10, 50, 0),
		grant(2, 1, 1, 5, 12, 50, 0), // concurrent with 1: either order
		grant(3, 1, 3, 11, 20, 50, 0),
		grant(4, 1, 0, 12, 21, 50, 0), // no token
		grant(5, 1, 4, 21, 22, 50, 0),
	}
	if d := check.FenceDisorders(good); d != nil {
		t.Fatalf("tokens in order: %v", d)
	}
	dup := append(good, grant(6, 1, 3, 1, 30, 50, 0))
	if d := check.FenceDisorders(dup); len(d) != 1 || d[0].Earlier.Owner != 6 || d[0].Later.Owner != 3 {
		t.Fatalf("token granted twice: %v", d)
	} else {
		t.Log(d[0])
	}
	// 3 gets token 5 at 20; 5 asks at 21 and gets 4, 7 asks at 25 and
	// gets 3: both below 5.
	late := slices.Clone(good)
	late[2].Token = 5
	late = append(late, grant(7, 1, 3, 25, 26, 50, 0))
	d := check.FenceDisorders(late)
	if len(d) != 2 || d[0].Later.Owner != 5 || d[1].Later.Owner != 7 || d[1].Earlier.Owner != 3 {
		t.Fatalf("regressions: %v", d)
	}
	t.Log(d[1])
}

func TestValidUntil(t *testing.T) {
	before := check.Now()
	at := check.ValidUntil(func() time.Duration { return time.Second })
	if at < before+int64(time.Second) || at > check.Now()+int64(time.Second) {
		t.Fatalf("ValidUntil = %d, want about %d", at, before+int64(time.Second))
	}
	if at := check.ValidUntil(func() time.Duration { return 0 }); at != 0 {
		t.Fatalf("ValidUntil of an ended lease = %d, want 0", at)
	}
}

func TestGrants(t *testing.T) {
	var g check.Grants
	g.Add(grant(1, 1, 1, 0, 1, 2, 0))
	all := g.All()
	g.Add(grant(2, 1, 2, 0, 1, 2, 0))
	if len(all) != 1 || len(g.All()) != 2 {
		t.Fatalf("All = %v, then %v", all, g.All())
	}
}
