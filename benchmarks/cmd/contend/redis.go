package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/codomyrmex/concurrency/benchmarks/internal/redisproc"
	"github.com/redis/go-redis/v9"
)

// redisCheckTimeout bounds the first contact with a server given by -redis.
const redisCheckTimeout = 5 * time.Second

// redisServer returns the address of the Redis server the session's Redis
// scenarios use, and a counter of the commands it has run. In order of
// preference: the server given by -redis (never stopped or otherwise
// touched beyond the benchmark's keys), a redis-server started on a free
// loopback port and stopped when the session ends, or an in-process
// miniredis, with a warning.
func (s *session) redisServer(ctx context.Context) (string, func() (int64, error), error) {
	switch s.o.redis {
	case miniredisFlag:
		return s.miniredis("-redis miniredis was given")
	case "":
		srv, err := redisproc.Start(ctx)
		if errors.Is(err, redisproc.ErrNotInstalled) {
			return s.miniredis("no redis-server on PATH (install it, e.g. apt-get install redis-server, or pass -redis ADDR)")
		}
		if err != nil {
			return "", nil, err
		}
		s.cleanups = append(s.cleanups, srv.Stop)
		s.rep.Redis = fmt.Sprintf("redis-server %s started by contend on %s (pid %d), stopped afterwards", srv.Version, srv.Addr, srv.PID())
		return s.counted(srv.Addr)
	}
	s.rep.Redis = "existing server at " + s.o.redis + " (-redis); the keys contend made are deleted afterwards"
	s.warn("-redis: commands per acquisition include any other traffic on " + s.o.redis)
	addr, count, err := s.counted(s.o.redis)
	if err == nil {
		s.cleanups = append(s.cleanups, func() { s.deleteKeys(addr) })
	}
	return addr, count, err
}

// maxScans bounds the SCAN calls of deleteKeys.
const maxScans = 10000

// deleteKeys deletes the keys of this session (their names contain
// "contend-<pid>-", see runOne) from the server at addr, which contend did
// not start: lock keys may outlive a run, and some libraries keep counters
// that never expire.
func (s *session) deleteKeys(addr string) {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), redisCheckTimeout)
	defer cancel()
	pattern := fmt.Sprintf("*contend-%d-*", os.Getpid())
	var cursor uint64
	for range maxScans {
		keys, next, err := rdb.Scan(ctx, cursor, pattern, 1000).Result()
		if err != nil {
			s.warn(fmt.Sprintf("could not delete the benchmark keys %s on %s: %v", pattern, addr, err))
			return
		}
		if len(keys) > 0 {
			rdb.Del(ctx, keys...)
		}
		if cursor = next; cursor == 0 {
			return
		}
	}
}

// counted returns addr and a counter of its commands through a client of
// its own, closed when the session ends; it fails if the server does not
// answer.
func (s *session) counted(addr string) (string, func() (int64, error), error) {
	rdb := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	s.cleanups = append(s.cleanups, func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), redisCheckTimeout)
	defer cancel()
	if err := rdb.Ping(ctx).Err(); err != nil {
		return "", nil, fmt.Errorf("redis at %s: %w", addr, err)
	}
	return addr, func() (int64, error) {
		ctx, cancel := context.WithTimeout(context.Background(), redisCheckTimeout)
		defer cancel()
		return redisproc.CountCommands(ctx, rdb)
	}, nil
}

// miniredis starts an in-process miniredis on a loopback port, stopped when
// the session ends, and warns that its figures are not those of a network
// server.
func (s *session) miniredis(why string) (string, func() (int64, error), error) {
	m, err := miniredis.Run()
	if err != nil {
		return "", nil, fmt.Errorf("miniredis: %w", err)
	}
	s.cleanups = append(s.cleanups, m.Close)
	s.onMiniredis = true
	s.rep.Redis = "in-process miniredis on " + m.Addr()
	s.warn("Redis scenarios run on an in-process miniredis: " + why + "; their latency and throughput figures are not representative of a real server over a network, and in-process runs count the server's allocations")
	return m.Addr(), func() (int64, error) { return int64(m.CommandCount()), nil }, nil
}

// warn records a warning for the report and prints it at once.
func (s *session) warn(msg string) {
	s.rep.Warnings = append(s.rep.Warnings, msg)
	fmt.Fprintf(s.stderr, "contend: warning: %s\n", msg)
}
