package main

import (
	"fmt"
	"net"
	"net/netip"
)

// miniredisFlag is the -redis value that forces the in-process server.
const miniredisFlag = "miniredis"

// checkRedisAddr accepts "", "miniredis" or host:port on a loopback
// address: contend sends its load to this machine only.
func checkRedisAddr(addr string) error {
	if addr == "" || addr == miniredisFlag {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return fmt.Errorf("-redis %q: want host:port", addr)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("-redis %q: only loopback servers (127.0.0.1, ::1, localhost) are accepted", addr)
	}
	return nil
}
