package redislock

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
	"github.com/codomyrmex/concurrency/internal/lease"
)

// hub is a Client's one Redis subscription, shared by every lock it waits
// for. The release script publishes on the lock's channel (when an acquire
// has marked the key as awaited); the hub turns the message into a wake-up
// of the local waiter that is talking to Redis.
//
// The subscription starts with the first wait, and is closed by
// Client.Close. A channel is subscribed while some waiter needs it. After a
// subscription error (the connection broke and go-redis reconnected) every
// waiter is woken, since messages may have been missed.
type hub struct {
	c   *Client
	rdb redis.UniversalClient // the deployment, or a Redlock's first server

	mu     sync.Mutex
	ps     *redis.PubSub // nil until the first subscribe
	closed bool
	topics map[string]*topic
}

// A topic is one subscribed channel.
type topic struct {
	channel string
	refs    int // waiters using it
	// pending counts SUBSCRIBE commands not yet confirmed; ready is
	// closed when it drops to zero, i.e. when the server has registered
	// the subscription and no release can be missed any more.
	pending int
	ready   chan struct{}
	// wake is closed, and replaced, when a release is published; see
	// hub.wakeChan. last is the message: the token of the waiter the lock
	// was handed to, or "" for every waiter.
	wake chan struct{}
	last string
}

// subscribe returns the topic of channel once the server has confirmed the
// subscription, or after maxWait if it has not (the caller then relies on
// its timed re-checks). The caller must call unsubscribe when done.
func (h *hub) subscribe(ctx context.Context, channel string) (*topic, error) {
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errClosed
	}
	if h.ps == nil {
		if !h.c.group.Track() {
			h.mu.Unlock()
			return nil, errClosed
		}
		h.ps = h.rdb.Subscribe(context.WithoutCancel(ctx))
		h.topics = make(map[string]*topic)
		go h.receive(h.ps)
	}
	t := h.topics[channel]
	if t == nil {
		t = &topic{channel: channel}
		h.topics[channel] = t
	}
	t.refs++
	if t.refs == 1 {
		if t.pending == 0 {
			t.ready = make(chan struct{})
		}
		t.pending++
		// Under h.mu, so SUBSCRIBE and UNSUBSCRIBE of one channel reach
		// the server in the order the pending counts assume.
		if err := h.ps.Subscribe(ctx, channel); err != nil {
			t.pending--
			h.dropLocked(t)
			h.mu.Unlock()
			return nil, err
		}
	}
	ready := t.ready
	h.mu.Unlock()

	timer := time.NewTimer(maxWait)
	defer timer.Stop()
	select {
	case <-ready:
	case <-timer.C:
	case <-ctx.Done():
		h.unsubscribe(t)
		return nil, ctxerr.From(ctx)
	case <-h.c.done:
		h.unsubscribe(t)
		return nil, errClosed
	}
	return t, nil
}

// wakeChan returns a channel that is closed by the next release published
// on t (or by a subscription error). Taken before an acquire attempt, it
// catches every release after that attempt and none before it.
func (h *hub) wakeChan(t *topic) <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t.wake == nil {
		t.wake = make(chan struct{})
	}
	return t.wake
}

// handedElsewhere reports whether the last release published on t handed
// the lock to a waiter other than token.
func (h *hub) handedElsewhere(t *topic, token string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return t.last != "" && t.last != token
}

// unsubscribe gives back a topic returned by subscribe.
func (h *hub) unsubscribe(t *topic) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(t)
}

// dropLocked counts a waiter out of t, unsubscribing when none is left.
func (h *hub) dropLocked(t *topic) {
	if t.refs--; t.refs > 0 {
		return
	}
	if !h.closed {
		ctx, cancel := context.WithTimeout(context.Background(), lease.CleanupTimeout)
		// On failure the channel stays subscribed until the
		// connection is replaced; stray messages are harmless.
		_ = h.ps.Unsubscribe(ctx, t.channel)
		cancel()
	}
	if t.pending == 0 {
		delete(h.topics, t.channel)
	}
}

// receive reads the subscription until the hub is closed.
func (h *hub) receive(ps *redis.PubSub) {
	defer h.c.group.Exit()
	backoff := minBackoff
	for {
		msg, err := ps.Receive(context.Background())
		select {
		case <-h.c.done:
			return
		default:
		}
		if err != nil {
			h.wakeAll()
			select {
			case <-h.c.done:
				return
			case <-time.After(jitter(backoff)):
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		h.mu.Lock()
		switch m := msg.(type) {
		case *redis.Subscription:
			if t := h.topics[m.Channel]; m.Kind == "subscribe" && t != nil && t.pending > 0 {
				if t.pending--; t.pending == 0 {
					close(t.ready)
					if t.refs == 0 {
						delete(h.topics, t.channel)
					}
				}
			}
		case *redis.Message:
			if t := h.topics[m.Channel]; t != nil {
				t.last = m.Payload
				t.notify()
			}
		}
		h.mu.Unlock()
	}
}

// wakeAll wakes every waiter and forgets pending confirmations: after a
// reconnect go-redis subscribes again, and messages in between are lost.
func (h *hub) wakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for ch, t := range h.topics {
		if t.pending > 0 {
			t.pending = 0
			close(t.ready)
		}
		if t.refs == 0 {
			delete(h.topics, ch)
		}
		t.last = ""
		t.notify()
	}
}

// close closes the subscription, which ends receive.
func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	ps := h.ps
	h.mu.Unlock()
	if ps != nil {
		_ = ps.Close()
	}
}

// notify wakes the waiter of t, if any, and gives it a new channel for the
// next release: one published while it looks at this one is not missed. It
// must be called with hub.mu held.
func (t *topic) notify() {
	if t.wake != nil {
		close(t.wake)
		t.wake = make(chan struct{})
	}
}
