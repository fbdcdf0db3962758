package check

import (
	"encoding/binary"
	"fmt"
	"os"
)

// opSize is the size of one operation in a history file: Client, Kind,
// Weight, Call, Return and Outcome as little-endian 64-bit integers.
const opSize = 48

// Add records an operation whose times the caller took with [Now]: one
// reconstructed after the fact, such as the release of a lock by the
// kernel when its holder was killed, or a release that may have happened
// at any time since Call (Output Ambiguous, Return math.MaxInt64). Its
// Input must be an [Input] and its Output an [Outcome].
func (h *History) Add(op Operation) {
	h.mu.Lock()
	h.ops = append(h.ops, op)
	h.mu.Unlock()
}

// Save writes the operations recorded so far to a new file at path (mode
// 0600), so that a checker in another process can merge the histories of
// several processes with [LoadHistory]. It fails if the file exists.
func (h *History) Save(path string) error {
	ops := h.Operations()
	b := make([]byte, 0, len(ops)*opSize)
	for _, op := range ops {
		in := op.Input.(Input)
		for _, v := range []int64{int64(in.Client), int64(in.Kind), in.Weight, op.Call, op.Return, int64(op.Output.(Outcome))} {
			b = binary.LittleEndian.AppendUint64(b, uint64(v))
		}
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("check: save history: %w", err)
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return fmt.Errorf("check: save history: %w", err)
	}
	return f.Close()
}

// LoadHistory returns the operations saved at path by [History.Save].
func LoadHistory(path string) ([]Operation, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("check: load history: %w", err)
	}
	if len(b)%opSize != 0 {
		return nil, fmt.Errorf("check: load history %s: %d bytes is not a whole number of operations", path, len(b))
	}
	ops := make([]Operation, 0, len(b)/opSize)
	for off := 0; off < len(b); off += opSize {
		v := func(i int) int64 { return int64(binary.LittleEndian.Uint64(b[off+8*i:])) }
		in := Input{Client: int(v(0)), Kind: OpKind(v(1)), Weight: v(2)}
		ops = append(ops, Operation{ClientId: in.Client, Input: in, Call: v(3), Return: v(4), Output: Outcome(v(5))})
	}
	return ops, nil
}
