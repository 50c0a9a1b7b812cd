package boltstore_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/internal/testkit"
)

// churnedFile writes a bbolt file through bbolt alone, holding what Check
// must accept though a store never writes it: buckets nested three deep,
// inline buckets (an empty one among them), values spanning several pages,
// empty values, keys of 1 to 200 bytes, and enough deletes to merge pages
// and empty a bucket. seed picks the operations. bbolt's own Tx.Check must
// find the result sound.
func churnedFile(t *testing.T, seed uint64, opts *bbolt.Options) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "churned.db")
	db, err := bbolt.Open(path, 0o600, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rng := rand.New(rand.NewPCG(seed, 7))
	paths := [][]string{{"a"}, {"a", "b"}, {"a", "b", "c"}, {"top"}, {"small"}}
	bucket := func(tx *bbolt.Tx, path []string) *bbolt.Bucket {
		b, err := tx.CreateBucketIfNotExists([]byte(path[0]))
		for _, name := range path[1:] {
			if err != nil {
				break
			}
			b, err = b.CreateBucketIfNotExists([]byte(name))
		}
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	randBytes := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.IntN(256))
		}
		return b
	}
	var keys [5][][]byte
	for round := range 40 {
		err := db.Update(func(tx *bbolt.Tx) error {
			if _, err := tx.CreateBucketIfNotExists([]byte("empty")); err != nil {
				return err
			}
			for range 50 {
				i := rng.IntN(len(paths) - 1) // "small" stays inline
				if round%8 == 7 {
					i = 4
				}
				b := bucket(tx, paths[i])
				if len(keys[i]) > 0 && rng.IntN(10) < 4 {
					j := rng.IntN(len(keys[i]))
					if err := b.Delete(keys[i][j]); err != nil {
						return err
					}
					keys[i] = append(keys[i][:j], keys[i][j+1:]...)
					continue
				}
				n := rng.IntN(300)
				switch rng.IntN(20) {
				case 0:
					n = 5000 + rng.IntN(15000)
				case 1:
					n = 0
				}
				k := randBytes(1 + rng.IntN(200))
				if err := b.Put(k, randBytes(n)); err != nil {
					return err
				}
				keys[i] = append(keys[i], k)
			}
			if round == 30 { // empty a bucket that grew past a page
				for _, k := range keys[3] {
					if err := bucket(tx, paths[3]).Delete(k); err != nil {
						return err
					}
				}
				keys[3] = nil
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err = db.View(func(tx *bbolt.Tx) error {
		for err := range tx.Check() {
			t.Errorf("bbolt's Tx.Check on the test file: %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCheck_SoundFilesPass(t *testing.T) {
	fx := sharedFixture(t)
	fresh := filepath.Join(t.TempDir(), "fresh.db")
	s, err := boltstore.Open(fresh, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	empty := filepath.Join(t.TempDir(), "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"store of 2,000 sessions": fx.path, "new store": fresh, "empty file": empty}
	for seed := range uint64(3) {
		for _, o := range []struct {
			name string
			opts bbolt.Options
		}{
			{"unsynced-freelist", bbolt.Options{NoSync: true, NoFreelistSync: true, FreelistType: bbolt.FreelistMapType}},
			{"synced-freelist-1KiB-pages", bbolt.Options{NoSync: true, PageSize: 1024}},
			{"synced-freelist-16KiB-pages", bbolt.Options{NoSync: true, PageSize: 16384, FreelistType: bbolt.FreelistMapType}},
		} {
			files[fmt.Sprintf("churned-%s-seed-%d", o.name, seed)] = churnedFile(t, seed, &o.opts)
		}
	}
	for name, path := range files {
		if err := boltstore.Check(path, nil); err != nil {
			t.Errorf("%s: Check = %v", name, err)
		}
	}
}

// currentMeta returns the meta page (0 or 1) bbolt uses for the sound file
// at path, the one with the higher transaction id.
func currentMeta(t *testing.T, path string, pageSize int) int {
	t.Helper()
	txid := func(id int) uint64 { return binary.NativeEndian.Uint64(readPage(t, path, id, pageSize)[16+48:]) }
	if txid(1) > txid(0) {
		return 1
	}
	return 0
}

// rootLeaf returns the root bucket's page of the sound file at path, a
// leaf in a store's file.
func rootLeaf(t *testing.T, path string, pageSize int) int {
	t.Helper()
	m := readPage(t, path, currentMeta(t, path, pageSize), pageSize)
	return int(binary.NativeEndian.Uint64(m[16+16:]))
}

// putUint writes v (8 or 4 bytes) into page id of the file at path at off.
func putUint(t *testing.T, path string, id, pageSize, off int, v uint64, size int) {
	t.Helper()
	b := make([]byte, size)
	if size == 8 {
		binary.NativeEndian.PutUint64(b, v)
	} else {
		binary.NativeEndian.PutUint32(b, uint32(v))
	}
	writeAt(t, path, b, int64(id*pageSize+off))
}

func TestCheck_FindsDamage(t *testing.T) {
	fx := sharedFixture(t)
	ps := fx.pages
	sessionsBranch := func(t *testing.T, path string) (int, []rawElem) {
		for _, id := range ps.branches {
			els := rawElems(readPage(t, path, id, fx.pageSize))
			if len(els[0].key) == 64 && len(els) > 2 {
				return id, els
			}
		}
		t.Fatal("no branch page in the sessions bucket")
		return 0, nil
	}
	cases := []struct {
		name   string
		damage func(t *testing.T, path string)
		want   string
	}{
		{"zeroed session leaf", func(t *testing.T, path string) {
			zeroPage(t, path, ps.leaves["sessions"][3], fx.pageSize)
		}, "header says page 0"},
		{"truncated", func(t *testing.T, path string) {
			if err := os.Truncate(path, int64(ps.hwm*fx.pageSize/2)); err != nil {
				t.Fatal(err)
			}
		}, "truncated"},
		{"both meta pages zeroed", func(t *testing.T, path string) {
			zeroPage(t, path, 0, fx.pageSize)
			zeroPage(t, path, 1, fx.pageSize)
		}, "no valid meta page"},
		{"branch pointing at itself", func(t *testing.T, path string) {
			id, els := sessionsBranch(t, path)
			putUint(t, path, id, fx.pageSize, els[1].off+8, uint64(id), 8)
		}, "reached twice"},
		{"two branch elements sharing a page", func(t *testing.T, path string) {
			id, els := sessionsBranch(t, path)
			putUint(t, path, id, fx.pageSize, els[2].off+8, uint64(els[1].child), 8)
		}, "reached twice"},
		{"bucket entry of the root bucket marked a plain value", func(t *testing.T, path string) {
			root := rootLeaf(t, path, fx.pageSize)
			els := rawElems(readPage(t, path, root, fx.pageSize))
			putUint(t, path, root, fx.pageSize, els[0].off, 0, 4)
		}, "is not a bucket"},
		{"keys swapped", func(t *testing.T, path string) {
			// A leaf of at least three sessions: how many fit on one
			// depends on the fixture's random values.
			id, els := 0, []rawElem(nil)
			for _, id = range ps.leaves["sessions"] {
				if els = rawElems(readPage(t, path, id, fx.pageSize)); len(els) >= 3 {
					break
				}
			}
			if len(els) < 3 {
				t.Fatal("no leaf of three sessions in the sessions bucket")
			}
			// Keys sit right before their values.
			a, b := els[1], els[2]
			writeAt(t, path, b.key, int64(id*fx.pageSize+a.valueOff-len(a.key)))
			writeAt(t, path, a.key, int64(id*fx.pageSize+b.valueOff-len(b.key)))
		}, "out of order"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := fx.copyTo(t, t.TempDir())
			c.damage(t, path)
			before, _ := os.ReadFile(path)
			err := boltstore.Check(path, &boltstore.Options{Timeout: time.Second})
			if !errors.Is(err, session.ErrCorrupt) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "boltstore: check "+path) {
				t.Errorf("Check = %v; want an error wrapping session.ErrCorrupt, naming the file and saying %q", err, c.want)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Error("Check changed the file")
			}
		})
	}
}

func TestCheck_FindsDamagedFreelistAndInlineBuckets(t *testing.T) {
	build := func(t *testing.T) (string, int) {
		path := filepath.Join(t.TempDir(), "synced.db")
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		err = db.Update(func(tx *bbolt.Tx) error {
			b, err := tx.CreateBucket([]byte("big"))
			if err != nil {
				return err
			}
			for i := range 500 {
				if err := b.Put(fmt.Append(nil, "key-", i), bytes.Repeat([]byte("v"), 100)); err != nil {
					return err
				}
			}
			small, err := tx.CreateBucket([]byte("small"))
			if err != nil {
				return err
			}
			// A value shaped like an empty inline bucket: a header with
			// root 0, then an empty leaf page.
			v := make([]byte, 32)
			binary.NativeEndian.PutUint16(v[16+8:], 0x02)
			return small.Put([]byte("k"), v)
		})
		if err == nil {
			err = db.Update(func(tx *bbolt.Tx) error { // frees pages
				for i := range 250 {
					if err := tx.Bucket([]byte("big")).Delete(fmt.Append(nil, "key-", i)); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err != nil {
			t.Fatal(err)
		}
		pageSize := db.Info().PageSize
		db.Close()
		if err := boltstore.Check(path, nil); err != nil {
			t.Fatalf("sound file: Check = %v", err)
		}
		return path, pageSize
	}
	t.Run("freelist lists a page in use", func(t *testing.T) {
		path, pageSize := build(t)
		m := readPage(t, path, currentMeta(t, path, pageSize), pageSize)
		freelist, root := int(binary.NativeEndian.Uint64(m[16+32:])), binary.NativeEndian.Uint64(m[16+16:])
		if binary.NativeEndian.Uint16(readPage(t, path, freelist, pageSize)[10:]) == 0 {
			t.Fatal("the freelist is empty")
		}
		putUint(t, path, freelist, pageSize, 16, root, 8)
		if err := boltstore.Check(path, nil); !errors.Is(err, session.ErrCorrupt) || !strings.Contains(err.Error(), "in use") {
			t.Errorf("Check = %v; want the freelist listing a page in use", err)
		}
	})
	t.Run("inline bucket holding a bucket", func(t *testing.T) {
		path, pageSize := build(t)
		root := rootLeaf(t, path, pageSize)
		for _, e := range rawElems(readPage(t, path, root, pageSize)) {
			if string(e.key) == "small" {
				// The inline page's first element: mark "k" a bucket.
				putUint(t, path, root, pageSize, e.valueOff+16+16, 1, 4)
			}
		}
		if err := boltstore.Check(path, nil); !errors.Is(err, session.ErrCorrupt) || !strings.Contains(err.Error(), "is a bucket") {
			t.Errorf("Check = %v; want the inline bucket refused", err)
		}
	})
}

func TestCheck_DoesNotCreateTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.db")
	if err := boltstore.Check(path, nil); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Check(missing) = %v; want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Check created %s", path)
	}
}

func TestCheckAndSalvage_WaitForTheServersLock(t *testing.T) {
	_, path := open(t, nil)
	opts := &boltstore.Options{Timeout: 150 * time.Millisecond}
	for name, call := range map[string]func() error{
		"Check": func() error { return boltstore.Check(path, opts) },
		"Salvage": func() error {
			_, err := boltstore.Salvage(t.Context(), path, opts, func(string, session.Record) error { return nil })
			return err
		},
	} {
		start := time.Now()
		err := call()
		if !errors.Is(err, boltstore.ErrLocked) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s of an open store = %v; want ErrLocked naming the file", name, err)
		}
		if d := time.Since(start); d < 100*time.Millisecond || d > 5*time.Second {
			t.Errorf("%s waited %v for a timeout of %v", name, d, opts.Timeout)
		}
	}
}

func TestOpen_DamagedFileIsRefusedUnchanged(t *testing.T) {
	fx := sharedFixture(t)
	path := fx.copyTo(t, t.TempDir())
	zeroPage(t, path, fx.pages.leaves["sessions"][2], fx.pageSize)
	before, _ := os.ReadFile(path)
	for range 2 { // the first refusal releases the file
		_, err := boltstore.Open(path, &boltstore.Options{Timeout: 100 * time.Millisecond})
		if !errors.Is(err, session.ErrCorrupt) {
			t.Fatalf("Open = %v; want an error wrapping session.ErrCorrupt", err)
		}
		for _, want := range []string{"boltstore: open " + path, "header says page 0", "sessionctl check --store bolt:" + path, "sessionctl salvage --from bolt:" + path + " --to bolt:"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Open's error %q does not say %q", err, want)
			}
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Error("Open changed the damaged file")
	}
}

func TestOpen_DamagedMetaPageOpensAtTheOtherAndWarns(t *testing.T) {
	fx := sharedFixture(t)
	path := fx.copyTo(t, t.TempDir())
	zeroPage(t, path, currentMeta(t, path, fx.pageSize), fx.pageSize)
	var logs testkit.LogBuffer
	opts := &boltstore.Options{Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	if err := boltstore.Check(path, opts); err != nil {
		t.Fatalf("Check = %v", err)
	}
	s, err := boltstore.Open(path, opts)
	if err != nil {
		t.Fatalf("Open = %v", err)
	}
	defer s.Close()
	if n := strings.Count(logs.String(), "a meta page is damaged"); n != 2 {
		t.Errorf("Check and Open logged %d warnings about the meta page, want 2:\n%s", n, logs.String())
	}
	n := 0
	if err := s.Range(t.Context(), func(string, session.Record) bool { n++; return true }); err != nil || n < len(fx.live) {
		t.Errorf("Range = %v after %d records, want at least the %d live ones", err, n, len(fx.live))
	}
}
