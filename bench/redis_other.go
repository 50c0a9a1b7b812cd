//go:build !linux

package bench

import "os/exec"

// dieWithParent does nothing where the system cannot tie a child's life to
// its parent's: the suite stops the server it started when it ends.
func dieWithParent(*exec.Cmd) {}
