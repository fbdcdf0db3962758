package suite

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/benchmarks/internal/harness"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestScenariosWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for _, s := range All() {
		if s.Name == "" || s.About == "" || seen[s.Name] {
			t.Errorf("scenario %q: empty or duplicate", s.Name)
		}
		seen[s.Name] = true
		baseline := false
		for _, im := range s.Impls {
			baseline = baseline || im.Name == s.Baseline
			if got, ok := Lookup(s.Name, im.Name); !ok || got.Name != im.Name {
				t.Errorf("Lookup(%s, %s) = %v, %v", s.Name, im.Name, got.Name, ok)
			}
		}
		if !baseline {
			t.Errorf("scenario %s: baseline %q is not one of its implementations", s.Name, s.Baseline)
		}
		for impl, need := range s.Uses {
			if _, ok := Lookup(s.Name, impl); !ok || need&^s.Need != 0 {
				t.Errorf("scenario %s: Uses[%q] = %v: unknown implementation, or a need beyond the scenario's %v", s.Name, impl, need, s.Need)
			}
		}
		for _, w := range s.Workers {
			if w < 1 {
				t.Errorf("scenario %s: worker count %d", s.Name, w)
			}
		}
	}
	if _, ok := Lookup("mutex", "nope"); ok {
		t.Error("Lookup found an unknown implementation")
	}
}

// TestExclusion runs every in-process and file implementation briefly
// with goroutines and checks that it excludes: writers bump a plain counter (the race detector
// watches it), and semaphore holders never hold more than its size.
func TestExclusion(t *testing.T) {
	for _, s := range All() {
		if s.Need&(NeedRedis|NeedEtcd) != 0 { // see redis_test.go and etcd_test.go
			continue
		}
		for _, im := range s.Impls {
			t.Run(s.Name+"/"+im.Name, func(t *testing.T) {
				p := harness.Params{Workers: 4, Local: 4, Duration: 20 * time.Millisecond, Writes: 1, Weights: []int64{1, 2}, SemSize: 2}
				inst, err := im.New(harness.Env{Dir: t.TempDir(), Key: "k"}, p)
				if err != nil {
					t.Fatal(err)
				}
				defer inst.Close()
				counter := 0
				var inUse atomic.Int64
				var over atomic.Bool
				lockers := make([]harness.Locker, p.Workers)
				for i := range lockers {
					l, err := inst.Worker(i)
					if err != nil {
						t.Fatal(err)
					}
					switch {
					case s.Name == "sem":
						lockers[i] = weighing{l, p.Weight(i), p.SemSize, &inUse, &over}
						continue
					case strings.HasPrefix(im.Name, "gofrs"):
						// The race detector cannot see flock(2): gofrs has no
						// annotations, so a counter would be reported.
						lockers[i] = l
						continue
					}
					lockers[i] = counting{l, &counter}
				}
				sm := harness.Drive(context.Background(), lockers, p)
				if sm.Ops == 0 || sm.Errors != 0 {
					t.Fatalf("ops %d errors %d (%s)", sm.Ops, sm.Errors, sm.FirstError)
				}
				if over.Load() {
					t.Fatal("semaphore holders exceeded its size")
				}
			})
		}
	}
}

// counting bumps a plain counter while holding its Locker.
type counting struct {
	harness.Locker
	n *int
}

func (c counting) Lock(ctx context.Context) error {
	if err := c.Locker.Lock(ctx); err != nil {
		return err
	}
	*c.n++
	return nil
}

// weighing tracks the weight held through a semaphore's Lockers.
type weighing struct {
	harness.Locker
	w, size int64
	inUse   *atomic.Int64
	over    *atomic.Bool
}

func (c weighing) Lock(ctx context.Context) error {
	if err := c.Locker.Lock(ctx); err != nil {
		return err
	}
	if c.inUse.Add(c.w) > c.size {
		c.over.Store(true)
	}
	return nil
}

func (c weighing) Unlock() {
	c.inUse.Add(-c.w)
	c.Locker.Unlock()
}
