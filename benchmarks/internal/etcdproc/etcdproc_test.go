package etcdproc

import (
	"context"
	"errors"
	"os"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/goleak"
	"go.uber.org/zap"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseRequests(t *testing.T) {
	metrics := "# HELP grpc_server_msg_received_total Total number of RPC stream messages received on the server.\n" +
		"# TYPE grpc_server_msg_received_total counter\n" +
		`grpc_server_msg_received_total{grpc_method="Txn",grpc_service="etcdserverpb.KV",grpc_type="unary"} 10` + "\n" +
		`grpc_server_msg_received_total{grpc_method="Watch",grpc_service="etcdserverpb.Watch",grpc_type="bidi_stream"} 1.5e+01` + "\n" +
		`grpc_server_msg_received_total_other 99` + "\n" +
		`grpc_server_msg_sent_total{grpc_method="Txn"} 77` + "\n" +
		`grpc_server_msg_received_total 2 1700000000000` + "\n"
	n, err := ParseRequests(metrics)
	if err != nil || n != 27 {
		t.Fatalf("ParseRequests = %d, %v; want 27", n, err)
	}
	for _, bad := range []string{"", "# only comments\n", `grpc_server_msg_received_total{a="b"} x`, `grpc_server_msg_received_total{a="b"} NaN`, `grpc_server_msg_received_total{a="b"}`} {
		if _, err := ParseRequests(bad); err == nil {
			t.Errorf("ParseRequests(%q) accepted", bad)
		}
	}
}

// TestServer starts a real etcd (skipped where etcd is not installed),
// counts requests on it, and stops it by PID.
func TestServer(t *testing.T) {
	ctx := context.Background()
	s, err := Start(ctx)
	if errors.Is(err, ErrNotInstalled) {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	pid := s.PID()
	if s.Version == "" || s.Addr[:10] != "127.0.0.1:" {
		t.Errorf("version %q addr %q", s.Version, s.Addr)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{"http://" + s.Addr}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Get(cctx, "warm-up"); err != nil { // connects
		t.Fatal(err)
	}
	before, err := CountRequests(ctx, s.Addr)
	if err != nil {
		t.Fatal(err)
	}
	g, err := cli.Grant(cctx, 1) // etcd grants 1 s leases when started so
	if err != nil || g.TTL != 1 {
		t.Fatalf("Grant(1): %v, %v", g, err)
	}
	if _, err := cli.Put(cctx, "k", "v", clientv3.WithLease(g.ID)); err != nil {
		t.Fatal(err)
	}
	after, err := CountRequests(ctx, s.Addr)
	if err != nil || after-before != 2 {
		t.Errorf("counted %d requests (%v), want 2", after-before, err)
	}
	_ = cli.Close()
	s.Stop()
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("server %d still running", pid)
	}
	if _, err := os.Stat(s.Dir); !os.IsNotExist(err) {
		t.Errorf("directory %s left behind", s.Dir)
	}
	if _, err := Version(ctx, s.Addr); err == nil {
		t.Error("server still answers")
	}
}
