// Package faultproxy is a TCP proxy for tests that injects network faults
// between clients and one backend (a redis-server, say), switchable while
// the test runs.
//
// A [Proxy] listens on 127.0.0.1 only. Each accepted connection gets its own
// connection to the backend, and bytes are copied in both directions
// according to the proxy's current [Mode]: forwarded, delayed, discarded,
// stripped of a Redis server's pub/sub messages, or the connection reset;
// or new connections are refused outright. The mode
// is read for every chunk of data, so a switch takes effect on open
// connections at once.
//
// [Proxy.Close] closes every connection and waits for every goroutine the
// proxy started.
package faultproxy
