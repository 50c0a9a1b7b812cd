//go:build unix && !linux

package sqltest

import "syscall"

// setDeathSignal does nothing where the kernel cannot kill a child with its
// parent; Cleanup and StopShared stop the servers.
func setDeathSignal(*syscall.SysProcAttr) {}

// descendants returns nothing where there is no /proc to read: signals
// reach the process group only.
func descendants(int) []int { return nil }
