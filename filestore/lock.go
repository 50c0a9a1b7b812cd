package filestore

import (
	"context"
	"fmt"

	"github.com/sessionkv/session/internal/filelock"
)

// shard is one of the 256 subdirectories and its lock: an in-process lock,
// then a flock(2) of <dir>/.locks/<name>.lock (see package filelock).
type shard struct {
	lock *filelock.Lock
	name string // two hex digits
	dir  string // <dir>/<name>
}

// lock takes sh's in-process lock and then its file lock. It fails with
// the context's error or session.ErrClosed if either holds once the
// in-process lock is taken, so nothing starts after Close. Both waits end
// when ctx is done, with an error that names the lock waited for and wraps
// ctx.Err(); a context that can never be done (context.Background()) waits
// as long as it takes.
func (s *Store) lock(ctx context.Context, sh *shard) error {
	if err := sh.lock.Lock(ctx, s.closed.Check); err != nil {
		return fmt.Errorf("filestore: shard %s: %w", sh.name, err)
	}
	return nil
}

// unlock releases what lock took. Releasing a flock cannot fail short of a
// bad descriptor; such a failure is logged, and the kernel drops the lock
// with the descriptor anyway.
func (s *Store) unlock(sh *shard) {
	if err := sh.lock.Unlock(); err != nil {
		s.log.Error("filestore: unlock shard", "shard", sh.name, "err", err)
	}
}

// waitStripes waits, however long it takes, for each shard's lock held in
// this process to be released: Close's barrier.
func (s *Store) waitStripes() {
	for i := range s.shards {
		s.shards[i].lock.Wait()
	}
}
