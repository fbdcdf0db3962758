package redislock

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/codomyrmex/concurrency/lock"
)

// NewRedlock returns a Client that keeps each lock on a majority of
// independent Redis servers, following the Redlock algorithm: an acquire
// runs the obtain script on every server in parallel and succeeds when a
// quorum (len(rdbs)/2 + 1) granted it and the validity, counted from before
// the requests were sent, has not run out. It returns as soon as the
// outcome is known: a quorum granted, too few servers are left to make one,
// or, while the outcome is open, after a per-node timeout small against
// the TTL (a twentieth of it, between 10ms and 50ms), so that a silent
// server costs nobody more than that. The calls still in flight carry on in
// the background until the validity runs out, so that the lock lands on
// every server that answers. A failed attempt is given back in the
// background (at once, and again once every server has answered), and the
// next attempt uses a new token, after a random delay when contenders
// split the servers between them. Renewals and releases go to every server
// and need a quorum too, so a lease survives the loss, or the silence, of a
// minority of the servers. Waiters are notified through a subscription on
// the first server, and fall back to timed re-checks while it is down.
//
// Use an odd number of servers, at least three, that share nothing: no
// replication between them, and restarts delayed by more than the longest
// TTL or with AOF fsync always, or a restarted server can hand a lock out
// again. Redlock buys availability, not correctness: it is still an
// efficiency lock under process pauses and clock jumps (see the package
// documentation), and it has no fencing token, because counters on
// independent servers do not form one sequence: Fence returns 0 for its
// leases.
//
// The servers must be distinct go-redis clients, each as New requires, of
// distinct servers: one server given twice would cast two votes of a
// quorum. NewRedlock reports, with an error wrapping
// lock.ErrInvalidArgument, the same client given twice, and two
// *redis.Client with the same address: the same Unix socket path, or the
// same TCP host and port, where host names are compared without case and
// localhost, an empty host, 127.0.0.1, ::1 and the unspecified addresses
// count as one host. It cannot see other aliases (two DNS names of one
// host, a proxy in front of a server, Sentinel or Cluster clients of one
// deployment).
func NewRedlock(rdbs []redis.UniversalClient, opts ...Option) (*Client, error) {
	if len(rdbs) == 0 {
		return nil, fmt.Errorf("redislock: Redlock with no servers: %w", lock.ErrInvalidArgument)
	}
	addrs := make([]string, len(rdbs))
	for i, rdb := range rdbs {
		if isNil(rdb) {
			continue // reported by newClient
		}
		addrs[i] = serverAddr(rdb)
		for j, other := range rdbs[:i] {
			switch {
			case isNil(other):
			case sameClient(rdb, other):
				return nil, fmt.Errorf("redislock: Redlock servers %d and %d are the same client: %w", j, i, lock.ErrInvalidArgument)
			case addrs[i] != "" && addrs[i] == addrs[j]:
				return nil, fmt.Errorf("redislock: Redlock servers %d and %d have the same address %s: %w", j, i, addrs[i], lock.ErrInvalidArgument)
			}
		}
	}
	return newClient(append([]redis.UniversalClient(nil), rdbs...), opts)
}

// sameClient reports whether a and b are the same client.
func sameClient(a, b redis.UniversalClient) bool {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	switch {
	case va.Type() != vb.Type():
		return false
	case va.Kind() == reflect.Pointer:
		return va.Pointer() == vb.Pointer()
	default:
		return va.Comparable() && va.Equal(vb)
	}
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
