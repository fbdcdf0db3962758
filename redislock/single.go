package redislock

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// single is the transport of a Client of one Redis deployment (a
// standalone server, a Sentinel failover group, a Cluster, a Ring): every
// script runs once, on rdb.
//
// An acquisition keeps one token for all its attempts: while it waits,
// the token holds its place in the lock's queue in Redis, a release hands
// the lock to it (see hub), and an attempt whose reply came too late to
// use is confirmed, fence and all, by the next one.
type single struct {
	c     *Client
	rdb   redis.UniversalClient
	fixed bool // rdb is a *redis.Client of one fixed address: a failed dial means the server is down
	// probe is the scripts' probe: probeOn for a *redis.Client
	// (standalone or Sentinel), where a PUBLISH that reaches no
	// subscriber means that the grantee's Client is gone; probeOff for a
	// Cluster or Ring, where PUBLISH counts the subscribers of one node.
	probe any
}

func newSingle(c *Client, rdb redis.UniversalClient) *single {
	s := &single{c: c, rdb: rdb, fixed: serverAddr(rdb) != "", probe: probeOff}
	if _, ok := rdb.(*redis.Client); ok {
		s.probe = probeOn
	}
	return s
}

func (s *single) obtain(ctx context.Context, call acquireCall) attempt {
	call.probe = s.probe
	var (
		r   int64
		err error
	)
	if ctx.Done() == nil {
		r, err = call.run(ctx, s.rdb)
	} else {
		r, err = s.obtainInterruptible(ctx, call)
	}
	o := attempt{queued: call.entry.duration() > 0}
	if err != nil {
		o.err, o.down = err, s.fixed && isDialError(err)
		return o
	}
	held, n := obtained(r)
	if held {
		o.held, o.fence, o.queued = true, n, false
	} else {
		o.retryIn = time.Duration(n) * time.Millisecond
	}
	return o
}

// obtainInterruptible is call.run under Client.interruptible, for a ctx
// that can be cancelled; an abandoned call is released in the background.
func (s *single) obtainInterruptible(ctx context.Context, call acquireCall) (int64, error) {
	var r int64
	err := s.c.interruptible(ctx, func(ctx context.Context) (err error) {
		r, err = call.run(ctx, s.rdb)
		return err
	}, func() { s.c.releaseLater(context.Background(), releaseCall{t: call.t, token: call.token}) })
	if err != nil {
		return 0, err // r belongs to the abandoned call
	}
	return r, nil
}

func (s *single) extend(ctx context.Context, call extendCall) (bool, error) {
	call.probe = s.probe
	r, err := call.run(ctx, s.rdb)
	return err == nil && r == 1, err
}

// extendAll sends the calls in one pipeline, and those that find the
// script missing from the server's cache (NOSCRIPT) again as EVAL.
func (s *single) extendAll(ctx context.Context, calls []extendCall, results []renewal) {
	cmds := make([]*redis.Cmd, len(calls))
	for i, c := range calls {
		c.probe = s.probe
		cmds[i] = c.cmd(ctx)
	}
	runAll(ctx, s.rdb, cmds)
	for i, cmd := range cmds {
		r, err := cmd.Int64()
		results[i] = renewal{ok: err == nil && r == 1, err: err}
	}
}

func (s *single) release(ctx context.Context, call releaseCall) (bool, error) {
	call.probe = s.probe
	r, err := call.run(ctx, s.rdb)
	return err == nil && r == 1, err
}

// retryToken returns tok: the token keeps its place in the queue.
func (s *single) retryToken(tok token) token { return tok }

// lateGrant does nothing: the next attempt, with the same token, confirms
// the lock afresh.
func (s *single) lateGrant(context.Context, releaseCall, attempt) {}

// queues returns true: waiters queue, and a release hands the lock to the
// first of them.
func (s *single) queues() bool { return true }

func (s *single) query(ctx context.Context, call queryCall) ([][]int64, error) {
	call.probe = s.probe
	var r []int64
	err := s.c.interruptible(ctx, func(ctx context.Context) (err error) {
		r, err = call.run(ctx, s.rdb)
		return err
	}, nil)
	if err != nil {
		return nil, err // r belongs to the abandoned call
	}
	return [][]int64{r}, nil
}

func (s *single) nodes() int { return 1 }

// isDialError reports whether err is the failure to connect to a server:
// go-redis returns its dialer's error once its own dial retries have
// failed (DialerRetries, each bounded by DialTimeout), and then at once for
// a while.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// serverAddr returns the address of the one server that rdb connects to,
// in a canonical form (see NewRedlock), or "" if rdb has no fixed address:
// anything but a *redis.Client of a TCP or Unix address, such as a
// Sentinel failover client (whose Addr is "FailoverClient").
func serverAddr(rdb redis.UniversalClient) string {
	c, ok := rdb.(*redis.Client)
	if !ok {
		return ""
	}
	o := c.Options()
	switch o.Network {
	case "unix":
		return "unix:" + filepath.Clean(o.Addr)
	case "tcp", "tcp4", "tcp6":
	default:
		return ""
	}
	host, port, err := net.SplitHostPort(o.Addr) // fails for a failover client's "FailoverClient"
	if err != nil {
		return ""
	}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		host = ip.String()
		if ip == netip.IPv6Loopback() || ip == netip.AddrFrom4([4]byte{127, 0, 0, 1}) || ip.IsUnspecified() {
			host = "localhost"
		}
	}
	if host == "" {
		host = "localhost"
	}
	if n, err := strconv.ParseUint(port, 10, 16); err == nil {
		port = strconv.FormatUint(n, 10)
	}
	return "tcp:" + net.JoinHostPort(host, port)
}
