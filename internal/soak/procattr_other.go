//go:build !linux

package soak

import "os/exec"

// setChildAttrs does nothing where the kernel cannot tie the child's life to
// its parent's; Demo.Stop still ends the process.
func setChildAttrs(*exec.Cmd) {}
