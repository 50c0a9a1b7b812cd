//go:build !unix

package sqltest

import (
	"os"
	"os/exec"
)

// Without Unix signals, a clean stop is a kill, and there is no Pause.
var sigInt, sigQuit, sigTerm, sigStop, sigCont os.Signal

// configure does nothing: servers run as this process's user (only root
// has another one, runAs), and die with Cleanup or StopShared only.
func configure(*exec.Cmd, *account) {}

// killGroup kills p, unless done is closed (p has been waited for).
func killGroup(p *os.Process, done <-chan struct{}) {
	select {
	case <-done:
	default:
		_ = p.Kill()
	}
}

// signalGroup is never called: there are no signals to send.
func signalGroup(p *os.Process, sig os.Signal) []int {
	_ = p.Signal(sig)
	return []int{p.Pid}
}
