package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/sessionkv/session"
)

// Range implements session.Ranger. It lists one shard directory at a time
// and reads each file without a lock, so every record it yields is a whole
// version; records saved or deleted meanwhile may or may not be seen.
// Corrupt files are logged and skipped.
func (s *Store) Range(ctx context.Context, fn func(key string, rec session.Record) bool) error {
	return s.rangeRecords(ctx, false, fn)
}

// RangeExpired implements session.ExpiredRanger: the files of expired
// sessions that no sweep has removed yet, read the way Range reads.
func (s *Store) RangeExpired(ctx context.Context, fn func(key string, rec session.Record) bool) error {
	return s.rangeRecords(ctx, true, fn)
}

// Count implements session.Counter: it counts the session files, expired
// ones included until a sweep removes them, by listing the shard
// directories, without reading any file.
func (s *Store) Count(ctx context.Context) (int, error) {
	n := 0
	err := s.eachSessionFile(ctx, "count", func(*shard, string) (bool, error) {
		n++
		return true, nil
	})
	return n, err
}

// rangeRecords calls fn for the live records, or the expired ones.
func (s *Store) rangeRecords(ctx context.Context, expired bool, fn func(key string, rec session.Record) bool) error {
	return s.eachSessionFile(ctx, "range", func(sh *shard, name string) (bool, error) {
		if err := s.closed.Check(ctx); err != nil {
			return false, err
		}
		rec, found, err := s.read(ctx, sh.path(name))
		if err != nil {
			return false, fmt.Errorf("filestore: range: %w", err)
		}
		if !found || rec.Expired(s.now()) != expired {
			return true, nil
		}
		return fn(name, rec), nil
	})
}

// eachSessionFile lists the shard directories one at a time and calls fn
// with the name of each session file, until fn returns false or an error.
// Only session files of their very shard count: a key file misplaced in
// another shard cannot be loaded, so it is neither listed nor counted. op
// names the operation in errors.
func (s *Store) eachSessionFile(ctx context.Context, op string, fn func(sh *shard, name string) (bool, error)) error {
	for i := range s.shards {
		sh := &s.shards[i]
		if err := s.closed.Check(ctx); err != nil {
			return err
		}
		entries, err := os.ReadDir(sh.dir)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("filestore: %s: %w", op, err)
		}
		for _, e := range entries {
			name := e.Name()
			if !e.Type().IsRegular() || !isKey(name) || name[:2] != sh.name {
				continue
			}
			more, err := fn(sh, name)
			if err != nil || !more {
				return err
			}
		}
	}
	return nil
}
