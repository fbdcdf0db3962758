package chaos_test

import (
	"slices"
	"testing"
	"time"

	"github.com/codomyrmex/concurrency/internal/chaos"
)

func TestPlanFromEnv(t *testing.T) {
	for _, tt := range []struct {
		chaos, soak string
		want        chaos.Plan
		bad         bool
	}{
		{"", "", chaos.Plan{Scale: 1}, false},
		{"short", "", chaos.Plan{Scale: 1}, false},
		{"long", "", chaos.Plan{Scale: chaos.LongScale}, false},
		{"", "90s", chaos.Plan{Scale: 1, Soak: 90 * time.Second}, false},
		{"forever", "", chaos.Plan{}, true},
		{"", "-1m", chaos.Plan{}, true},
		{"", "soon", chaos.Plan{}, true},
	} {
		t.Setenv("CHAOS", tt.chaos)
		t.Setenv("CHAOS_SOAK", tt.soak)
		got, err := chaos.PlanFromEnv()
		if (err != nil) != tt.bad || got != tt.want {
			t.Errorf("CHAOS=%q CHAOS_SOAK=%q: %+v, %v", tt.chaos, tt.soak, got, err)
		}
	}
}

func TestPlanRounds(t *testing.T) {
	if got := slices.Collect(chaos.Plan{Scale: 2}.Rounds(3)); !slices.Equal(got, []int{0, 1, 2, 3, 4, 5}) {
		t.Fatalf("rounds = %v", got)
	}
	start := time.Now()
	n := 0
	for range (chaos.Plan{Scale: 1, Soak: 50 * time.Millisecond}).Rounds(1) {
		n++
		time.Sleep(5 * time.Millisecond)
	}
	if d := time.Since(start); d < 50*time.Millisecond || n < 2 {
		t.Fatalf("soak ran %d rounds in %v, want rounds for at least 50ms", n, d)
	}
}
