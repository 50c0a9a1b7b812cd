package boltstore_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/storetest"
)

// fuzzSeed returns a small store file: 1 KiB pages, 30 sessions (one
// spanning several pages, some owned by users), 8 of them deleted, in
// buckets made by New on a database with bbolt's small default map, cut
// to the pages in use, about 20 KiB.
func fuzzSeed(f *testing.F) []byte {
	path := filepath.Join(f.TempDir(), "seed.db")
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType, PageSize: 1024})
	if err != nil {
		f.Fatal(err)
	}
	s, err := boltstore.New(db, nil)
	if err != nil {
		f.Fatal(err)
	}
	ctx := f.Context()
	for i := range 30 {
		rec := session.Record{Data: fmt.Appendf(nil, "session %d", i), Expires: time.Now().Add(time.Duration(i-5) * time.Hour)}
		if i == 7 {
			rec.Data = bytes.Repeat([]byte("large "), 500)
		}
		if i%4 == 0 {
			rec.UserID = fmt.Sprint("user-", i%3)
		}
		if err := s.Save(ctx, storetest.Key(fmt.Sprint(i)), rec); err != nil {
			f.Fatal(err)
		}
	}
	for i := range 8 {
		if err := s.Delete(ctx, storetest.Key(fmt.Sprint(i*3))); err != nil {
			f.Fatal(err)
		}
	}
	s.Close()
	if err := db.Close(); err != nil {
		f.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	// The pages in use are those below the high-water mark of the meta
	// page with the higher transaction id.
	const pageSize = 1024
	meta := b[16:]
	if binary.NativeEndian.Uint64(b[pageSize+16+48:]) > binary.NativeEndian.Uint64(meta[48:]) {
		meta = b[pageSize+16:]
	}
	return b[:binary.NativeEndian.Uint64(meta[40:])*pageSize]
}

// FuzzCheck feeds Check arbitrary files: it must never panic, must accept
// or refuse with an error wrapping session.ErrCorrupt, and a file it
// accepts must open and serve without bbolt panicking or faulting, since
// Open relies on it (a panic in bbolt's own goroutine kills the fuzzer,
// which is the finding), and must still pass once bbolt has written to it.
func FuzzCheck(f *testing.F) {
	seed := fuzzSeed(f)
	f.Add(seed)
	for _, off := range []int{1024 * 2, 1024*3 + 100, len(seed) / 2} {
		if off < len(seed) {
			b := append([]byte(nil), seed...)
			b[off] ^= 0xff
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "fuzz.db")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		err := boltstore.Check(path, nil)
		if err != nil {
			if !errors.Is(err, session.ErrCorrupt) {
				t.Fatalf("Check = %v; want nil or an error wrapping session.ErrCorrupt", err)
			}
			return
		}
		s, err := boltstore.Open(path, &boltstore.Options{NoSync: true})
		if err != nil {
			t.Fatalf("Check accepted the file, Open = %v", err)
		}
		ctx := t.Context()
		_ = s.Range(ctx, func(string, session.Record) bool { return true })
		_ = s.RangeExpired(ctx, func(string, session.Record) bool { return true })
		for i := range 30 {
			_, _ = s.Load(ctx, storetest.Key(fmt.Sprint(i)))
		}
		_, _ = s.UserKeys(ctx, "user-1")
		_ = s.Save(ctx, storetest.Key("new"), session.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)})
		_ = s.Delete(ctx, storetest.Key("1"))
		_, _ = s.DeleteUser(ctx, "user-2")
		_, _ = s.DeleteExpired(ctx)
		if err := s.Close(); err != nil {
			t.Fatalf("Close = %v", err)
		}
		// bbolt's writes over a file that passed must leave one that
		// passes: the verification demands nothing bbolt does not keep.
		if err := boltstore.Check(path, nil); err != nil {
			t.Fatalf("after writes to a file that passed: Check = %v", err)
		}
	})
}
