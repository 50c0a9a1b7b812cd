// Package filelock is the two-level lock the file-backed stores (package
// filestore, and djangosession's FileStore) take around each write: an
// in-process lock that serializes this process's goroutines, then
// flock(2) on a lock file that excludes other processes. Both levels are
// needed: a *flock.Flock shared by goroutines does not exclude them from
// one another (it reports "already locked").
//
// # Concurrency and crashes
//
// A Lock is safe for concurrent use. The kernel releases a flock with its
// descriptor, so a crashed process holds nothing; the lock file itself is
// never removed or renamed over.
package filelock

import (
	"context"
	"fmt"
	"io/fs"
	"time"

	"github.com/gofrs/flock"
)

// Polling a flock held elsewhere starts after firstRetry and doubles the
// delay up to maxRetry. Writers in one process never contend for it (the
// in-process lock comes first), so it is contended only by other
// processes, or other stores on the same directory, each holding it for
// one file write or one batch: the first retries are quick, and a long
// hold (a stuck sweep in another process) costs a few wakeups a second.
const (
	firstRetry = time.Millisecond
	maxRetry   = 50 * time.Millisecond
)

// Lock is one in-process lock and its lock file.
type Lock struct {
	// held is the in-process lock: a goroutine holds it from sending a
	// value into it until it receives that value back. A 1-buffered
	// channel rather than a sync.Mutex, so that a wait for it can end with
	// the context.
	held chan struct{}
	file *flock.Flock
}

// New returns the Lock of the lock file at path, created with mode perm
// on first use.
func New(path string, perm fs.FileMode) *Lock {
	return &Lock{held: make(chan struct{}, 1), file: flock.New(path, flock.SetPermissions(perm))}
}

// Path returns the lock file's path.
func (l *Lock) Path() string { return l.file.Path() }

// Lock takes the in-process lock, calls ready (a store checks there that
// it is not closed, so that nothing starts after Close), then takes the
// file lock. Both waits end when ctx is done, with an error that says which
// lock was waited for and wraps ctx.Err(); a context that can never be done
// (context.Background()) waits as long as it takes. An uncontended file
// lock costs one non-blocking flock(2); a contended one is polled
// (flock(2) cannot be interrupted) with a growing delay, since
// flock.TryLockContext's fixed delay is either slow to notice a short hold
// or busy during a long one.
func (l *Lock) Lock(ctx context.Context, ready func(context.Context) error) error {
	select {
	case l.held <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("waiting for its lock in this process: %w", ctx.Err())
	}
	if err := ready(ctx); err != nil {
		<-l.held
		return err
	}
	if err := l.lockFile(ctx); err != nil {
		<-l.held
		return err
	}
	return nil
}

func (l *Lock) lockFile(ctx context.Context) error {
	ok, err := l.file.TryLock()
	if err == nil && !ok && ctx.Done() == nil {
		// Nothing can end the wait: block in the kernel, which also hands
		// the lock over in order.
		err, ok = l.file.Lock(), true
	}
	if err != nil {
		return fmt.Errorf("lock %s: %w", l.file.Path(), err)
	}
	delay := firstRetry
	for !ok {
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting for its file lock %s, held by another process or store: %w", l.file.Path(), ctx.Err())
		case <-t.C:
		}
		if ok, err = l.file.TryLock(); err != nil {
			return fmt.Errorf("lock %s: %w", l.file.Path(), err)
		}
		delay = min(2*delay, maxRetry)
	}
	return nil
}

// Unlock releases what Lock took, the file lock first. Releasing a flock
// cannot fail short of a bad descriptor; the error is returned for the
// caller to log, and the in-process lock is released all the same.
func (l *Lock) Unlock() error {
	err := l.file.Unlock()
	<-l.held
	return err
}

// Wait waits, however long it takes, until no goroutine of this process
// holds the lock. A store's Close calls it on each of its locks, after
// marking itself closed, so that no write is under way when Close returns.
func (l *Lock) Wait() {
	l.held <- struct{}{}
	<-l.held
}
