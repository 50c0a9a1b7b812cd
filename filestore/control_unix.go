//go:build unix

package filestore

import (
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"syscall"
)

// checkControl makes sure that no other user controls the directory: one
// who can write to it can plant or replace session files. A shared
// directory (the default one in the temporary directory, where anyone may
// have created it first) must be a real directory owned by this user and
// writable by no one else; a directory chosen explicitly is only warned
// about.
func checkControl(dir string, fi fs.FileInfo, shared bool, log *slog.Logger) error {
	if shared {
		lfi, err := os.Lstat(dir)
		if err != nil {
			return fmt.Errorf("filestore: %w", err)
		}
		if lfi.Mode()&fs.ModeSymlink != 0 {
			return fmt.Errorf("filestore: %s is a symbolic link; refusing to keep sessions there", dir)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
			return fmt.Errorf("filestore: %s belongs to uid %d, not to this process (uid %d); refusing to keep sessions there",
				dir, st.Uid, os.Geteuid())
		}
	}
	if fi.Mode().Perm()&0o022 != 0 {
		if shared {
			return fmt.Errorf("filestore: %s is writable by other users (mode %v); refusing to keep sessions there", dir, fi.Mode().Perm())
		}
		log.Warn("filestore: session directory is writable by other users, who could plant sessions",
			"dir", dir, "mode", fi.Mode().Perm().String())
	}
	return nil
}
