// Package redistest starts real redis-server processes for tests.
//
// Each [Server] is a child process listening on a free port on 127.0.0.1
// only, without persistence (--save "" --appendonly no), in its own
// temporary directory. A test can kill it (SIGKILL), pause it (SIGSTOP),
// resume it (SIGCONT) and restart it on the same port, which loses every
// key and the script cache as a real crash without persistence would.
// Servers are stopped by PID in t.Cleanup; nothing else is signalled.
// [StartCluster] joins several such servers into a Redis Cluster.
//
// When redis-server is not on PATH, [Start] skips the test with the reason,
// unless the environment sets REQUIRE_REDIS=1, in which case it fails it.
package redistest
