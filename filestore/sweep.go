package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/sessionkv/session"
)

// sweepBatch bounds how many files the sweeper or DeleteUser handles in one
// hold of a shard's lock, so a large backlog does not stall the shard's
// writers.
const sweepBatch = 128

// doomed is a file the sweeper means to remove once it holds the lock.
type doomed struct {
	name string
	kind doomedKind
}

type doomedKind uint8

const (
	doomedExpired doomedKind = iota // a session expired when its header was read
	doomedCorrupt                   // a session file with an unreadable header
	doomedTemp                      // an orphaned temporary file
)

// DeleteExpired implements session.Sweeper. It walks the shard directories
// reading only headers and user IDs, then, holding each shard's lock,
// removes expired sessions whose header still says so, with their markers
// in the user index, temporary and corrupt files older than
// Options.TempFileGrace, and the shard directory itself if that leaves it
// empty; it also restores the marker of any live session that lacks one.
// Then it walks the user index, removing stale markers and emptied user
// directories. It returns the number of expired sessions removed. It may
// run while this and other processes read and write; an error in one shard
// or user directory does not stop the others, and the first one is
// returned.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	n := 0
	var firstErr error
	for i := range s.shards {
		if err := s.closed.Check(ctx); err != nil {
			return n, stopped(firstErr, err)
		}
		m, err := s.sweepShard(ctx, &s.shards[i])
		n += m
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	if err := s.closed.Check(ctx); err != nil {
		return n, stopped(firstErr, err)
	}
	if err := s.sweepIndex(ctx); err != nil && firstErr == nil {
		firstErr = err
	}
	return n, firstErr
}

// stopped returns the error a sweep stopped by err (the context's or
// session.ErrClosed) reports: first, the sweep's first error, if that
// already wraps err, as a wait for a lock that the context ended does, and
// says which lock it was; otherwise err.
func stopped(first, err error) error {
	if first != nil && errors.Is(first, err) {
		return first
	}
	return err
}

func (s *Store) sweepShard(ctx context.Context, sh *shard) (int, error) {
	entries, err := os.ReadDir(sh.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("filestore: sweep: %w", err)
	}
	now := s.now()
	var victims []doomed
	var unindexed []string
	var firstErr error
	for _, e := range entries {
		name := e.Name()
		switch {
		case e.Type().IsRegular() && isKey(name) && name[:2] == sh.name:
			h, err := readHeader(sh.path(name))
			switch {
			case err == nil:
				if h.expired(now) {
					victims = append(victims, doomed{name, doomedExpired})
				} else if h.user != "" && !s.hasMarker(h.user, name) {
					unindexed = append(unindexed, name)
				}
			case errors.Is(err, fs.ErrNotExist), errors.Is(err, errUnknownVersion):
			case errors.Is(err, session.ErrCorrupt):
				if s.stale(e) {
					victims = append(victims, doomed{name, doomedCorrupt})
				}
			default:
				if firstErr == nil {
					firstErr = fmt.Errorf("filestore: sweep: %w", err)
				}
			}
		case strings.HasPrefix(name, tmpPrefix):
			if s.stale(e) {
				victims = append(victims, doomed{name, doomedTemp})
			}
		}
	}
	// In batches, like the removals below, so that no hold of the lock
	// grows with the number of missing markers.
	for rest := unindexed; len(rest) > 0; {
		var batch []string
		batch, rest = nextBatch(rest)
		if err := s.reindex(ctx, sh, batch); err != nil {
			if firstErr == nil {
				firstErr = err
			}
			break
		}
	}
	if len(victims) == 0 && len(entries) > 0 {
		return 0, firstErr
	}
	if s.hooks.beforeSweepLock != nil {
		s.hooks.beforeSweepLock(sh.name)
	}
	n, removed := 0, 0
	for start := 0; start == 0 || start < len(victims); start += sweepBatch {
		batch := victims[start:min(start+sweepBatch, len(victims))]
		last := start+sweepBatch >= len(victims)
		m, r, err := s.removeLocked(ctx, sh, batch, last && removed+len(batch) == len(entries))
		n, removed = n+m, removed+r
		if err != nil {
			return n, err
		}
	}
	return n, firstErr
}

// removeLocked removes the victims that still deserve it under the shard's
// lock, with the markers of the expired sessions, and, if tryRmdir is set
// and all of them went, the shard directory. It returns how many expired
// sessions and how many files in all it removed.
func (s *Store) removeLocked(ctx context.Context, sh *shard, victims []doomed, tryRmdir bool) (expired, removed int, err error) {
	if err := s.lock(ctx, sh); err != nil {
		return 0, 0, err
	}
	defer s.unlock(sh)
	now := s.now()
	for _, v := range victims {
		path := sh.path(v.name)
		owner := ""
		if v.kind != doomedTemp {
			// The file may have been rewritten since its header was read.
			h, err := readHeader(path)
			switch {
			case err == nil:
				if !h.expired(now) {
					continue
				}
				v.kind, owner = doomedExpired, h.user
			case errors.Is(err, fs.ErrNotExist):
				removed++
				continue
			case v.kind == doomedCorrupt && errors.Is(err, session.ErrCorrupt) && !errors.Is(err, errUnknownVersion):
				s.log.WarnContext(ctx, "filestore: removing corrupt session file", "path", path, "err", err)
			default:
				continue
			}
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return expired, removed, fmt.Errorf("filestore: sweep: %w", err)
		}
		removed++
		if v.kind == doomedExpired {
			expired++
		}
		s.dropMarker(owner, v.name)
	}
	if tryRmdir && removed == len(victims) {
		// A file created since the listing keeps the directory. Writers in
		// every process hold this lock while they create files here, and
		// recreate the directory if it is gone.
		if err := removeEmptyDir(sh.dir); err != nil {
			return expired, removed, fmt.Errorf("filestore: sweep: %w", err)
		}
	}
	return expired, removed, nil
}

// stale reports whether the entry was last modified at least a grace period
// ago.
func (s *Store) stale(e fs.DirEntry) bool {
	fi, err := e.Info()
	return err == nil && s.now().Sub(fi.ModTime()) >= s.grace
}

// removeEmptyDir removes dir if it is empty. rmdir(2) fails on a directory
// that is not empty, atomically, so an entry created meanwhile keeps it. A
// directory that is not empty, or already gone, is not an error.
func removeEmptyDir(dir string) error {
	err := os.Remove(dir)
	if err == nil || errors.Is(err, fs.ErrNotExist) ||
		errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
		return nil
	}
	return err
}
