package check

import (
	"math"
	"slices"
	"sync"

	"github.com/anishathalye/porcupine"
)

// An OpKind is what an operation of a [History] did.
type OpKind uint8

const (
	Acquire OpKind = iota + 1 // acquire Weight (1 for a mutex)
	Release                   // release Weight (1 for a mutex)
)

// An Outcome is how an operation of a [History] ended.
type Outcome uint8

const (
	// OK: the operation took effect (an acquire returned nil: now held).
	OK Outcome = iota + 1
	// Failed: the operation did not take effect (an acquire that timed out,
	// was cancelled or was refused holds nothing).
	Failed
	// Ambiguous: the operation may or may not have taken effect, at any
	// time after its call (a request to a server that timed out may still
	// be applied). Its return time is recorded as +infinity.
	Ambiguous
)

// An Input is the input of one operation, for porcupine.
type Input struct {
	Client int
	Kind   OpKind
	Weight int64
}

// An Operation is one operation of a [History], in porcupine's form: its
// Input is an [Input] and its Output an [Outcome].
type Operation = porcupine.Operation

// A History records acquire and release operations from a real concurrent
// run, each with its call and return time from [Now], for [CheckMutex] or
// [CheckSemaphore]. The zero value is empty and ready to use.
//
// Keep histories to a few thousand operations: the check is NP-complete,
// and its cost grows quickly with the number of operations in flight at
// once.
type History struct {
	mu  sync.Mutex
	ops []Operation
}

// A Call is an operation that has been called and has not yet returned.
type Call struct {
	h     *History
	in    Input
	start int64
}

// Call records the call of an operation by client; call it right before the
// operation.
func (h *History) Call(client int, kind OpKind, weight int64) Call {
	return Call{h: h, in: Input{Client: client, Kind: kind, Weight: weight}, start: Now()}
}

// Return records the operation's outcome; call it right after the operation
// returned.
func (c Call) Return(out Outcome) {
	end := Now()
	if out == Ambiguous {
		end = math.MaxInt64
	}
	c.h.Add(Operation{ClientId: c.in.Client, Input: c.in, Call: c.start, Output: out, Return: end})
}

// Len returns the number of operations recorded.
func (h *History) Len() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.ops)
}

// Operations returns a copy of the operations recorded, in porcupine's form.
func (h *History) Operations() []Operation {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.ops)
}
