package childproc

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the kernel kill the server if contend dies without
// stopping it.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
