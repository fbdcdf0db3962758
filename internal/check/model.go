package check

import (
	"errors"
	"fmt"
	"time"

	"github.com/anishathalye/porcupine"
)

// Errors of CheckMutex and CheckSemaphore.
var (
	// ErrNotLinearizable: no sequential order of the operations, each
	// placed between its call and its return, is allowed by the model.
	ErrNotLinearizable = errors.New("check: history is not linearizable")
	// ErrCheckTimeout: the check ran out of time before deciding. Treat it
	// as a failure and record a shorter history.
	ErrCheckTimeout = errors.New("check: linearizability check timed out")
)

// free is the state of a mutex nobody holds.
const free = -1

// MutexModel is the sequential specification of a mutex. The state is the
// client holding it, or none. An OK acquire needs it free and takes it; an
// OK release needs the releasing client to hold it and frees it; a Failed
// acquire changes nothing; a Failed release is legal only if the client did
// not hold it; an Ambiguous operation may or may not take effect. Weights
// are ignored.
func MutexModel() porcupine.Model {
	return (&porcupine.NondeterministicModel{
		Init: func() []any { return []any{free} },
		Step: func(state, input, output any) []any {
			holder, in, out := state.(int), input.(Input), output.(Outcome)
			switch in.Kind {
			case Acquire:
				return step(out, holder == free, holder, in.Client)
			case Release:
				if out == Failed && holder == in.Client {
					return nil
				}
				return step(out, holder == in.Client, holder, free)
			}
			return nil
		},
		Hash:              func(state any) uint64 { return uint64(state.(int) + 1) },
		DescribeOperation: describeOp,
		DescribeState: func(state any) string {
			if state.(int) == free {
				return "free"
			}
			return fmt.Sprintf("held by %d", state.(int))
		},
	}).ToModel()
}

// SemaphoreModel is the sequential specification of a weighted semaphore
// of the given capacity. The state is the weight in use. An OK acquire of w
// needs w free and takes it; an OK release of w needs w in use and returns
// it; a Failed operation changes nothing; an Ambiguous one may or may not
// take effect. Holders are not tracked: one client releasing another's
// weight is not detected.
//
// A reader/writer lock is checked with it by giving readers weight 1 and
// writers weight capacity, with capacity above the number of readers.
func SemaphoreModel(capacity int64) porcupine.Model {
	return (&porcupine.NondeterministicModel{
		Init: func() []any { return []any{int64(0)} },
		Step: func(state, input, output any) []any {
			used, in, out := state.(int64), input.(Input), output.(Outcome)
			switch in.Kind {
			case Acquire:
				return step(out, used+in.Weight <= capacity, used, used+in.Weight)
			case Release:
				return step(out, used >= in.Weight, used, used-in.Weight)
			}
			return nil
		},
		Hash:              func(state any) uint64 { return uint64(state.(int64)) },
		DescribeOperation: describeOp,
		DescribeState:     func(state any) string { return fmt.Sprintf("%d/%d in use", state.(int64), capacity) },
	}).ToModel()
}

// step returns the states after an operation with outcome out that can take
// effect (moving from before to after) only when allowed.
func step(out Outcome, allowed bool, before, after any) []any {
	switch {
	case out == OK && allowed:
		return []any{after}
	case out == OK:
		return nil
	case out == Ambiguous && allowed:
		return []any{before, after}
	default: // Failed, or an Ambiguous operation that cannot have taken effect
		return []any{before}
	}
}

func describeOp(input, output any) string {
	in, out := input.(Input), output.(Outcome)
	verb := map[OpKind]string{Acquire: "acquire", Release: "release"}[in.Kind]
	result := map[Outcome]string{OK: "ok", Failed: "failed", Ambiguous: "ambiguous"}[out]
	return fmt.Sprintf("%s(%d) -> %s", verb, in.Weight, result)
}

// CheckMutex checks ops, recorded by a [History] of one mutex, against
// [MutexModel]. It returns nil if the history is linearizable, an error
// wrapping ErrNotLinearizable if it is not, and one wrapping
// ErrCheckTimeout if the check did not finish within timeout.
func CheckMutex(ops []Operation, timeout time.Duration) error {
	return checkOps(MutexModel(), ops, timeout)
}

// CheckSemaphore checks ops, recorded by a [History] of one semaphore of
// the given capacity, against [SemaphoreModel], as CheckMutex does.
func CheckSemaphore(capacity int64, ops []Operation, timeout time.Duration) error {
	return checkOps(SemaphoreModel(capacity), ops, timeout)
}

func checkOps(model porcupine.Model, ops []Operation, timeout time.Duration) error {
	switch porcupine.CheckOperationsTimeout(model, ops, timeout) {
	case porcupine.Ok:
		return nil
	case porcupine.Illegal:
		return fmt.Errorf("%w (%d operations)", ErrNotLinearizable, len(ops))
	default:
		return fmt.Errorf("%w after %v (%d operations)", ErrCheckTimeout, timeout, len(ops))
	}
}
