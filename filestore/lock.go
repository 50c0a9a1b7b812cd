package filestore

import (
	"context"
	"fmt"
	"sync"

	"github.com/gofrs/flock"
)

// shard is one of the 256 subdirectories and its lock. Two levels are
// needed: flock(2) excludes other processes, but a *flock.Flock shared by
// goroutines does not exclude them from one another (it reports "already
// locked"), so mu serializes this process's goroutines first and only the
// goroutine holding mu touches lock.
type shard struct {
	mu   sync.Mutex
	lock *flock.Flock // <dir>/.locks/<name>.lock, never renamed over or removed
	name string       // two hex digits
	dir  string       // <dir>/<name>
}

// lock takes sh's in-process stripe and then its file lock. It fails with
// the context's error or session.ErrClosed if either holds once the stripe
// is taken, so nothing starts after Close.
func (s *Store) lock(ctx context.Context, sh *shard) error {
	sh.mu.Lock()
	if err := s.closed.Check(ctx); err != nil {
		sh.mu.Unlock()
		return err
	}
	if err := sh.lock.Lock(); err != nil {
		sh.mu.Unlock()
		return fmt.Errorf("filestore: lock shard %s: %w", sh.name, err)
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
	sh.mu.Unlock()
}
