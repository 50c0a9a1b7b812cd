package filestore

import (
	"context"
	"fmt"
	"time"

	"github.com/gofrs/flock"
)

// shard is one of the 256 subdirectories and its lock. Two levels are
// needed: flock(2) excludes other processes, but a *flock.Flock shared by
// goroutines does not exclude them from one another (it reports "already
// locked"), so stripe serializes this process's goroutines first and only
// the goroutine holding stripe touches lock.
type shard struct {
	// stripe is the in-process lock: a goroutine holds it from sending a
	// value into it until it receives that value back. A 1-buffered channel
	// rather than a sync.Mutex, so that a wait for it can end with the
	// context.
	stripe chan struct{}
	lock   *flock.Flock // <dir>/.locks/<name>.lock, never renamed over or removed
	name   string       // two hex digits
	dir    string       // <dir>/<name>
}

// Polling a flock held elsewhere starts after flockFirstRetry and doubles
// the delay up to flockMaxRetry. Writers in one process never contend for
// it (the stripe comes first), so it is contended only by other processes,
// or other Stores on the same directory, each holding it for one file
// write or one batch: the first retries are quick, and a long hold (a
// stuck sweep in another process) costs a few wakeups a second.
const (
	flockFirstRetry = time.Millisecond
	flockMaxRetry   = 50 * time.Millisecond
)

// lock takes sh's in-process stripe and then its file lock. It fails with
// the context's error or session.ErrClosed if either holds once the stripe
// is taken, so nothing starts after Close. Both waits end when ctx is done,
// with an error that names the lock waited for and wraps ctx.Err(); a
// context that can never be done (context.Background()) waits as long as
// it takes.
func (s *Store) lock(ctx context.Context, sh *shard) error {
	select {
	case sh.stripe <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("filestore: shard %s: waiting for its lock in this process: %w", sh.name, ctx.Err())
	}
	if err := s.closed.Check(ctx); err != nil {
		<-sh.stripe
		return err
	}
	if err := sh.lockFile(ctx); err != nil {
		<-sh.stripe
		return err
	}
	return nil
}

// lockFile takes sh's flock. The caller holds the stripe. An uncontended
// lock costs one non-blocking flock(2), as a blocking one would; a
// contended one is polled (flock(2) cannot be interrupted), with a growing
// delay, until it is free or ctx is done. flock.TryLockContext is not
// used: it polls at a fixed delay, which is either slow to notice a short
// hold or busy during a long one.
func (sh *shard) lockFile(ctx context.Context) error {
	ok, err := sh.lock.TryLock()
	if err == nil && !ok && ctx.Done() == nil {
		// Nothing can end the wait: block in the kernel, which also hands
		// the lock over in order.
		err, ok = sh.lock.Lock(), true
	}
	if err != nil {
		return fmt.Errorf("filestore: lock shard %s: %w", sh.name, err)
	}
	if ok {
		return nil
	}
	delay := flockFirstRetry
	t := time.NewTimer(delay)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("filestore: shard %s: waiting for its file lock %s, held by another process or Store: %w",
				sh.name, sh.lock.Path(), ctx.Err())
		case <-t.C:
		}
		ok, err := sh.lock.TryLock()
		if err != nil {
			return fmt.Errorf("filestore: lock shard %s: %w", sh.name, err)
		}
		if ok {
			return nil
		}
		delay = min(2*delay, flockMaxRetry)
		t.Reset(delay)
	}
}

// unlock releases what lock took. Releasing a flock cannot fail short of a
// bad descriptor; such a failure is logged, and the kernel drops the lock
// with the descriptor anyway.
func (s *Store) unlock(sh *shard) {
	if err := sh.lock.Unlock(); err != nil {
		s.log.Error("filestore: unlock shard", "shard", sh.name, "err", err)
	}
	<-sh.stripe
}

// waitStripes waits, however long it takes, for each stripe held in this
// process to be released: Close's barrier.
func (s *Store) waitStripes() {
	for i := range s.shards {
		s.shards[i].stripe <- struct{}{}
		<-s.shards[i].stripe
	}
}
