package report

import "fmt"

// Verdict sums up a scenario at its largest worker count for a newcomer:
// which implementation acquired most often, which shared most evenly, and
// which had the lowest maximum wait. It is "" when nothing ran there.
func (s *Scenario) Verdict() string {
	ws := s.WorkerCounts()
	if len(ws) == 0 {
		return ""
	}
	workers := ws[len(ws)-1]
	var fast, fair, calm *Row
	for i := range s.Summary {
		r := &s.Summary[i]
		if r.Workers != workers || r.Reps == 0 {
			continue
		}
		if fast == nil || r.Throughput > fast.Throughput {
			fast = r
		}
		if fair == nil || r.Jain > fair.Jain {
			fair = r
		}
		if calm == nil || r.Max < calm.Max {
			calm = r
		}
	}
	if fast == nil {
		return ""
	}
	return fmt.Sprintf("at %d workers: most acquisitions %s (%s/s), fairest %s (Jain %.3f), lowest max wait %s (%s)",
		workers, fast.Impl, Rate(fast.Throughput), fair.Impl, fair.Jain, calm.Impl, Dur(calm.Max))
}
