package boltstore_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/storetest"
)

// fixtureSessions is how many sessions the damage and salvage tests' file
// holds: the size of the store in the original report.
const fixtureSessions = 2000

// fixture is a database file filled through the Store the way an
// application fills it, and what it holds.
type fixture struct {
	path     string
	pageSize int
	live     map[string]session.Record // unexpired sessions by store key
	expired  map[string]bool           // sessions saved already expired
	deleted  map[string][]byte         // deleted sessions: their data stays on free pages
	pages    fixturePages
	used     []byte // the file's pages in use
	size     int64  // the file's size
}

// fixtureName is the store key of fixture session i.
func fixtureName(i int) string { return storetest.Key(fmt.Sprint("fixture-", i)) }

// buildFixture writes a store of fixtureSessions sessions in dir: records
// of 150 to 600 bytes, one in 100 spanning several pages, one in five
// owned by a user, one in 20 saved already expired; then one in nine is
// deleted, which leaves its bytes on free pages. The content is the same
// for every call.
func buildFixture(tb testing.TB, dir string) *fixture {
	tb.Helper()
	f := &fixture{
		path:     filepath.Join(dir, "sessions.db"),
		pageSize: os.Getpagesize(),
		live:     map[string]session.Record{},
		expired:  map[string]bool{},
		deleted:  map[string][]byte{},
	}
	s, err := boltstore.Open(f.path, &boltstore.Options{NoSync: true})
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	now := time.Now()
	recs := make([]session.Record, fixtureSessions)
	for i := range recs {
		n := 150 + rng.IntN(450)
		if i%100 == 42 {
			n = 3*f.pageSize + 100
		}
		data := fmt.Appendf(nil, "fixture-session-%d;", i)
		for len(data) < n {
			data = append(data, byte('a'+rng.IntN(26)))
		}
		rec := session.Record{Data: data, Expires: now.Add(time.Hour + time.Duration(i)*time.Second)}
		if i%5 == 0 {
			rec.UserID = fmt.Sprint("user-", i%13)
		}
		if i%20 == 7 {
			rec.Expires = now.Add(-time.Hour)
		}
		recs[i] = rec
	}
	ctx := context.Background()
	testkit.TimedInParallel(tb, 8, len(recs), func(i int) error { return s.Save(ctx, fixtureName(i), recs[i]) })
	var deletes []string
	for i, rec := range recs {
		key := fixtureName(i)
		switch {
		case i%9 == 4:
			deletes = append(deletes, key)
			f.deleted[key] = rec.Data
		case i%20 == 7:
			f.expired[key] = true
		default:
			f.live[key] = rec
		}
	}
	// Concurrent deletes share transactions, as under load: the pages they
	// free are not all reused at once, so many deleted sessions stay in
	// the file.
	testkit.TimedInParallel(tb, 32, len(deletes), func(i int) error { return s.Delete(ctx, deletes[i]) })
	if err := s.Close(); err != nil {
		tb.Fatal(err)
	}
	f.pages = pagesOf(tb, f.path)
	for b, want := range map[string]int{"root": 1, "sessions": 2, "expiry": 2, "users": 2, "unknown": 0} {
		if n := len(f.pages.leaves[b]); n < want || b == "unknown" && n > 0 {
			tb.Fatalf("fixture has %d leaves of %s: %v", n, b, f.pages.leaves)
		}
	}
	b, err := os.ReadFile(f.path)
	if err != nil {
		tb.Fatal(err)
	}
	f.size, f.used = int64(len(b)), b[:f.pages.hwm*f.pageSize]
	if slices.ContainsFunc(b[len(f.used):], func(c byte) bool { return c != 0 }) {
		tb.Fatal("the fixture holds data past its pages in use")
	}
	return f
}

// shared is the fixture the tests share; TestMain removes its directory.
var shared struct {
	once sync.Once
	dir  string
	fx   *fixture
}

// sharedFixture returns the fixture, built on first use. Tests copy its
// file before they change it.
func sharedFixture(tb testing.TB) *fixture {
	tb.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "boltstore-fixture-")
		if err != nil {
			tb.Fatal(err)
		}
		shared.dir = dir
		shared.fx = buildFixture(tb, dir)
	})
	if shared.fx == nil {
		tb.Fatal("the fixture could not be built")
	}
	return shared.fx
}

