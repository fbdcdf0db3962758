package redislock

import (
	"context"
	"crypto/rand"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/internal/ctxerr"
)

// hub is a Client's one Redis subscription, to a channel of its own, which
// every lock that the Client waits for shares. A release that hands a lock
// to a waiter of the Client publishes 'token fence stamp' on the channel
// (see lua/lock.lua); the hub gives the grant to the waiting acquisition
// that registered the token. A grant for a token that nobody waits for
// any more is dropped: the acquisition that gave up releases its token,
// which hands the lock on.
//
// The subscription starts before the Client's first waiter queues in
// Redis, and lasts until Client.Close. While it is down (not confirmed
// yet, or broken and not confirmed again), waiters queue without the
// channel and learn of a grant from their queue refresh; when it breaks,
// and when it is confirmed again, every waiter is told to check at once.
type hub struct {
	c       *Client
	rdb     redis.UniversalClient // the deployment
	channel string                // prefix:client:<random>
	epoch   time.Time             // stamps are microseconds since then, on the monotonic clock

	mu      sync.Mutex
	ps      *redis.PubSub // nil until the first waiter
	up      bool          // the server has confirmed the subscription, and it has not broken since
	ready   chan struct{} // closed when up turns true; replaced when it turns false
	closed  bool
	waiters map[string]*waiter // by token
}

// A waiter is an acquisition of the Client that may be queued in Redis.
type waiter struct {
	grant chan grant    // capacity 1: a release handed the lock to the token
	check chan struct{} // capacity 1: the subscription broke or came back
}

// A grant is a lock that a release handed to a waiter, as its message
// tells: the fencing token, and the send time of the waiter's request that
// set its entry's deadline (see acquisition.fromGrant). A fence of -1 is a
// semaphore's refusal: a resize left it smaller than the waiter's weight,
// and size says how large.
type grant struct {
	fence int64
	sent  time.Time
	size  int64
}

var waiterPool = sync.Pool{New: func() any {
	return &waiter{grant: make(chan grant, 1), check: make(chan struct{}, 1)}
}}

func (h *hub) init(c *Client, rdb redis.UniversalClient, prefix string) {
	h.c, h.rdb = c, rdb
	h.channel = prefix + ":client:" + rand.Text()
	h.epoch = time.Now()
	h.ready = make(chan struct{})
	h.waiters = make(map[string]*waiter)
}

// register adds a waiter for tok, which it must do before sending the
// request that may queue tok, and returns it; unregister removes it.
func (h *hub) register(tok string) *waiter {
	w := waiterPool.Get().(*waiter)
	h.mu.Lock()
	h.waiters[tok] = w
	h.mu.Unlock()
	return w
}

// unregister removes the waiter w of tok, dropping a grant it was sent.
func (h *hub) unregister(tok string, w *waiter) {
	h.mu.Lock()
	delete(h.waiters, tok)
	h.mu.Unlock()
	select {
	case <-w.grant:
	default:
	}
	select {
	case <-w.check:
	default:
	}
	waiterPool.Put(w)
}

// isUp reports whether the subscription is up.
func (h *hub) isUp() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.up
}

// channelArg returns the channel for a waiter's queue entry: the hub's
// while the subscription is up, and otherwise none, so that a grant is
// not published to nobody (which would count as the waiter's death).
func (h *hub) channelArg() *string {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.up {
		return &h.channel
	}
	return noChannel
}

// stamp returns the stamp of a request sent at sent, which a grant's
// message returns.
func (h *hub) stamp(sent time.Time) any {
	return sent.Sub(h.epoch).Microseconds()
}

// await starts the subscription if it has not started, and waits until it
// is up, for at most d. It fails only when ctx ends or the Client is
// closed; a subscription that is not up in time leaves its waiters to
// their queue refreshes.
func (h *hub) await(ctx context.Context, d time.Duration) error {
	h.mu.Lock()
	if h.ps == nil && !h.closed {
		if !h.c.group.Track() {
			h.mu.Unlock()
			return errClosed
		}
		h.ps = h.rdb.Subscribe(context.WithoutCancel(ctx), h.channel)
		go h.receive(h.ps)
	}
	ready := h.ready
	h.mu.Unlock()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ready:
	case <-timer.C:
	case <-ctx.Done():
		return ctxerr.From(ctx)
	case <-h.c.done:
		return errClosed
	}
	return nil
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
			// Messages may have been lost; go-redis subscribes again
			// on the next Receive.
			h.setUp(false)
			select {
			case <-h.c.done:
				return
			case <-time.After(jitter(backoff)):
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = minBackoff
		switch m := msg.(type) {
		case *redis.Subscription:
			if m.Kind == "subscribe" {
				h.setUp(true)
			}
		case *redis.Message:
			h.deliver(m.Payload)
		}
	}
}

// setUp records whether the subscription is up and, if that changed,
// tells every waiter to check at once: grants may have been missed, or,
// once it is up again, may be published again.
func (h *hub) setUp(up bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.up == up {
		return
	}
	h.up = up
	if up {
		close(h.ready)
	} else {
		h.ready = make(chan struct{})
	}
	for _, w := range h.waiters {
		select {
		case w.check <- struct{}{}:
		default:
		}
	}
}

// deliver hands the grant in payload, 'token fence stamp' (or a
// semaphore's refusal, 'token -1 size'), to the waiter of its token, if
// there is one.
func (h *hub) deliver(payload string) {
	tok, rest, _ := strings.Cut(payload, " ")
	f, s, _ := strings.Cut(rest, " ")
	fence, err1 := strconv.ParseInt(f, 10, 64)
	stamp, err2 := strconv.ParseInt(s, 10, 64)
	if err1 != nil || err2 != nil || fence == 0 || fence < -1 {
		return
	}
	g := grant{fence: fence, sent: h.epoch.Add(time.Duration(stamp) * time.Microsecond)}
	if fence < 0 {
		g = grant{fence: fence, size: stamp}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if w := h.waiters[tok]; w != nil {
		select {
		case w.grant <- g:
		default:
		}
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
