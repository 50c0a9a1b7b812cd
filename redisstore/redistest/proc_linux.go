package redistest

import (
	"os/exec"
	"syscall"
)

// setDeathSignal makes the server die with the test process, even when the
// test binary is killed before its Cleanup runs.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
