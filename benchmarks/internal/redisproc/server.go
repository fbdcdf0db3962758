// Package redisproc starts a private redis-server for a contend session on
// a free loopback port, without persistence, and stops it by PID; and it
// counts the commands a server has run, from INFO commandstats.
package redisproc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/codomyrmex/concurrency/benchmarks/internal/childproc"
	"github.com/redis/go-redis/v9"
)

// startTimeout bounds a start, from the exec to the first answer.
const startTimeout = 10 * time.Second

// ErrNotInstalled reports that redis-server is not on PATH. It wraps
// childproc.ErrNotInstalled.
var ErrNotInstalled = fmt.Errorf("redis-server: %w", childproc.ErrNotInstalled)

// A Server is a redis-server child process listening on 127.0.0.1 only.
type Server struct {
	*childproc.Proc
	Addr    string // 127.0.0.1:port
	Version string // redis_version from INFO server
}

// Start starts redis-server on a free loopback port with --save "" and
// --appendonly no in a new temporary directory, and waits until it answers.
// It returns ErrNotInstalled when there is no redis-server.
func Start(ctx context.Context) (*Server, error) {
	s := new(Server)
	p, err := childproc.Start(ctx, childproc.Spec{
		Bin:   "redis-server",
		Ports: 1,
		Args: func(dir string, ports []int) []string {
			return []string{"--port", strconv.Itoa(ports[0]), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
				"--dir", dir, "--daemonize", "no", "--logfile", ""}
		},
		Ready: func(ctx context.Context, ports []int) (err error) {
			s.Addr = addr(ports[0])
			s.Version, err = version(ctx, s.Addr)
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

// addr is the loopback address of port.
func addr(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// version asks the server at addr for its version.
func version(ctx context.Context, addr string) (string, error) {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second, ReadTimeout: time.Second})
	defer rdb.Close()
	info, err := rdb.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	for line := range strings.SplitSeq(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v, nil
		}
	}
	return "", errors.New("no redis_version in INFO server")
}
