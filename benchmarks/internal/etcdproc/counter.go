package etcdproc

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// requestsMetric counts the gRPC messages an etcd server has received, by
// service and method: one per unary request (Txn, Range, LeaseGrant,
// LeaseRevoke…) and one per message on a stream (a watch created or
// cancelled, a lease keep-alive).
const requestsMetric = "grpc_server_msg_received_total"

// maxMetrics bounds the size of a /metrics reply that is read.
const maxMetrics = 16 << 20

// CountRequests returns the number of gRPC messages the etcd server at
// addr (host:port) has received, from its /metrics. Reading /metrics is
// not a gRPC request, so counting does not count.
func CountRequests(ctx context.Context, addr string) (int64, error) {
	b, err := get(ctx, addr, "/metrics", maxMetrics)
	if err != nil {
		return 0, fmt.Errorf("etcd metrics: %w", err)
	}
	return ParseRequests(string(b))
}

// ParseRequests sums the samples of grpc_server_msg_received_total in a
// Prometheus text exposition; it fails if there are none.
func ParseRequests(metrics string) (int64, error) {
	var total float64
	found := false
	for line := range strings.SplitSeq(metrics, "\n") {
		line = strings.TrimSpace(line)
		rest, ok := strings.CutPrefix(line, requestsMetric)
		if !ok || rest == "" || rest[0] != '{' && rest[0] != ' ' {
			continue // a comment, another metric, or one whose name merely starts alike
		}
		if i := strings.LastIndexByte(rest, '}'); i >= 0 {
			rest = rest[i+1:]
		}
		fields := strings.Fields(rest) // value [timestamp]
		if len(fields) == 0 {
			return 0, fmt.Errorf("etcd metrics: no value in %q", line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil || !(v >= 0) || math.IsInf(v, 0) { // NaN too
			return 0, fmt.Errorf("etcd metrics: bad value in %q", line)
		}
		total += v
		found = true
	}
	if !found {
		return 0, fmt.Errorf("etcd metrics: no %s", requestsMetric)
	}
	return int64(total), nil
}
