package chaos

import (
	"fmt"
	"iter"
	"os"
	"time"
)

// LongScale is how many times more rounds a scenario runs with CHAOS=long.
const LongScale = 10

// maxSoakRounds bounds a soak by count as well as by time.
const maxSoakRounds = 1 << 20

// A Plan is how much each scenario runs, chosen by the environment.
type Plan struct {
	Scale int           // 1 by default, LongScale with CHAOS=long
	Soak  time.Duration // with CHAOS_SOAK, how long each scenario repeats
}

// PlanFromEnv reads CHAOS ("" or "short" for the default plan, "long" for
// LongScale times more rounds) and CHAOS_SOAK (a positive duration such as
// "10m": each scenario repeats rounds until that long has passed).
func PlanFromEnv() (Plan, error) {
	p := Plan{Scale: 1}
	switch v := os.Getenv("CHAOS"); v {
	case "", "short":
	case "long":
		p.Scale = LongScale
	default:
		return Plan{}, fmt.Errorf("chaos: CHAOS=%q, want short or long", v)
	}
	if v := os.Getenv("CHAOS_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return Plan{}, fmt.Errorf("chaos: CHAOS_SOAK=%q, want a positive duration such as 10m", v)
		}
		p.Soak = d
	}
	return p, nil
}

// Rounds yields the numbers of the rounds a scenario runs: base×Scale
// rounds, then, with a soak, more rounds until Soak has passed since the
// first began (never more than a million).
func (p Plan) Rounds(base int) iter.Seq[int] {
	return func(yield func(int) bool) {
		start := time.Now()
		for r := range maxSoakRounds {
			if r >= base*p.Scale && (p.Soak == 0 || time.Since(start) >= p.Soak) {
				return
			}
			if !yield(r) {
				return
			}
		}
	}
}
