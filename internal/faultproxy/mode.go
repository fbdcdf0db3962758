package faultproxy

// A Mode is how a [Proxy] treats connections.
type Mode int

const (
	// Pass forwards data in both directions as it arrives.
	Pass Mode = iota
	// Delay forwards data in both directions, each chunk held back for the
	// delay of its direction (see [Proxy.SetDelay]) from when it was read.
	// Order is kept.
	Delay
	// Blackhole accepts new connections and reads everything from open
	// ones, forwarding nothing in either direction, so that peers see a
	// silent network. Data read meanwhile is lost; a connection accepted
	// during the blackhole has no backend connection and is closed at the
	// first data read after the blackhole ends.
	Blackhole
	// DropReplies forwards data from clients to the backend and discards
	// the backend's replies: requests take effect, answers never come.
	DropReplies
	// Reset resets every open connection (RST to the client) and every new
	// one as soon as it is accepted.
	Reset
	// Refuse closes the listening socket, so new connections are refused
	// by the kernel. Open connections keep forwarding as in Pass.
	Refuse
	// DropMessages forwards data in both directions as Pass does, except
	// the pub/sub messages a Redis backend sends its subscribers (RESP2
	// and RESP3 "message" and "smessage" frames), which it discards whole:
	// a PUBLISH counts the subscriber, which never gets the message.
	// Frames split across reads are reassembled first.
	DropMessages
)

func (m Mode) String() string {
	switch m {
	case Pass:
		return "pass"
	case Delay:
		return "delay"
	case Blackhole:
		return "blackhole"
	case DropReplies:
		return "drop-replies"
	case Reset:
		return "reset"
	case Refuse:
		return "refuse"
	case DropMessages:
		return "drop-messages"
	}
	return "Mode(?)"
}
