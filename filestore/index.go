package filestore

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/sessionkv/session"
)

// usersDirName is the root of the user index:
//
//	<dir>/.users/<hh>/<hash>/<key>
//
// where hash is userHash of the owner's user ID, hh its first two hex
// digits, and key the store key of one of the owner's sessions.
const usersDirName = ".users"

// maxMarkerAttempts bounds how often addMarker recreates a user directory
// that a concurrent sweep or DeleteUser removes as empty in between.
const maxMarkerAttempts = 100

// userHash names the index directory of uid: the hex SHA-256 of the user
// ID. No path is ever built from the user ID itself, which is arbitrary
// text under the application's, and perhaps a client's, influence.
func userHash(uid string) string {
	sum := sha256.Sum256([]byte(uid))
	return hex.EncodeToString(sum[:])
}

// userDir returns the index directory of uid.
func (s *Store) userDir(uid string) string { return s.userDirOf(userHash(uid)) }

// userDirOf returns the index directory named hash.
func (s *Store) userDirOf(hash string) string {
	sep := string(os.PathSeparator)
	return s.dir + sep + usersDirName + sep + hash[:2] + sep + hash
}

// indexed reports whether records owned by uid are indexed: the empty user
// ID marks sessions without an owner, and a longer one than a record may
// hold cannot be the owner of any.
func indexed(uid string) bool { return uid != "" && len(uid) <= maxUserIDLen }

// addMarker makes sure that the marker of key exists in the index
// directory of uid, creating the directories it needs, and, unless NoSync
// is set, that it is durable before the caller writes the record. A marker
// found already in place is synced again only if same is false: when the
// file being replaced has the same owner, the writer of that file made the
// marker durable before writing it. created reports whether this call made
// the marker. The lock of key's shard must be held.
func (s *Store) addMarker(uid, key string, same bool) (created bool, err error) {
	udir := s.userDir(uid)
	path := udir + string(os.PathSeparator) + key
	for attempt := 1; ; attempt++ {
		f, err := openFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, filePerm)
		switch {
		case err == nil:
			if err := f.Close(); err != nil {
				return true, err
			}
			return true, s.syncDir(udir)
		case errors.Is(err, fs.ErrExist):
			if same {
				return false, nil
			}
			return false, s.syncDir(udir)
		case !errors.Is(err, fs.ErrNotExist) || attempt == maxMarkerAttempts:
			return false, err
		}
		// The user's directory is missing: new, or removed as empty by a
		// sweep or a DeleteUser since. rmdir(2) fails on a directory that
		// holds a marker, so once the marker exists it stays.
		if err := s.mkdirs(udir, 2); err != nil {
			return false, err
		}
	}
}

// mkdirs creates dir and, up to depth levels up, its missing parents,
// syncing the parent of each directory it creates unless NoSync is set. A
// directory that exists already is not an error.
func (s *Store) mkdirs(dir string, depth int) error {
	err := os.Mkdir(dir, dirPerm)
	if errors.Is(err, fs.ErrNotExist) && depth > 0 {
		if err := s.mkdirs(parentDir(dir), depth-1); err != nil {
			return err
		}
		err = os.Mkdir(dir, dirPerm)
	}
	switch {
	case err == nil:
		return s.syncDir(parentDir(dir))
	case errors.Is(err, fs.ErrExist):
		return nil
	}
	return err
}

// parentDir returns the directory holding path, which the store built by
// joining names with the path separator.
func parentDir(path string) string {
	for i := len(path) - 1; i > 0; i-- {
		if os.IsPathSeparator(path[i]) {
			return path[:i]
		}
	}
	return path
}

// dropMarker removes the marker of key from the index directory of uid;
// the empty user ID, which is not indexed, has none. A missing marker is
// not an error; any other failure is logged, as it only leaves a stale
// marker, which readers ignore and the sweeper removes. The lock of key's
// shard must be held.
func (s *Store) dropMarker(uid, key string) {
	if uid == "" {
		return
	}
	if err := removeMarker(s.userDir(uid), key); err != nil {
		s.log.Warn("filestore: remove user index entry", "err", err)
	}
}

