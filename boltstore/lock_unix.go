//go:build unix

package boltstore

import (
	"errors"
	"os"
	"syscall"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"
)

// lockRetry is how often lockFile tries again, as bbolt's flock does.
const lockRetry = 50 * time.Millisecond

// lockFile takes flock(2) on f, exclusive or shared, trying for timeout (0:
// forever) as bbolt's own flock does, and returns bbolt's ErrTimeout if the
// file stays locked. The lock is on f's open file description: bbolt's
// flock of the same *os.File later succeeds at once, and closing f
// releases it.
func lockFile(f *os.File, exclusive bool, timeout time.Duration) error {
	how := syscall.LOCK_SH | syscall.LOCK_NB
	if exclusive {
		how = syscall.LOCK_EX | syscall.LOCK_NB
	}
	start := time.Now()
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if err == nil {
			return nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			return &os.PathError{Op: "flock", Path: f.Name(), Err: err}
		}
		if timeout > 0 && time.Since(start) > timeout-lockRetry {
			return bolterrors.ErrTimeout
		}
		time.Sleep(lockRetry)
	}
}
