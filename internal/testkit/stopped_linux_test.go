package testkit

import (
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func TestWaitStopped(t *testing.T) {
	cmd := exec.Command("sleep", "30")
	if err := cmd.Start(); err != nil {
		t.Skipf("no sleep(1) to stop: %v", err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	pid := cmd.Process.Pid
	if err := WaitStopped(50*time.Millisecond, pid); err == nil {
		t.Fatal("WaitStopped of a running process = nil; want an error")
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if err := WaitStopped(5*time.Second, pid); err != nil {
		t.Fatalf("WaitStopped after SIGSTOP: %v", err)
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	if err := WaitStopped(50*time.Millisecond, pid); err == nil {
		t.Fatal("WaitStopped after SIGCONT = nil; want an error")
	}
	if err := WaitStopped(time.Second, 1<<30); err != nil {
		t.Errorf("WaitStopped of a process that is not there: %v", err)
	}
}
