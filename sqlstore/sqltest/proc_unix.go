//go:build unix

package sqltest

import (
	"os"
	"os/exec"
	"syscall"
)

var (
	sigInt, sigQuit, sigTerm os.Signal = syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM
	sigStop, sigCont         os.Signal = syscall.SIGSTOP, syscall.SIGCONT
)

// configure makes cmd the leader of a process group of its own, so that
// killGroup reaches the processes it starts (PostgreSQL's backends), runs
// it as runAs when not nil, and, on Linux, has the kernel kill it when
// this process dies.
func configure(cmd *exec.Cmd, runAs *account) {
	attr := &syscall.SysProcAttr{Setpgid: true}
	if runAs != nil {
		attr.Credential = &syscall.Credential{Uid: uint32(runAs.uid), Gid: uint32(runAs.gid)}
	}
	setDeathSignal(attr)
	cmd.SysProcAttr = attr
}

// killGroup sends SIGKILL to the process group that p leads, unless done,
// closed when p has been waited for, says that its ID may belong to
// another process by now.
func killGroup(p *os.Process, done <-chan struct{}) {
	select {
	case <-done:
		return
	default:
	}
	kids := descendants(p.Pid)
	if syscall.Kill(-p.Pid, syscall.SIGKILL) != nil {
		_ = p.Kill()
	}
	for _, pid := range kids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// signalGroup sends sig to the process group that p leads, and to every
// descendant of p that has left it: PostgreSQL's backends each start a
// session of their own, so that a signal to the group alone would stop the
// postmaster and leave open connections answering. It returns p's ID and
// its descendants'.
func signalGroup(p *os.Process, sig os.Signal) []int {
	kids := descendants(p.Pid)
	if syscall.Kill(-p.Pid, sig.(syscall.Signal)) != nil {
		_ = p.Signal(sig)
	}
	for _, pid := range kids {
		_ = syscall.Kill(pid, sig.(syscall.Signal))
	}
	return append(kids, p.Pid)
}
