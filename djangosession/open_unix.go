//go:build unix

package djangosession

import (
	"os"
	"syscall"
)

// openSession opens a session file for reading without following a
// symbolic link (a link named like a session file fails, so that no file
// outside the directory is ever read) and without blocking (a FIFO named
// like one would block open(2) until a writer comes). Regular files never
// block, so reads are unaffected.
func openSession(name string) (*os.File, error) {
	for {
		fd, err := syscall.Open(name, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
		if err == nil {
			return os.NewFile(uintptr(fd), name), nil
		}
		if err != syscall.EINTR {
			return nil, &os.PathError{Op: "open", Path: name, Err: err}
		}
	}
}
