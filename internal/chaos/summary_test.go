package chaos_test

import (
	"testing"

	"github.com/codomyrmex/concurrency/internal/chaos"
)

func TestSummaryLine(t *testing.T) {
	s := chaos.Summary{Acquisitions: 9600, Processes: 4, Faults: 12, LostUpdates: 1}
	s.Note(chaos.Count(1, "history") + " linearizable")
	s.Note(chaos.Count(1234567, "history"))
	const want = "9,600 acquisitions, 4 processes, 12 injected faults, 0 overlaps, 1 lost update; 1 history linearizable; 1,234,567 histories"
	if got := s.String(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	if got := chaos.Count(-1000, "process"); got != "-1,000 processes" {
		t.Fatal(got)
	}
}
