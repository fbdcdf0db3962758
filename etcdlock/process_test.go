package etcdlock_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/codomyrmex/concurrency/etcdlock"
	"github.com/codomyrmex/concurrency/internal/check"
)

// The helper process: the test binary run again with helperEnv set to a
// mode and endpointsEnv to the etcd endpoints, comma-separated.
const (
	helperEnv    = "ETCDLOCK_TEST_HELPER"
	endpointsEnv = "ETCDLOCK_TEST_ENDPOINTS"
)

// runHelper runs the helper process's mode and returns its exit code.
//
// Mode "holder" obtains the lock "paused" with a 1s lease, prints
// "held FENCE", waits for a line on standard input, then writes "stale" to
// the key "resource" in a transaction guarded by the lease, as code past
// its last check would, and prints "write SUCCEEDED".
func runHelper(mode string) int {
	if mode != "holder" {
		fmt.Fprintln(os.Stderr, "unknown helper mode", mode)
		return 2
	}
	cli, err := clientv3.New(clientv3.Config{
		Endpoints:   strings.Split(os.Getenv(endpointsEnv), ","),
		DialTimeout: 2 * time.Second,
		Logger:      zap.NewNop(),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer cli.Close()
	c, err := etcdlock.New(cli, etcdlock.WithWatchdog(time.Second, 250*time.Millisecond))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := c.Obtain(context.WithoutCancel(ctx), "paused")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("held %d\n", l.Fence())
	if _, err := bufio.NewReader(os.Stdin).ReadString('\n'); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	r, err := cli.Txn(ctx).If(l.IsOwner()).Then(clientv3.OpPut("resource", "stale")).Commit()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("write %v\n", r.Succeeded)
	_ = l.Release(ctx)
	return 0
}

// TestHolderPausedFenced: a holder in another process is stopped with
// SIGSTOP past its 1s lease; etcd expires the lease and the next waiter
// gets the lock with a higher fence and writes. When the stale holder
// resumes and writes under its lease, the guarded transaction refuses the
// write, and a resource that checks fences refuses its token.
func TestHolderPausedFenced(t *testing.T) {
	c, cli := single(t)
	ctx := testCtx(t, 30*time.Second)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=holder", endpointsEnv+"="+strings.Join(c.Endpoints(), ","))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() {
		if cmd.ProcessState == nil { // not reaped yet: its PID is still ours
			_ = cmd.Process.Kill() // SIGKILL ends a stopped process too
			_ = cmd.Wait()
		}
	})
	out := bufio.NewScanner(stdout)
	var staleFence int64
	if !out.Scan() {
		t.Fatalf("helper said nothing: %v", out.Err())
	}
	if _, err := fmt.Sscanf(out.Text(), "held %d", &staleFence); err != nil {
		t.Fatalf("helper said %q: %v", out.Text(), err)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()

	var resource check.Fence
	if err := resource.Write(staleFence); err != nil {
		t.Fatal(err)
	}
	l, err := newClient(t, cli).Obtain(ctx, "paused")
	if err != nil {
		t.Fatalf("Obtain while the holder is stopped: %v", err)
	}
	t.Logf("obtained %v after SIGSTOP, fence %d after %d", time.Since(stopped), l.Fence(), staleFence)
	if l.Fence() <= staleFence {
		t.Fatalf("fence %d not above the stale holder's %d", l.Fence(), staleFence)
	}
	r, err := cli.Txn(ctx).If(l.IsOwner()).Then(clientv3.OpPut("resource", "fresh")).Commit()
	if err != nil || !r.Succeeded {
		t.Fatalf("the new holder's guarded write: %v %v", r, err)
	}
	if err := resource.Write(l.Fence()); err != nil {
		t.Fatal(err)
	}

	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Fprintln(stdin, "write"); err != nil {
		t.Fatal(err)
	}
	if !out.Scan() {
		t.Fatalf("helper said nothing after SIGCONT: %v", out.Err())
	}
	if got := out.Text(); got != "write false" {
		t.Fatalf("the stale holder's guarded write: %q, want %q", got, "write false")
	}
	if err := resource.Write(staleFence); err == nil {
		t.Fatalf("the resource accepted the stale fence %d after %d", staleFence, l.Fence())
	}
	g, err := cli.Get(ctx, "resource")
	if err != nil || len(g.Kvs) != 1 || string(g.Kvs[0].Value) != "fresh" {
		t.Fatalf("resource = %v (%v), want fresh", g, err)
	}
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
}