// removeMarker removes the marker of key from the index directory udir. A
// missing marker is not an error.
func removeMarker(udir, key string) error {
	if err := os.Remove(udir + string(os.PathSeparator) + key); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

// listMarkers returns the keys marked in the index directory udir, in
// increasing order, so that keys of one shard are next to each other. A
// missing directory holds none; entries that are not markers are skipped.
func listMarkers(udir string) ([]string, error) {
	entries, err := os.ReadDir(udir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(entries))
	for _, e := range entries {
		if e.Type().IsRegular() && isKey(e.Name()) {
			keys = append(keys, e.Name())
		}
	}
	return keys, nil
}

// nextBatch splits off the leading keys of keys that share a shard, at
// most sweepBatch of them, so that one hold of the shard's lock serves them
// all. keys must be sorted.
func nextBatch(keys []string) (batch, rest []string) {
	n := 1
	for n < len(keys) && n < sweepBatch && keys[n][:2] == keys[0][:2] {
		n++
	}
	return keys[:n], keys[n:]
}

// markerState is what a marker's record makes of the marker.
type markerState uint8

const (
	markerLive    markerState = iota // the record is the user's and live
	markerExpired                    // the record is the user's but expired
	markerStale                      // no record, another owner's, or corrupt
	markerKept                       // a record in a later format version, left alone
)

// classify reads the header and user ID of key's record and tells what
// they make of a marker of key held by a user, whose user ID belongs
// recognizes. A record of another owner, a missing one and a corrupt one
// make the marker stale: writers replace session files whole, so a corrupt
// file stays corrupt until it is replaced, and then the new owner's marker
// is made anew. Only read errors are returned.
func (s *Store) classify(key string, belongs func(user string) bool, now time.Time) (markerState, error) {
	h, err := readHeader(s.shardOf(key).path(key))
	switch {
	case err == nil:
		switch {
		case !belongs(h.user):
			return markerStale, nil
		case h.expired(now):
			return markerExpired, nil
		}
		return markerLive, nil
	case errors.Is(err, fs.ErrNotExist):
		return markerStale, nil
	case errors.Is(err, errUnknownVersion):
		return markerKept, nil
	case errors.Is(err, session.ErrCorrupt):
		return markerStale, nil
	}
	return markerKept, err
}

// dropStaleMarkers removes from the index directory udir the markers of
// keys whose record, read again under its shard's lock, still makes them
// stale. keys must be sorted. It returns how many markers it removed.
func (s *Store) dropStaleMarkers(ctx context.Context, udir string, keys []string, belongs func(string) bool) (int, error) {
	gone := 0
	for len(keys) > 0 {
		var batch []string
		batch, keys = nextBatch(keys)
		sh := s.shardOf(batch[0])
		if err := s.lock(ctx, sh); err != nil {
			return gone, err
		}
		now := s.now()
		for _, key := range batch {
			if st, err := s.classify(key, belongs, now); err != nil || st != markerStale {
				continue
			}
			if err := removeMarker(udir, key); err != nil {
				s.unlock(sh)
				return gone, err
			}
			gone++
		}
		s.unlock(sh)
	}
	return gone, nil
}

// UserKeys implements session.UserIndexer in O(the user's sessions): it
// lists the user's index directory and returns the keys whose record
// exists, has not expired and still belongs to uid, judging each by the
// record's header and user ID, which the header checksum covers. It takes
// no lock to list; markers it finds stale (record gone, corrupt, or owned
// by someone else) are removed on the way, each after a second look under
// its shard's lock. The empty user ID, which marks sessions without an
// owner, is not indexed: it has no keys, and neither has a user ID longer
// than a record may hold.
func (s *Store) UserKeys(ctx context.Context, uid string) ([]string, error) {
	if err := s.closed.Check(ctx); err != nil {
		return nil, err
	}
	if !indexed(uid) {
		return nil, nil
	}
	udir := s.userDir(uid)
	marked, err := listMarkers(udir)
	if err != nil {
		return nil, fmt.Errorf("filestore: user keys: %w", err)
	}
	belongs := func(user string) bool { return user == uid }
	now := s.now()
	var keys, stale []string
	for _, key := range marked {
		if err := s.closed.Check(ctx); err != nil {
			return nil, err
		}
		st, err := s.classify(key, belongs, now)
		if err != nil {
			return nil, fmt.Errorf("filestore: user keys: %w", err)
		}
		switch st {
		case markerLive:
			keys = append(keys, key)
		case markerStale:
			stale = append(stale, key)
		}
	}
	if len(stale) > 0 {
		// Tidying is a courtesy to the sweeper: the answer stands without it.
		if _, err := s.dropStaleMarkers(ctx, udir, stale, belongs); err != nil {
			s.log.DebugContext(ctx, "filestore: user keys: stale index entries left for the sweeper", "err", err)
		}
	}
	return keys, nil
}

// DeleteUser implements session.UserIndexer in O(the user's sessions): it
// lists the user's index directory, then, holding each shard's lock in
// turn, deletes the records that still belong to uid (live or expired) and
// removes their markers and any stale ones; finally it removes the user's
// directory if that left it empty. It returns how many of the deleted
// records were live. Unless NoSync is set, each shard's directory is synced
// before its lock is released, so the deletions survive a crash as
// Delete's do. A session of uid saved while DeleteUser runs may survive it.
// The empty user ID, which marks sessions without an owner, deletes
// nothing.
func (s *Store) DeleteUser(ctx context.Context, uid string) (int, error) {
	if err := s.closed.Check(ctx); err != nil {
		return 0, err
	}
	if !indexed(uid) {
		return 0, nil
	}
	udir := s.userDir(uid)
	keys, err := listMarkers(udir)
	if err != nil {
		return 0, fmt.Errorf("filestore: delete user: %w", err)
	}
	belongs := func(user string) bool { return user == uid }
	n := 0
	for len(keys) > 0 {
		var batch []string
		batch, keys = nextBatch(keys)
		m, err := s.deleteMarked(ctx, udir, batch, belongs)
		n += m
		if err != nil {
			return n, err
		}
	}
	// Best effort: a marker added meanwhile keeps the directory, and the
	// sweeper removes it otherwise.
	os.Remove(udir)
	return n, nil
}

// deleteMarked deletes, under the lock of their shard, the records of keys
// that belong to the user of the index directory udir, and removes their
// markers and the stale ones. It returns how many of the records deleted
// were live.
func (s *Store) deleteMarked(ctx context.Context, udir string, keys []string, belongs func(string) bool) (live int, err error) {
	sh := s.shardOf(keys[0])
	if err := s.lock(ctx, sh); err != nil {
		return 0, err
	}
	defer s.unlock(sh)
	deleted := false
	defer func() {
		if deleted {
			if serr := s.syncDir(sh.dir); serr != nil && err == nil {
				err = fmt.Errorf("filestore: delete user: %w", serr)
			}
		}
	}()
	now := s.now()
	for _, key := range keys {
		st, err := s.classify(key, belongs, now)
		if err != nil {
			return live, fmt.Errorf("filestore: delete user: %w", err)
		}
		switch st {
		case markerLive, markerExpired:
			if err := os.Remove(sh.path(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return live, fmt.Errorf("filestore: delete user: %w", err)
			}
			deleted = true
			if st == markerLive {
				live++
			}
		case markerKept:
			continue
		}
		if err := removeMarker(udir, key); err != nil {
			return live, fmt.Errorf("filestore: delete user: %w", err)
		}
	}
	return live, nil
}

// sweepIndex walks the whole user index: it removes the markers whose
// record is gone, corrupt or owned by someone else, and the user
// directories that hold nothing else. The markers of expired
// records are left: the sweep of their shard removes both together. It
// goes on after an error in one directory and returns the first.
func (s *Store) sweepIndex(ctx context.Context) error {
	root := s.dir + string(os.PathSeparator) + usersDirName
	groups, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("filestore: sweep: %w", err)
	}
	var firstErr error
	for _, g := range groups {
		if !g.IsDir() || !isShardName(g.Name()) {
			continue
		}
		users, err := os.ReadDir(root + string(os.PathSeparator) + g.Name())
		if err != nil {
			if firstErr == nil && !errors.Is(err, fs.ErrNotExist) {
				firstErr = fmt.Errorf("filestore: sweep: %w", err)
			}
			continue
		}
		for _, u := range users {
			hash := u.Name()
			if !u.IsDir() || !isKey(hash) || hash[:2] != g.Name() {
				continue
			}
			if err := s.closed.Check(ctx); err != nil {
				return err
			}
			if err := s.sweepUser(ctx, hash); err != nil && firstErr == nil {
				firstErr = err
			}
		}
	}
	return firstErr
}

// sweepUser removes the stale markers of the index directory named hash,
// and the directory itself if nothing else is left in it.
func (s *Store) sweepUser(ctx context.Context, hash string) error {
	udir := s.userDirOf(hash)
	entries, err := os.ReadDir(udir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("filestore: sweep: %w", err)
	}
	// The user ID is not known here, only its hash.
	belongs := func(user string) bool { return user != "" && userHash(user) == hash }
	now := s.now()
	var stale []string
	var firstErr error
	for _, e := range entries {
		key := e.Name()
		if !e.Type().IsRegular() || !isKey(key) {
			continue
		}
		st, err := s.classify(key, belongs, now)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("filestore: sweep: %w", err)
			}
			continue
		}
		if st == markerStale {
			stale = append(stale, key)
		}
	}
	gone := 0
	if len(stale) > 0 {
		if s.hooks.beforeSweepLock != nil {
			s.hooks.beforeSweepLock(usersDirName + "/" + hash)
		}
		gone, err = s.dropStaleMarkers(ctx, udir, stale, belongs)
		if err != nil {
			return fmt.Errorf("filestore: sweep: %w", err)
		}
	}
	if gone == len(entries) {
		// A marker created since the listing keeps the directory, and a
		// writer that finds the directory gone creates it again.
		if err := removeEmptyDir(udir); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("filestore: sweep: %w", err)
		}
	}
	return firstErr
}

