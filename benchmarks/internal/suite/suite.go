// Package suite lists the contention scenarios that contend runs and, for
// each, the implementations it compares: this module's primitive and its
// peers. Adding an implementation is adding one entry to a scenario's list.
package suite

import (
	"time"

	"github.com/codomyrmex/concurrency/benchmarks/internal/harness"
)

// What a scenario needs from its environment: a set of these flags.
type Need int

const (
	NeedNothing Need = 0      // in-process only
	NeedDir     Need = 1 << 0 // a directory for lock files
	NeedRedis   Need = 1 << 1 // a Redis server
	NeedEtcd    Need = 1 << 2 // an etcd server
)

// A Scenario is one kind of contended resource with the implementations
// compared on it.
type Scenario struct {
	Name     string        // short name used in flags and reports, e.g. "mutex"
	About    string        // one line for a newcomer
	Section  time.Duration // default critical section
	Baseline string        // default implementation to compare with
	Need     Need          // what its implementations need, all together
	// Uses says what each implementation needs where they differ (a
	// scenario that compares backends); see Needs.
	Uses map[string]Need
	// Workers are the worker counts run when -workers is not given; nil
	// for the session's default.
	Workers []int
	// Weights are the semaphore weights (worker i takes Weights[i % len])
	// used when -weights is not given; nil for the session's default.
	Weights []int64
	// Processes is true when workers may run in separate OS processes.
	Processes bool
	Impls     []harness.Impl
}

// Needs returns what the implementation impl of s needs: its entry in
// s.Uses, or else s.Need.
func (s Scenario) Needs(impl string) Need {
	if n, ok := s.Uses[impl]; ok {
		return n
	}
	return s.Need
}

// All returns every scenario, in the order reports show them.
func All() []Scenario {
	return []Scenario{mutexScenario(), semScenario(), rwScenario(), fileScenario(), redisScenario(), redisSemScenario(), redisRWScenario(), etcdScenario()}
}

// Lookup finds an implementation by scenario and name.
func Lookup(scenario, impl string) (harness.Impl, bool) {
	for _, s := range All() {
		if s.Name != scenario {
			continue
		}
		for _, im := range s.Impls {
			if im.Name == impl {
				return im, true
			}
		}
	}
	return harness.Impl{}, false
}

// shared returns a constructor whose instance hands every worker the same
// Locker, made fresh for each run by newLocker.
func shared(newLocker func() harness.Locker) func(harness.Env, harness.Params) (harness.Instance, error) {
	return func(harness.Env, harness.Params) (harness.Instance, error) {
		l := newLocker()
		return harness.LockerFunc(func(int) harness.Locker { return l }), nil
	}
}
