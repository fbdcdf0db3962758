package chaos_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/codomyrmex/concurrency/internal/chaos"
	"github.com/codomyrmex/concurrency/internal/proctest"
	"go.uber.org/goleak"
)

// plan is the size of every scenario, read once from the environment.
var plan chaos.Plan

// helpers are the roles a re-executed test binary can play (see
// proctest.StartHelper); each returns nil on success.
var helpers = map[string]func() error{
	"file-worker":  fileWorker,
	"file-victim":  fileVictim,
	"redis-worker": redisWorker,
	"redis-victim": redisVictim,
	"redis-waiter": redisWaiter,
	"redis-closer": redisCloser,
}

func TestMain(m *testing.M) {
	if role, _, ok := proctest.Helper(); ok {
		run, ok := helpers[role]
		if !ok {
			fmt.Fprintf(os.Stderr, "chaos: unknown helper role %q\n", role)
			os.Exit(2)
		}
		if err := run(); err != nil {
			fmt.Fprintf(os.Stderr, "chaos: helper %s: %v\n", role, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	var err error
	if plan, err = chaos.PlanFromEnv(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	goleak.VerifyTestMain(m)
}
