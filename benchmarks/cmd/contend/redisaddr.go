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
	return checkLoopback("-redis", addr)
}

// checkEtcdAddr accepts "" or host:port on a loopback address, as
// checkRedisAddr does.
func checkEtcdAddr(addr string) error {
	if addr == "" {
		return nil
	}
	return checkLoopback("-etcd", addr)
}

// checkLoopback accepts host:port where host is localhost or a loopback
// IP address; flag names the flag in the error.
func checkLoopback(flag, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return fmt.Errorf("%s %q: want host:port", flag, addr)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("%s %q: only loopback servers (127.0.0.1, ::1, localhost) are accepted", flag, addr)
	}
	return nil
}
