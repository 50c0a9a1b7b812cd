package main

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/filestore"
	"github.com/sessionkv/session/memstore"
)

// storedCount returns how many records st holds, expired ones included
// until they are swept, when the store can tell without reading them: the
// bolt and memory stores count their records, and a file store's directory
// is listed. ok is false for other stores. Records saved or deleted
// meanwhile may or may not be counted.
func storedCount(ctx context.Context, st session.Store) (n int, ok bool, err error) {
	switch s := st.(type) {
	case *boltstore.Store:
		stats, err := s.Stats(ctx)
		return stats.Records, err == nil, err
	case *memstore.Store:
		return s.Len(), true, nil
	case *filestore.Store:
		n, err := countSessionFiles(ctx, s.Dir())
		return n, err == nil, err
	}
	return 0, false, nil
}

// countSessionFiles counts the session files of a file store: files named
// by a store key (64 lowercase hex digits) in the shard directory named by
// the key's first two digits, the layout the filestore package documents.
// It reads no file.
func countSessionFiles(ctx context.Context, dir string) (int, error) {
	n := 0
	for i := 0; i < 256; i++ {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		shard := hexByte(i)
		entries, err := os.ReadDir(filepath.Join(dir, shard))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return n, err
		}
		for _, e := range entries {
			if e.Type().IsRegular() && isStoreKey(e.Name()) && e.Name()[:2] == shard {
				n++
			}
		}
	}
	return n, nil
}

const hexDigits = "0123456789abcdef"

func hexByte(i int) string { return string([]byte{hexDigits[i>>4], hexDigits[i&15]}) }

// isStoreKey reports whether s has the shape of session.StoreKey's output.
func isStoreKey(s string) bool {
	if len(s) != 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
