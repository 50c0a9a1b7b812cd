//go:build unix

package main

import (
	"os"
	"syscall"
)

// chownLike gives path the owner and group of old, so that a file
// rewritten by root stays usable by the server's user.
func chownLike(path string, old os.FileInfo) error {
	st, ok := old.Sys().(*syscall.Stat_t)
	if !ok || (int(st.Uid) == os.Geteuid() && int(st.Gid) == os.Getegid()) {
		return nil
	}
	return os.Chown(path, int(st.Uid), int(st.Gid))
}

// canSyncAll reports whether syncAll makes earlier writes durable.
const canSyncAll = true

// syncAll writes every file system's dirty data to disk and waits for it
// (sync(2)).
func syncAll() error {
	syscall.Sync()
	return nil
}
