package main

import (
	"context"
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain serves as a worker process when the session under test starts
// one (the test binary is then os.Executable), and checks for leaked
// goroutines otherwise.
func TestMain(m *testing.M) {
	if os.Getenv(workerEnv) == "1" {
		os.Exit(worker(context.Background(), os.Stdin, os.Stdout, os.Stderr))
	}
	goleak.VerifyTestMain(m)
}
