// Package etcdtest starts real etcd processes for the tests of etcdlock.
//
// [Start] starts a cluster of n members (1 for a single node, 3 for a
// cluster that survives the loss of one) on free loopback ports, each
// with its data directory under the test's temporary directory, and with
// --heartbeat-interval 50 --election-timeout 250, so that leases of one
// second are possible (etcd refuses a TTL shorter than 1.5 election
// timeouts, rounded up to a second). A test can kill a member (SIGKILL),
// pause it (SIGSTOP), resume it (SIGCONT), restart it on its ports and
// data directory, and move the leadership. Members are stopped by PID in
// t.Cleanup; nothing else is signalled.
//
// When etcd is not on PATH, [Start] skips the test with the reason, unless
// the environment sets REQUIRE_ETCD=1, in which case it fails it.
package etcdtest
