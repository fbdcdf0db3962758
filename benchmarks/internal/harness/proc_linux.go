package harness

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill a worker process whose parent dies
// without cleaning up.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
