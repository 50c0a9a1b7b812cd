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

// diskSize returns the bytes fi's file takes on disk: a bbolt file is
// sparse where its memory map reached past what it wrote, so its apparent
// size overstates it (a fresh store of 128 KiB "is" 16 MiB).
func diskSize(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
