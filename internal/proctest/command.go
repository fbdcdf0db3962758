package proctest

import (
	"os"
	"os/exec"
	"slices"
	"strings"
)

// Env is the environment variable that names the helper a re-executed test
// binary runs; [Helper] reads it.
const Env = "PROCTEST_HELPER"

// Command returns a command that runs the test binary as helper, with args
// as the helper's arguments (see [Helper]). Its environment is this
// process's with Env set to helper and the race detector's sleep at exit
// turned off (GORACE atexit_sleep_ms=0; a -race binary otherwise sleeps a
// second before it exits); append to cmd.Env to add variables. On Linux
// the kernel kills the helper if the test process dies without its
// cleanups (PR_SET_PDEATHSIG).
func Command(helper string, args ...string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		exe = os.Args[0]
	}
	// -test.run=^$ runs no test should Helper not be called; "--" ends
	// the test flags.
	cmd := exec.Command(exe, append([]string{"-test.run=^$", "--"}, args...)...)
	cmd.Env = append(os.Environ(), Env+"="+helper,
		"GORACE="+strings.TrimSpace(os.Getenv("GORACE")+" atexit_sleep_ms=0"))
	setDeathSignal(cmd)
	return cmd
}

// Helper reports whether this process is a helper started by [Command],
// and if so the name of the helper and its arguments. TestMain calls it
// before anything else and, for a helper, runs it and exits instead of
// running the tests.
func Helper() (name string, args []string, ok bool) {
	name = os.Getenv(Env)
	if name == "" {
		return "", nil, false
	}
	if i := slices.Index(os.Args, "--"); i >= 0 {
		args = os.Args[i+1:]
	}
	return name, args, true
}
