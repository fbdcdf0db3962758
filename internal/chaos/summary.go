package chaos

import (
	"strconv"
	"strings"
)

// A Summary is what a scenario injected and what it checked, for its log
// line.
type Summary struct {
	Acquisitions int64    // successful acquisitions checked
	Processes    int      // processes that contended
	Faults       int64    // faults injected: cancellations, kills, pauses, restarts, network faults
	Overlaps     int      // overlapping holds found (want 0)
	LostUpdates  int64    // updates the counter oracle lost (want 0)
	Notes        []string // further checks and injections, already phrased
}

// Note appends a phrase such as "40 histories linearizable".
func (s *Summary) Note(phrase string) { s.Notes = append(s.Notes, phrase) }

// String renders the summary as one line, e.g. "9,600 acquisitions, 4
// processes, 12 injected faults, 0 overlaps, 0 lost updates; 40 histories
// linearizable".
func (s Summary) String() string {
	var b strings.Builder
	b.WriteString(Count(s.Acquisitions, "acquisition"))
	b.WriteString(", " + Count(int64(s.Processes), "process"))
	b.WriteString(", " + Count(s.Faults, "injected fault"))
	b.WriteString(", " + Count(int64(s.Overlaps), "overlap"))
	b.WriteString(", " + Count(s.LostUpdates, "lost update"))
	for _, n := range s.Notes {
		b.WriteString("; " + n)
	}
	return b.String()
}

// Count renders n with thousands separators and noun, in the plural unless
// n is 1: Count(9600, "acquisition") is "9,600 acquisitions". Plurals add
// "s", or "es" after "s", or replace a final "y" by "ies".
func Count(n int64, noun string) string {
	switch {
	case n == 1:
	case strings.HasSuffix(noun, "s"):
		noun += "es"
	case strings.HasSuffix(noun, "y"):
		noun = strings.TrimSuffix(noun, "y") + "ies"
	default:
		noun += "s"
	}
	digits := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, digits = "-", digits[1:]
	}
	var b strings.Builder
	for i, d := range digits {
		if i > 0 && (len(digits)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(d)
	}
	return sign + b.String() + " " + noun
}
