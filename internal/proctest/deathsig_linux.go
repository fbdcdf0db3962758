package proctest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill the child if the test process dies
// without running its cleanups, so no helper outlives a crashed test.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
