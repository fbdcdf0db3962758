package check

import (
	"encoding/binary"
	"fmt"
	"os"
	"sync/atomic"
)

// recordSize is the size of one hold in an interval log: Owner, Weight,
// Token, Start and End as little-endian 64-bit integers.
const recordSize = 40

// An IntervalLog is the file in which one process records its holds, so
// that a checker in another process can merge the logs of several processes
// with [ReadIntervalLog]. Each hold is a fixed-size record written when the
// hold begins, with no end, and rewritten in place when it ends, so the
// hold of a process killed while holding is still on disk, open-ended.
//
// The goroutines of one process may share an IntervalLog. Processes must
// not share one: give each its own file.
type IntervalLog struct {
	f    *os.File
	next atomic.Int64 // offset of the next record
}

// CreateIntervalLog creates a new, empty interval log at path (mode 0600).
// It fails if the file exists.
func CreateIntervalLog(path string) (*IntervalLog, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("check: create interval log: %w", err)
	}
	return &IntervalLog{f: f}, nil
}

// Close closes the log file.
func (l *IntervalLog) Close() error { return l.f.Close() }

// A LoggedHold is a hold being recorded in an [IntervalLog].
type LoggedHold struct {
	log *IntervalLog
	off int64
	iv  Interval
}

// Begin records the start of a hold, stamped with [Now], and returns it so
// that the caller can End it. Call it right after the acquire returned.
func (l *IntervalLog) Begin(owner uint64, weight, token int64) (LoggedHold, error) {
	h := LoggedHold{
		log: l,
		off: l.next.Add(recordSize) - recordSize,
		iv:  Interval{Owner: owner, Weight: weight, Token: token, Start: Now()},
	}
	return h, h.write()
}

// End records the end of the hold, stamped with [Now], and returns the
// interval. Call it right before the release.
func (h LoggedHold) End() (Interval, error) {
	return h.EndAt(Now(), h.iv.Weight)
}

// EndAt records the end of the hold at end, a [Now] reading, with weight in
// place of the weight given to Begin, and returns the interval. Weight 0
// marks a hold that turned out to carry no guarantee, such as a lease found
// lost when the hold ended, so that capacity checks leave it out.
func (h LoggedHold) EndAt(end, weight int64) (Interval, error) {
	h.iv.End, h.iv.Weight = end, weight
	return h.iv, h.write()
}

func (h LoggedHold) write() error {
	var b [recordSize]byte
	for i, v := range []uint64{h.iv.Owner, uint64(h.iv.Weight), uint64(h.iv.Token), uint64(h.iv.Start), uint64(h.iv.End)} {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	if _, err := h.log.f.WriteAt(b[:], h.off); err != nil {
		return fmt.Errorf("check: write interval log: %w", err)
	}
	return nil
}

// ReadIntervalLog returns the holds recorded in the log at path. A hold that
// never ended (its process was killed or stopped while holding) is given
// End = openEnd: pass a [Now] reading taken just before the process was
// killed, or a time by which the hold is known to have ended. Slots that
// were reserved but never written, and a torn record at the end of the file,
// are skipped.
func ReadIntervalLog(path string, openEnd int64) ([]Interval, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("check: read interval log: %w", err)
	}
	var ivs []Interval
	for off := 0; off+recordSize <= len(b); off += recordSize {
		u := func(i int) uint64 { return binary.LittleEndian.Uint64(b[off+8*i:]) }
		iv := Interval{Owner: u(0), Weight: int64(u(1)), Token: int64(u(2)), Start: int64(u(3)), End: int64(u(4))}
		if iv.Start == 0 {
			continue
		}
		if iv.End == 0 {
			iv.End = max(openEnd, iv.Start)
		}
		ivs = append(ivs, iv)
	}
	return ivs, nil
}
