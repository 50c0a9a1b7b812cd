package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// prSetChildSubreaper is prctl's PR_SET_CHILD_SUBREAPER.
const prSetChildSubreaper = 36

// adoptOrphans makes the test process the reaper of its orphaned
// descendants. Chromium's helpers (zygote, renderers, crash handler) can
// outlive the browser process; orphans normally go to PID 1, and where PID 1
// does not reap them, as in many containers, they stay as zombies. Adopted,
// reapChromium collects them.
func adoptOrphans(t *testing.T) {
	t.Helper()
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		t.Logf("prctl(PR_SET_CHILD_SUBREAPER): %v; Chromium's helpers may be left to PID 1", errno)
	}
}

// reapChromium waits for the Chromium processes among this process's
// children to exit and reaps them. It returns once none has been seen for a
// few checks in a row; any still running after timeout are killed (this
// test started them) and reported.
func reapChromium(t *testing.T, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for quiet := 0; quiet < 5; time.Sleep(20 * time.Millisecond) {
		pids := chromiumChildren()
		if len(pids) == 0 {
			quiet++
			continue
		}
		quiet = 0
		late := time.Now().After(deadline)
		if late {
			t.Errorf("chromium processes still running %v after the browser closed: %v; killing them", timeout, pids)
		}
		for _, pid := range pids {
			if late {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
			reap(pid, late)
		}
	}
}

// reap collects the exit status of child pid, waiting for it if block.
func reap(pid int, block bool) {
	var status syscall.WaitStatus
	options := syscall.WNOHANG
	if block {
		options = 0
	}
	for {
		_, err := syscall.Wait4(pid, &status, options, nil)
		if err != syscall.EINTR {
			return
		}
	}
}

// chromiumChildren returns the children of this process whose command name
// is chromium, zombies included.
func chromiumChildren() []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	self := os.Getpid()
	var pids []int
	for _, path := range stats {
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		comm, ppid, ok := parseStat(string(data))
		if ok && ppid == self && strings.HasPrefix(comm, "chrom") {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
			pids = append(pids, pid)
		}
	}
	return pids
}

// parseStat returns the command name and parent PID from the contents of
// /proc/<pid>/stat: "pid (comm) state ppid ...", where comm may itself hold
// spaces and parentheses.
func parseStat(stat string) (comm string, ppid int, ok bool) {
	open, close := strings.IndexByte(stat, '('), strings.LastIndexByte(stat, ')')
	if open < 0 || close < open {
		return "", 0, false
	}
	fields := strings.Fields(stat[close+1:])
	if len(fields) < 2 {
		return "", 0, false
	}
	ppid, err := strconv.Atoi(fields[1])
	return stat[open+1 : close], ppid, err == nil
}