// isShardName reports whether name is two lowercase hex digits.
func isShardName(name string) bool {
	return len(name) == 2 && unhex(name[0]) >= 0 && unhex(name[1]) >= 0
}

// reindex restores, under the shard's lock, the missing markers of the
// live records of keys: the sweep of a shard finds them when a crash with
// NoSync set lost a marker, or when session files were copied in without
// their index.
func (s *Store) reindex(ctx context.Context, sh *shard, keys []string) error {
	if err := s.lock(ctx, sh); err != nil {
		return err
	}
	defer s.unlock(sh)
	now := s.now()
	restored := 0
	for _, key := range keys {
		h, err := readHeader(sh.path(key))
		if err != nil || h.user == "" || h.expired(now) {
			continue
		}
		created, err := s.addMarker(h.user, key, false)
		if err != nil {
			return fmt.Errorf("filestore: sweep: user index: %w", err)
		}
		if created {
			restored++
		}
	}
	if restored > 0 {
		s.log.WarnContext(ctx, "filestore: restored missing user index entries", "shard", sh.name, "count", restored)
	}
	return nil
}

// hasMarker reports whether the index directory of uid holds a marker of
// key. An error other than the marker's absence counts as having one: it is
// no reason to write.
func (s *Store) hasMarker(uid, key string) bool {
	_, err := os.Lstat(s.userDir(uid) + string(os.PathSeparator) + key)
	return !errors.Is(err, fs.ErrNotExist)
}
