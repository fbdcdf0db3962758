package redislock_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"golang.org/x/sys/unix"

	"github.com/codomyrmex/concurrency/redislock"
)

// Against a server that cannot be reached (nothing listens on its port),
// Obtain and Mutex.Lock fail with the dial error once they have failed to
// connect for 2s, even under a context without deadline, instead of
// retrying until the context ends; TryObtain fails at its one attempt.
// Nothing of the package writes to standard output or error: the only
// messages are go-redis's own, which go to its logger (redis.SetLogger; by
// default standard error).
func TestObtainUnreachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now

	logs := setRedisLogger(t)
	rdb := dial(t, addr)
	c, err := redislock.New(rdb)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		name string
		err  error
		took time.Duration
	}
	var results []result
	output := captureOutput(t) // t.Log would write to it too: report after
	for _, tc := range []struct {
		name string
		f    func(context.Context) error
	}{
		{"Obtain", func(ctx context.Context) error { _, err := c.Obtain(ctx, "down"); return err }},
		{"TryObtain", func(ctx context.Context) error { _, err := c.TryObtain(ctx, "down"); return err }},
		{"Mutex.Lock", c.NewMutex("down").Lock},
	} {
		errc := make(chan error, 1)
		start := time.Now()
		go func() { errc <- tc.f(context.Background()) }()
		select {
		case err := <-errc:
			results = append(results, result{tc.name, err, time.Since(start)})
		case <-time.After(10 * time.Second):
			results = append(results, result{tc.name, nil, -1})
		}
	}
	_ = c.Close() // ends a call still waiting, and waits for background cleanups
	out := output()
	for _, r := range results {
		var op *net.OpError
		switch {
		case r.took < 0:
			t.Errorf("%s against an unreachable server has not returned after 10s", r.name)
		case !errors.As(r.err, &op) || op.Op != "dial":
			t.Errorf("%s = %v, want the dial error", r.name, r.err)
		default:
			t.Logf("%s failed after %v: %v", r.name, r.took.Round(time.Millisecond), r.err)
		}
	}
	if out != "" {
		t.Errorf("output while Redis was unreachable:\n%s", out)
	}
	if got := logs(); !strings.Contains(got, "dial") {
		t.Errorf("go-redis logged %q, want its dial error", got)
	}
}

// setRedisLogger sets go-redis's global logger to one that keeps what it is
// given, until the end of the test, and returns a function that returns
// what it has kept. Then go-redis logs to standard error again, as its
// default logger does.
func setRedisLogger(t *testing.T) func() string {
	l := &keptLog{}
	redis.SetLogger(l)
	t.Cleanup(func() { redis.SetLogger(stderrLogger{log.New(os.Stderr, "redis: ", log.LstdFlags|log.Lshortfile)}) })
	return l.String
}

type keptLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *keptLog) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.b, format+"\n", v...)
}

func (l *keptLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

type stderrLogger struct{ l *log.Logger }

func (s stderrLogger) Printf(_ context.Context, format string, v ...any) {
	_ = s.l.Output(2, fmt.Sprintf(format, v...))
}

// captureOutput redirects the process's standard output and error (the
// file descriptors, so that nothing escapes) to a pipe, and returns a
// function that restores them and returns what was written meanwhile.
func captureOutput(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := make(map[int]int)
	for _, fd := range []int{1, 2} {
		dup, err := unix.Dup(fd)
		if err != nil {
			t.Fatal(err)
		}
		saved[fd] = dup
		if err := unix.Dup3(int(w.Fd()), fd, 0); err != nil {
			t.Fatal(err)
		}
	}
	read := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		read <- string(b)
	}()
	var once sync.Once
	var out string
	restore := func() string {
		once.Do(func() {
			for fd, dup := range saved {
				_ = unix.Dup3(dup, fd, 0)
				_ = unix.Close(dup)
			}
			w.Close()
			out = <-read
			r.Close()
		})
		return out
	}
	t.Cleanup(func() { restore() })
	return restore
}