// copyTo copies the fixture's file to a new file in dir and returns its
// path. bbolt grows files in steps of 16 MiB: the copy has the pages in use
// and leaves the rest a hole, which reads as the zeros the fixture holds
// there (buildFixture checks).
func (f *fixture) copyTo(tb testing.TB, dir string) string {
	tb.Helper()
	path := filepath.Join(dir, "copy.db")
	if err := os.WriteFile(path, f.used, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.Truncate(path, f.size); err != nil {
		tb.Fatal(err)
	}
	return path
}

// fixturePages are the pages of a fixture file that its tree uses, as
// bbolt itself reports them.
type fixturePages struct {
	used     []int            // every page the tree uses: branches, leaves, overflow
	leaves   map[string][]int // leaf pages by bucket: "sessions", "expiry", "users", "root"
	branches []int
	hwm      int // bbolt's high-water mark: pages at or above it are unused
}

// pagesOf lists the pages of the healthy bbolt file at path. It sorts each
// leaf into its bucket by the shape of its first key: a store key (64 hex
// digits), a user index key (the user ID with its length in front, then a
// store key), an expiry index key (8 bytes of time slot, then a store key),
// or a bucket name.
func pagesOf(tb testing.TB, path string) fixturePages {
	tb.Helper()
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	ps := fixturePages{leaves: map[string][]int{}}
	err = db.View(func(tx *bbolt.Tx) error {
		pageSize := db.Info().PageSize
		for id := 2; ; id++ {
			info, err := tx.Page(id)
			if err != nil {
				return err
			}
			if info == nil {
				ps.hwm = id
				return nil
			}
			switch info.Type {
			case "free", "meta", "freelist":
				continue
			case "branch":
				ps.branches = append(ps.branches, id)
			case "leaf":
				b := leafBucket(raw[id*pageSize : (id+1)*pageSize])
				ps.leaves[b] = append(ps.leaves[b], id)
			}
			for i := range info.OverflowCount + 1 {
				ps.used = append(ps.used, id+i)
			}
			id += info.OverflowCount
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ps
}

// leafBucket names the bucket a fixture leaf page belongs to by its first
// key (see pagesOf).
func leafBucket(page []byte) string {
	if binary.NativeEndian.Uint16(page[10:]) == 0 {
		return "empty"
	}
	pos := binary.NativeEndian.Uint32(page[16+4:])
	ksize := binary.NativeEndian.Uint32(page[16+8:])
	key := page[16+pos : 16+pos+ksize]
	switch {
	case len(key) == 64 && isHex(key):
		return "sessions"
	case len(key) > 65 && int(key[0]) == len(key)-65 && bytes.HasPrefix(key[1:], []byte("user-")):
		return "users" // the user ID's length, the user ID, the store key
	case len(key) == 72 && isHex(key[8:]):
		return "expiry"
	case bytes.HasPrefix(key, []byte("sessions")):
		return "root"
	default:
		return "unknown"
	}
}

func isHex(b []byte) bool {
	for _, c := range b {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// zeroPage overwrites page id of the file at path with zeros.
func zeroPage(tb testing.TB, path string, id, pageSize int) {
	tb.Helper()
	writeAt(tb, path, make([]byte, pageSize), int64(id*pageSize))
}

// writeAt writes b at off in the file at path.
func writeAt(tb testing.TB, path string, b []byte, off int64) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		tb.Fatal(err)
	}
}

// flipBytes changes n bytes among the first size bytes of the file at
// path, at positions and to values drawn from seed.
func flipBytes(tb testing.TB, path string, seed uint64, n, size int) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 99))
	for range n {
		b[rng.IntN(min(size, len(b)))] ^= byte(1 + rng.IntN(255))
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		tb.Fatal(err)
	}
}

// rawElem is an element of a page as the tests read it: off is where the
// element sits in the page.
type rawElem struct {
	off      int
	key      []byte
	value    []byte // leaf
	valueOff int    // leaf: where value starts in the page
	child    int    // branch
}

// rawElems decodes the elements of a healthy branch or leaf page.
func rawElems(page []byte) []rawElem {
	ne := binary.NativeEndian
	branch := ne.Uint16(page[8:]) == 0x01
	els := make([]rawElem, ne.Uint16(page[10:]))
	for i := range els {
		off := 16 + 16*i
		e := rawElem{off: off}
		if branch {
			pos, ksize := int(ne.Uint32(page[off:])), int(ne.Uint32(page[off+4:]))
			e.key, e.child = page[off+pos:off+pos+ksize], int(ne.Uint64(page[off+8:]))
		} else {
			pos, ksize, vsize := int(ne.Uint32(page[off+4:])), int(ne.Uint32(page[off+8:])), int(ne.Uint32(page[off+12:]))
			e.key, e.value = page[off+pos:off+pos+ksize], page[off+pos+ksize:off+pos+ksize+vsize]
			e.valueOff = off + pos + ksize
		}
		els[i] = e
	}
	return els
}

// readPage reads page id of the file at path.
func readPage(tb testing.TB, path string, id, pageSize int) []byte {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, pageSize)
	if _, err := f.ReadAt(b, int64(id*pageSize)); err != nil {
		tb.Fatal(err)
	}
	return b
}

// liveLeaf returns the first leaf of the sessions bucket, from the from-th
// on (wrapping around), that holds at least one live session of the
// fixture, and the keys of those sessions. The parallel saves that build
// the fixture lay its pages out differently from run to run, so a test
// that damages a leaf picks one by what it holds.
func liveLeaf(tb testing.TB, fx *fixture, path string, from int) (int, map[string]bool) {
	tb.Helper()
	leaves := fx.pages.leaves["sessions"]
	for i := range leaves {
		id := leaves[(from+i)%len(leaves)]
		live := map[string]bool{}
		for _, e := range rawElems(readPage(tb, path, id, fx.pageSize)) {
			if _, ok := fx.live[string(e.key)]; ok {
				live[string(e.key)] = true
			}
		}
		if len(live) > 0 {
			return id, live
		}
	}
	tb.Fatal("no leaf of the sessions bucket holds a live session")
	return 0, nil
}
