package faultproxy

import (
	"bytes"
	"strconv"
)

// A messageFilter drops the pub/sub messages that a Redis server sends a
// client (see DropMessages), frame by frame: it keeps a frame that a
// chunk split until the rest of it arrives.
type messageFilter struct {
	pending []byte // the start of a frame, whose rest has not arrived
}

// filter returns data, which follows what earlier calls saw, less the
// complete pub/sub messages it holds (and the number dropped) if drop is
// set; the start of a frame at its end waits for the next call. Without
// drop, it returns what it holds and data as they are.
func (f *messageFilter) filter(data []byte, drop bool) (out []byte, dropped int) {
	data = append(f.pending, data...)
	f.pending = nil
	if !drop {
		return data, 0
	}
	for len(data) > 0 {
		n := frameLen(data)
		switch {
		case n < 0: // not RESP: forward the rest as it is
			return append(out, data...), dropped
		case n == 0:
			f.pending = append([]byte(nil), data...)
			return out, dropped
		case isMessage(data[:n]):
			dropped++
		default:
			out = append(out, data[:n]...)
		}
		data = data[n:]
	}
	return out, dropped
}

// isMessage reports whether frame is a pub/sub message (or shard message),
// in RESP2 (an array) or RESP3 (a push): ["message", channel, payload].
func isMessage(frame []byte) bool {
	for _, kind := range []string{"message", "smessage"} {
		for _, head := range []string{"*3\r\n", ">3\r\n"} {
			if bytes.HasPrefix(frame, []byte(head+"$"+strconv.Itoa(len(kind))+"\r\n"+kind+"\r\n")) {
				return true
			}
		}
	}
	return false
}

// frameLen returns the length of the RESP2 or RESP3 frame at the start of
// b: 0 if b holds only its start, -1 if b does not start with one.
func frameLen(b []byte) int {
	line := bytes.Index(b, []byte("\r\n"))
	if line < 0 {
		return 0
	}
	if line == 0 {
		return -1
	}
	head := line + 2
	switch b[0] {
	case '+', '-', ':', '_', '#', ',', '(':
		return head
	case '$', '=', '!': // a blob: length, data, CRLF
		n, err := strconv.Atoi(string(b[1:line]))
		switch {
		case err != nil:
			return -1
		case n < 0: // RESP2's null bulk string
			return head
		case len(b) < head+n+2:
			return 0
		}
		return head + n + 2
	case '*', '>', '~', '%', '|': // an aggregate of frames
		n, err := strconv.Atoi(string(b[1:line]))
		if err != nil {
			return -1
		}
		if b[0] == '%' || b[0] == '|' {
			n *= 2 // key and value
		}
		size := head
		for range max(n, 0) {
			m := frameLen(b[size:])
			if m <= 0 {
				return m
			}
			size += m
		}
		if b[0] == '|' { // attributes precede the frame they describe
			m := frameLen(b[size:])
			if m <= 0 {
				return m
			}
			size += m
		}
		return size
	}
	return -1
}
