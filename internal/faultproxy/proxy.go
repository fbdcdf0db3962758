package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// dialTimeout bounds the connection to the backend made for each accepted
// client connection.
const dialTimeout = 2 * time.Second

// ErrClosed is returned by Set after Close.
var ErrClosed = errors.New("faultproxy: closed")

// A Proxy forwards TCP connections from its loopback address to a backend,
// injecting the faults of its current [Mode]. Its methods are safe for
// concurrent use.
type Proxy struct {
	backend string
	addr    string // the listening address, kept across Refuse

	ctx    context.Context // cancelled by Close, aborting backend dials
	cancel context.CancelFunc
	wg     sync.WaitGroup // every goroutine of the proxy

	mu       sync.Mutex
	mode     Mode
	up, down time.Duration      // delays in Delay mode
	ln       net.Listener       // nil while refusing or closed
	links    map[*link]struct{} // open connections
	closed   bool

	fromClients, fromBackend, accepted, droppedMessages atomic.Int64
}

// Stats counts what a Proxy has seen since it was created.
type Stats struct {
	Accepted    int64 // connections accepted
	FromClients int64 // bytes read from clients, forwarded or not
	FromBackend int64 // bytes read from the backend, forwarded or not
	// DroppedMessages counts the pub/sub messages discarded in
	// DropMessages mode.
	DroppedMessages int64
}

// New starts a proxy in Pass mode on a free port of 127.0.0.1 that forwards
// to backend (host:port).
func New(backend string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		backend: backend,
		addr:    ln.Addr().String(),
		ctx:     ctx,
		cancel:  cancel,
		links:   make(map[*link]struct{}),
	}
	p.serve(ln)
	return p, nil
}

// Addr returns the address clients connect to, "127.0.0.1:port". It does
// not change, even across Refuse.
func (p *Proxy) Addr() string { return p.addr }

// Mode returns the current mode.
func (p *Proxy) Mode() Mode {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mode
}

// SetDelay sets the delays that Delay mode applies to data going to the
// backend (up) and coming back (down). Both are zero initially.
func (p *Proxy) SetDelay(up, down time.Duration) {
	p.mu.Lock()
	p.up, p.down = up, down
	p.mu.Unlock()
}

// Set switches the proxy to mode m. Switching to Reset resets every open
// connection before Set returns. Switching from Refuse to another mode
// listens on the same address again; if that fails, the proxy stays in
// Refuse and Set returns the error.
func (p *Proxy) Set(m Mode) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	switch {
	case m == Refuse && p.ln != nil:
		p.ln.Close() // the accept loop ends on its own
		p.ln = nil
	case m != Refuse && p.ln == nil:
		ln, err := net.Listen("tcp", p.addr)
		if err != nil {
			return fmt.Errorf("faultproxy: listen again on %s: %w", p.addr, err)
		}
		p.serve(ln)
	}
	if m == Reset {
		for l := range p.links {
			l.close(true)
		}
	}
	p.mode = m
	return nil
}

// Stats returns the proxy's counters.
func (p *Proxy) Stats() Stats {
	return Stats{Accepted: p.accepted.Load(), FromClients: p.fromClients.Load(), FromBackend: p.fromBackend.Load(),
		DroppedMessages: p.droppedMessages.Load()}
}

// Close stops listening, closes every connection and waits for all of the
// proxy's goroutines to return. It is safe to call more than once.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		p.cancel()
		if p.ln != nil {
			p.ln.Close()
			p.ln = nil
		}
		for l := range p.links {
			l.close(false)
		}
	}
	p.mu.Unlock()
	p.wg.Wait()
	return nil
}

// serve sets ln as the listener and starts its accept loop. p.mu is held or
// p is not shared yet.
func (p *Proxy) serve(ln net.Listener) {
	p.ln = ln
	p.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return // closed by Set(Refuse) or Close
			}
			p.accepted.Add(1)
			p.wg.Go(func() { p.handle(c) })
		}
	})
}

// handle connects an accepted client to the backend and starts forwarding.
func (p *Proxy) handle(client net.Conn) {
	var backend net.Conn
	switch p.Mode() {
	case Reset:
		resetConn(client)
		return
	case Blackhole: // no backend: nothing may reach it
	default:
		d := net.Dialer{Timeout: dialTimeout}
		var err error
		if backend, err = d.DialContext(p.ctx, "tcp", p.backend); err != nil {
			resetConn(client)
			return
		}
	}
	l := &link{client: client, backend: backend, done: make(chan struct{})}
	p.mu.Lock()
	if closed := p.closed; closed || p.mode == Reset {
		p.mu.Unlock()
		l.close(!closed)
		return
	}
	p.links[l] = struct{}{}
	p.mu.Unlock()

	var pipes sync.WaitGroup
	pipes.Go(func() { p.pipe(l, up) })
	if backend != nil {
		pipes.Go(func() { p.pipe(l, down) })
	}
	pipes.Wait()
	p.mu.Lock()
	delete(p.links, l)
	p.mu.Unlock()
}

// resetConn closes c so that the peer gets a RST rather than a FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	c.Close()
}
