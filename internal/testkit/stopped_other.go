//go:build !linux

package testkit

import "time"

// WaitStopped returns nil at once where there is no /proc to watch threads
// in: a signal's stop may still be on its way.
func WaitStopped(timeout time.Duration, pids ...int) error { return nil }
