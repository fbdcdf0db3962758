package chaos_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/codomyrmex/concurrency/internal/chaos"
	"go.uber.org/goleak"
)

// plan is the size of every scenario, read once from the environment.
var plan chaos.Plan

func TestMain(m *testing.M) {
	var err error
	if plan, err = chaos.PlanFromEnv(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	goleak.VerifyTestMain(m)
}
