package faultproxy

import (
	"net"
	"sync"
	"time"
)

// A direction is one half of a proxied connection.
type direction int

const (
	up   direction = iota // client to backend
	down                  // backend to client
)

// A link is one proxied connection: a client and its backend connection.
type link struct {
	client  net.Conn
	backend net.Conn      // nil for a connection accepted during a blackhole
	done    chan struct{} // closed by close
	once    sync.Once
}

// close closes both connections, resetting the client's if reset. It is
// safe to call more than once and from any goroutine.
func (l *link) close(reset bool) {
	l.once.Do(func() {
		close(l.done)
		if reset {
			resetConn(l.client)
		} else {
			l.client.Close()
		}
		if l.backend != nil {
			l.backend.Close()
		}
	})
}

// A chunk is data read from one side, to be written to the other at due
// (at once if due is zero).
type chunk struct {
	data []byte
	due  time.Time
}

// queueLen bounds the chunks read but not yet written in one direction, so
// that a delayed or stalled peer pushes back on the sender.
const queueLen = 64

// pipe copies one direction of l, chunk by chunk as the current mode says,
// until a side fails or l is closed; then it closes l.
func (p *Proxy) pipe(l *link, dir direction) {
	src, dst, count := l.client, l.backend, &p.fromClients
	if dir == down {
		src, dst, count = l.backend, l.client, &p.fromBackend
	}
	queue := make(chan chunk, queueLen)
	var writer sync.WaitGroup
	if dst != nil {
		writer.Go(func() { write(l, dst, queue) })
	}
	defer func() {
		close(queue)
		writer.Wait()
		l.close(false)
	}()
	var messages messageFilter // for data from the backend
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			count.Add(int64(n))
			c, action := p.route(dir, buf[:n], dst != nil)
			if action == forward && dir == down {
				var dropped int
				c.data, dropped = messages.filter(c.data, p.Mode() == DropMessages)
				p.droppedMessages.Add(int64(dropped))
			}
			switch action {
			case forward:
				select {
				case queue <- c:
				case <-l.done:
					return
				}
			case closeLink:
				l.close(p.Mode() == Reset)
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// An action is what pipe does with a chunk it has read.
type action int

const (
	forward action = iota
	discard
	closeLink
)

// route decides, by the current mode, what happens to data read in
// direction dir; connected reports whether the link has a backend.
func (p *Proxy) route(dir direction, data []byte, connected bool) (chunk, action) {
	p.mu.Lock()
	mode, delay := p.mode, p.up
	if dir == down {
		delay = p.down
	}
	p.mu.Unlock()
	switch {
	case mode == Blackhole, mode == DropReplies && dir == down:
		return chunk{}, discard
	case mode == Reset, !connected:
		return chunk{}, closeLink
	}
	c := chunk{data: append([]byte(nil), data...)}
	if mode == Delay && delay > 0 {
		c.due = time.Now().Add(delay)
	}
	return c, forward
}

// write writes the chunks of queue to dst, each at its due time, until the
// queue is closed, a write fails or l is closed.
func write(l *link, dst net.Conn, queue <-chan chunk) {
	for c := range queue {
		if !c.due.IsZero() {
			t := time.NewTimer(time.Until(c.due))
			select {
			case <-t.C:
			case <-l.done:
				t.Stop()
				return
			}
		}
		if _, err := dst.Write(c.data); err != nil {
			l.close(false)
			return
		}
	}
}
