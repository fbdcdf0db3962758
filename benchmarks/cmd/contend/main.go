// Command contend runs contention benchmarks: every primitive of this
// module side by side with its peers, over a range of worker counts,
// interleaving the implementations in every repetition so that drift of
// the machine hits them alike. It prints a table a newcomer can read, and
// can write JSON, benchstat-compatible lines and a self-contained HTML
// report with charts.
//
//	cd benchmarks && go run ./cmd/contend              # everything, about a minute and a half
//	go run ./cmd/contend -scenarios mutex -workers 1,2,4,8,16 -html mutex.html
//	go run ./cmd/contend -benchfmt new.txt && benchstat -col /impl new.txt
//
// File, Redis and etcd scenarios spread their workers over several OS
// processes (-procs): contend re-executes itself in a worker mode for
// that. The etcd scenario needs etcd (on PATH, or -etcd ADDR) and is
// skipped, with a warning, without it. Ctrl-C stops the workers, cleans up
// the servers, files and processes it started, and prints what it has
// measured.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/codomyrmex/concurrency/benchmarks/internal/harness"
	"github.com/codomyrmex/concurrency/benchmarks/internal/progress"
	"github.com/codomyrmex/concurrency/benchmarks/internal/suite"
)

// workerEnv, set to "1" in a process's environment, makes contend a worker
// process of a run (see harness.ServeChild) instead of a session.
const workerEnv = "CONTEND_WORKER"

// Exit codes.
const (
	exitOK          = 0
	exitFailed      = 1
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	var code int
	if os.Getenv(workerEnv) == "1" {
		code = worker(ctx, os.Stdin, os.Stdout, os.Stderr)
	} else {
		code = run(ctx, os.Args[1:], os.Stdout, os.Stderr, progress.IsTerminal(os.Stderr))
	}
	stop()
	os.Exit(code)
}

// worker runs one worker process's share of a run.
func worker(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) int {
	if err := harness.ServeChild(ctx, stdin, stdout, suite.Lookup); err != nil {
		fmt.Fprintf(stderr, "contend worker: %v\n", err)
		return exitFailed
	}
	return exitOK
}

// run is contend's session: parse the flags, run the scenarios, write the
// outputs. live selects the in-place progress display on stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, live bool) int {
	o, err := parseFlags(args, stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return exitOK
	case err != nil:
		return exitUsage
	case o.list:
		fmt.Fprint(stdout, listing())
		return exitOK
	}
	s := &session{o: o, stdout: stdout, stderr: stderr, live: live}
	return s.run(ctx)
}
