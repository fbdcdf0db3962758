// Package etcdproc starts a private single-member etcd for a contend
// session on free loopback ports, with its data in a temporary directory,
// and stops it by PID; it asks a server for its version and counts the gRPC
// requests it has received, from its /metrics.
package etcdproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/codomyrmex/concurrency/benchmarks/internal/childproc"
)

// Bounds on starting a server and on asking it.
const (
	startTimeout = 20 * time.Second
	httpTimeout  = 2 * time.Second
)

// ErrNotInstalled reports that etcd is not on PATH. It wraps
// childproc.ErrNotInstalled.
var ErrNotInstalled = fmt.Errorf("etcd: %w", childproc.ErrNotInstalled)

// A Server is an etcd child process listening on 127.0.0.1 only: one
// member, with --heartbeat-interval 50 --election-timeout 250, so that
// leases of one second are granted.
type Server struct {
	*childproc.Proc
	Addr    string // client address, 127.0.0.1:port
	Version string // etcdserver from /version
}

// Start starts etcd on two free loopback ports (client and peer) with its
// data and log in a new temporary directory, and waits until it reports
// itself healthy. It returns ErrNotInstalled when there is no etcd.
func Start(ctx context.Context) (*Server, error) {
	s := new(Server)
	p, err := childproc.Start(ctx, childproc.Spec{
		Bin:   "etcd",
		Ports: 2,
		Args: func(dir string, ports []int) []string {
			client := "http://127.0.0.1:" + strconv.Itoa(ports[0])
			peer := "http://127.0.0.1:" + strconv.Itoa(ports[1])
			return []string{
				"--name", "contend",
				"--data-dir", filepath.Join(dir, "data"),
				"--listen-client-urls", client,
				"--advertise-client-urls", client,
				"--listen-peer-urls", peer,
				"--initial-advertise-peer-urls", peer,
				"--initial-cluster", "contend=" + peer,
				"--initial-cluster-state", "new",
				"--initial-cluster-token", "contend-" + strconv.Itoa(ports[1]),
				"--heartbeat-interval", "50",
				"--election-timeout", "250",
			}
		},
		Ready: func(ctx context.Context, ports []int) (err error) {
			s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[0]))
			if err = healthy(ctx, s.Addr); err == nil {
				s.Version, err = Version(ctx, s.Addr)
			}
			return err
		},
		StartTimeout: startTimeout,
	})
	if errors.Is(err, childproc.ErrNotInstalled) {
		return nil, ErrNotInstalled
	}
	if err != nil {
		return nil, err
	}
	s.Proc = p
	return s, nil
}

// httpClient keeps no idle connections, so that none outlives a server
// or a session.
var httpClient = &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}

// get fetches http://addr+path, at most limit bytes of it.
func get(ctx context.Context, addr, path string, limit int64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, httpTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return b, err
}

// healthy reports nil when the server at addr answers /health with true.
func healthy(ctx context.Context, addr string) error {
	b, err := get(ctx, addr, "/health", 1<<10)
	if err != nil {
		return err
	}
	if !strings.Contains(string(b), `"health":"true"`) {
		return errors.New("unhealthy: " + string(b))
	}
	return nil
}

// Version asks the etcd server at addr (host:port) for its version; it
// fails if the server does not answer as etcd does.
func Version(ctx context.Context, addr string) (string, error) {
	b, err := get(ctx, addr, "/version", 1<<10)
	if err != nil {
		return "", err
	}
	var v struct {
		Server string `json:"etcdserver"`
	}
	if err := json.Unmarshal(b, &v); err != nil || v.Server == "" {
		return "", fmt.Errorf("%s/version: not an etcd server's answer: %q", addr, b)
	}
	return v.Server, nil
}
