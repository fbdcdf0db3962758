package redistest

import (
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// clusterSlots is the number of hash slots of a Redis Cluster.
const clusterSlots = 16384

// StartCluster starts a Redis Cluster of n masters (no replicas) on free
// loopback ports, splits the hash slots evenly between them, and waits
// until every node reports cluster_state:ok. Extra arguments go to every
// server. It skips or fails as Start does.
func StartCluster(tb testing.TB, n int, args ...string) []*Server {
	tb.Helper()
	if n < 1 {
		tb.Fatalf("redistest: cluster of %d nodes", n)
	}
	nodes := make([]*Server, n)
	for i := range nodes {
		nodes[i] = Start(tb, append([]string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes-" + strconv.Itoa(i) + ".conf",
			"--cluster-node-timeout", "5000",
		}, args...)...)
	}
	for i, s := range nodes {
		first, last := i*clusterSlots/n, (i+1)*clusterSlots/n-1
		if _, err := s.Command("CLUSTER", "ADDSLOTSRANGE", strconv.Itoa(first), strconv.Itoa(last)); err != nil {
			tb.Fatalf("redistest: assign slots to %s: %v", s.Addr(), err)
		}
		// Every node meets every other, so none waits for gossip to
		// learn of the rest.
		for _, other := range nodes[:i] {
			host, port, _ := net.SplitHostPort(other.Addr())
			if _, err := s.Command("CLUSTER", "MEET", host, port); err != nil {
				tb.Fatalf("redistest: join %s: %v", s.Addr(), err)
			}
		}
	}
	deadline := time.Now().Add(startTimeout)
	for _, s := range nodes {
		for {
			info, err := s.Command("CLUSTER", "INFO")
			if err == nil && strings.Contains(info, "cluster_state:ok") && strings.Contains(info, "cluster_known_nodes:"+strconv.Itoa(n)+"\r\n") {
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("redistest: cluster not ready within %v: %v %s", startTimeout, err, info)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nodes
}
