//go:build unix

package bench

import "syscall"

// settle writes the file system's dirty pages out before a case is timed,
// so that what a case without fsync left in the page cache is not flushed
// by the next case's fsyncs, on its time.
func settle() { syscall.Sync() }
