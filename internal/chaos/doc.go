// Package chaos is the module's fault-injection suite: scenarios that run
// the locks of the module under cancellation churn, process kills and
// pauses, server restarts and network faults, and check every run with the
// oracles of internal/check. The scenarios are its tests; this package
// holds only what they share: how much to run ([Plan]) and how to report
// it ([Summary]). Helper processes come from internal/proctest.
//
// Every scenario is bounded in count and time and stops by itself. Plain
// go test runs a short version; CHAOS=long runs each scenario longer, and
// CHAOS_SOAK=<duration> repeats each one until the duration has passed.
// Each logs one summary line, such as
//
//	9,600 acquisitions, 4 processes, 12 injected faults, 0 overlaps, 0 lost updates
package chaos
