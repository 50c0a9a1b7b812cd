//go:build !linux

package redistest

import "os/exec"

// setDeathSignal does nothing where the kernel cannot kill a child with its
// parent; Cleanup stops the servers.
func setDeathSignal(*exec.Cmd) {}
