package testkit

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// WaitStopped waits until every thread of every process in pids is stopped
// by a signal (or has exited), or until timeout passes.
//
// kill(2) returns before a SIGSTOP has taken effect: the kernel wakes one
// thread of a process to start the group stop, and the other threads stop
// only when they next run. Until then a server thread that is woken by a
// request answers it. A test that sends SIGSTOP to simulate a hung server
// waits here before it relies on the silence.
func WaitStopped(timeout time.Duration, pids ...int) error {
	deadline := time.Now().Add(timeout)
	for {
		running := runningThread(pids)
		if running == "" {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testkit: thread %s still runs %v after SIGSTOP", running, timeout)
		}
		time.Sleep(time.Millisecond)
	}
}

// runningThread returns "pid/tid" of a thread of pids that is not stopped,
// or "" when there is none.
func runningThread(pids []int) string {
	for _, pid := range pids {
		dir := filepath.Join("/proc", strconv.Itoa(pid), "task")
		tasks, err := os.ReadDir(dir)
		if err != nil {
			continue // exited
		}
		for _, task := range tasks {
			stat, err := os.ReadFile(filepath.Join(dir, task.Name(), "stat"))
			if err != nil {
				continue
			}
			// "tid (comm) state ...": comm may hold spaces and parentheses.
			i := bytes.LastIndexByte(stat, ')')
			if i < 0 || i+2 >= len(stat) {
				continue
			}
			switch stat[i+2] {
			case 'T', 't', 'Z', 'X':
			default:
				return strconv.Itoa(pid) + "/" + task.Name()
			}
		}
	}
	return ""
}
