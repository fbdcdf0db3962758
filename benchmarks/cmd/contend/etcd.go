package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/codomyrmex/concurrency/benchmarks/internal/etcdproc"
)

// etcdServer returns the etcd server the session's etcd scenario uses,
// with a counter of the gRPC messages it has received: the server given by
// -etcd (never stopped; its keys are attached to the workers' etcd leases,
// which they revoke, and expire with them otherwise), or an etcd started on
// free loopback ports and stopped when the session ends. Without either,
// it returns why the scenario is skipped: there is no in-process etcd.
func (s *session) etcdServer(ctx context.Context) (_ *server, skip string, _ error) {
	addr := s.o.etcd
	if addr == "" {
		srv, err := etcdproc.Start(ctx)
		if errors.Is(err, etcdproc.ErrNotInstalled) {
			return nil, "no etcd on PATH (install it, e.g. apt-get install etcd-server, or pass -etcd ADDR)", nil
		}
		if err != nil {
			return nil, "", err
		}
		s.cleanups = append(s.cleanups, srv.Stop)
		s.rep.Etcd = fmt.Sprintf("etcd %s started by contend on %s (pid %d, one member, data in %s), stopped afterwards",
			srv.Version, srv.Addr, srv.PID(), srv.Dir)
		addr = srv.Addr
	} else {
		ctx, cancel := context.WithTimeout(ctx, redisCheckTimeout)
		defer cancel()
		version, err := etcdproc.Version(ctx, addr)
		if err != nil {
			return nil, "", fmt.Errorf("etcd at %s: %w", addr, err)
		}
		s.rep.Etcd = fmt.Sprintf("existing etcd %s at %s (-etcd)", version, addr)
		s.warn("-etcd: requests per acquisition include any other traffic on " + addr)
	}
	return &server{addr: addr, count: func() (int64, error) {
		ctx, cancel := context.WithTimeout(context.Background(), redisCheckTimeout)
		defer cancel()
		return etcdproc.CountRequests(ctx, addr)
	}}, "", nil
}
