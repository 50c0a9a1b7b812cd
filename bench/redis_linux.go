package bench

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the started server die with this process, even when
// it is killed before it can stop the server.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
