//go:build unix

package filestore

import (
	"os"
	"syscall"
)

// openFile is os.OpenFile for the files and directories of the store. It
// opens the descriptor blocking and never hands it to the runtime's network
// poller, which os.OpenFile tries for every file and which costs, on Linux,
// four fcntl calls and a failed epoll_ctl per open: a third of the system
// calls of a Save. Regular files and directories never report "would
// block", so nothing is lost.
func openFile(name string, flag int, perm os.FileMode) (*os.File, error) {
	for {
		fd, err := syscall.Open(name, flag|syscall.O_CLOEXEC, uint32(perm.Perm()))
		if err == nil {
			return os.NewFile(uintptr(fd), name), nil
		}
		if err != syscall.EINTR {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
	}
}

// rename is os.Rename without its lstat of newpath, which only makes
// renaming over a directory fail the same way on every system: rename(2)
// refuses that by itself, and the store never names a directory as a
// session file.
func rename(oldpath, newpath string) error {
	for {
		err := syscall.Rename(oldpath, newpath)
		if err == nil {
			return nil
		}
		if err != syscall.EINTR {
			return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
		}
	}
}
