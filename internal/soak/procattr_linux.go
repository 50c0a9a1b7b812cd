package soak

import (
	"os/exec"
	"syscall"
)

// setChildAttrs makes the kernel kill the demo if the process that started
// it dies first, so that a crashed or killed test leaves no server behind.
func setChildAttrs(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
