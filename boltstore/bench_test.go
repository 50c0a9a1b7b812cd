package boltstore_test

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/storetest"
)

// record is testkit.TenKeys encoded as the engine stores it (about 350
// bytes).
func record(tb testing.TB) []byte {
	b, err := session.MsgpackCodec{}.Encode([]byte{1, 0}, testkit.TenKeys())
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// contender is one way of committing a session durably.
type contender struct {
	name    string
	ops     int // calls of op per round
	writers int // goroutines calling op; 0 means the sub-benchmark's count
	commits int // sessions each call commits; 0 means 1
	op      func(i int) error
}

// BenchmarkCommit compares durable commits through the store (group
// commit) with raw bbolt Update (one transaction and fsync per commit) and
// raw DB.Batch with its defaults, for 1, 8 and 64 concurrent writers. A
// fourth contender, raw-ideal-group, is the ceiling of any group commit on
// bbolt: one goroutine commits as many sessions per Update as there are
// writers, with no coordination at all. The machine's disk and load vary
// from second to second, so each iteration is one round in which every
// contender commits in turn, and the figures are totals over all rounds:
// commits/s per contender, and the store and the ideal group relative to
// raw Update.
func BenchmarkCommit(b *testing.B) {
	data := record(b)
	exp := time.Now().Add(time.Hour)
	for _, writers := range []int{1, 8, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			s, _ := open(b, nil)
			update, batch, ideal := rawDB(b), rawDB(b), rawDB(b)
			ctx := context.Background()
			perRound := 100 * writers
			contenders := []contender{
				{name: "store", ops: perRound, op: func(i int) error {
					return s.Save(ctx, storetest.Key(fmt.Sprint(i%4096)), session.Record{Data: data, Expires: exp})
				}},
				{name: "raw-update", ops: perRound, op: func(i int) error {
					return update.Update(func(tx *bbolt.Tx) error { return rawPut(tx, i, data) })
				}},
				// DB.Batch waits up to 10 ms per group: a few commits suffice.
				{name: "raw-batch", ops: 2 * writers, op: func(i int) error {
					return batch.Batch(func(tx *bbolt.Tx) error { return rawPut(tx, i, data) })
				}},
				{name: "raw-ideal-group", ops: 100, writers: 1, commits: writers, op: func(i int) error {
					return ideal.Update(func(tx *bbolt.Tx) error {
						for j := range writers {
							if err := rawPut(tx, i*writers+j, data); err != nil {
								return err
							}
						}
						return nil
					})
				}},
			}
			elapsed := make([]time.Duration, len(contenders))
			for b.Loop() {
				for j, c := range contenders {
					elapsed[j] += testkit.TimedInParallel(b, cmp.Or(c.writers, writers), c.ops, c.op)
				}
			}
			rate := func(j int) float64 {
				c := contenders[j]
				return float64(c.ops*cmp.Or(c.commits, 1)*b.N) / elapsed[j].Seconds()
			}
			for j, c := range contenders {
				b.ReportMetric(rate(j), c.name+"-commits/s")
			}
			b.ReportMetric(rate(0)/rate(1), "store/raw-update")
			b.ReportMetric(rate(3)/rate(1), "ideal-group/raw-update")
			b.ReportMetric(0, "ns/op")
		})
	}
	b.Run("nosync-writers=64", func(b *testing.B) {
		s, _ := open(b, &boltstore.Options{NoSync: true})
		ctx := context.Background()
		b.ReportAllocs()
		elapsed := testkit.TimedInParallel(b, 64, b.N, func(i int) error {
			return s.Save(ctx, storetest.Key(fmt.Sprint(i%4096)), session.Record{Data: data, Expires: exp})
		})
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commits/s")
	})
}

// rawDB returns a new database with one bucket, "s", opened with the bbolt
// options Open uses, so that raw contenders differ from the store only in
// how they commit.
func rawDB(b *testing.B) *bbolt.DB {
	db := openRaw(b, filepath.Join(b.TempDir(), "raw.db"))
	if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket([]byte("s")); return err }); err != nil {
		b.Fatal(err)
	}
	return db
}

func rawPut(tx *bbolt.Tx, i int, data []byte) error {
	return tx.Bucket([]byte("s")).Put([]byte(storetest.Key(fmt.Sprint(i%4096))), data)
}

// BenchmarkLoad compares a store Load plus decode with a raw View+Get plus
// decode of the same record.
func BenchmarkLoad(b *testing.B) {
	data := record(b)
	const keys = 1000
	b.Run("store", func(b *testing.B) {
		s, _ := open(b, &boltstore.Options{NoSync: true})
		ctx := context.Background()
		for i := range keys {
			if err := s.Save(ctx, storetest.Key(fmt.Sprint(i)), session.Record{Data: data, Expires: time.Now().Add(time.Hour)}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			rec, err := s.Load(ctx, storetest.Key(fmt.Sprint(i%keys)))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := (session.MsgpackCodec{}).Decode(rec.Data[2:]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("raw-view-get", func(b *testing.B) {
		db := rawDB(b)
		db.NoSync = true
		for i := range keys {
			if err := db.Update(func(tx *bbolt.Tx) error { return rawPut(tx, i, data) }); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			var out []byte
			err := db.View(func(tx *bbolt.Tx) error {
				out = append([]byte(nil), tx.Bucket([]byte("s")).Get([]byte(storetest.Key(fmt.Sprint(i%keys))))...)
				return nil
			})
			if err != nil || out == nil {
				b.Fatal(err)
			}
			if _, err := (session.MsgpackCodec{}).Decode(out[2:]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
}

// populated caches one filled database per size for the whole run.
var populated struct {
	sync.Mutex
	dir   string
	paths map[int]string
}

// populatedPath returns a database holding n live sessions (keys "0".."n-1").
func populatedPath(b *testing.B, n int) string {
	populated.Lock()
	defer populated.Unlock()
	if p, ok := populated.paths[n]; ok {
		return p
	}
	if populated.paths == nil {
		dir, err := os.MkdirTemp("", "boltstore-bench-")
		if err != nil {
			b.Fatal(err)
		}
		populated.dir, populated.paths = dir, map[int]string{}
	}
	path := filepath.Join(populated.dir, fmt.Sprintf("%d.db", n))
	s, err := boltstore.Open(path, &boltstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	data := record(b)
	exp := time.Now().Add(24 * time.Hour)
	testkit.TimedInParallel(b, 64, n, func(i int) error {
		return s.Save(context.Background(), storetest.Key(fmt.Sprint(i)), session.Record{Data: data, Expires: exp})
	})
	if err := s.Close(); err != nil {
		b.Fatal(err)
	}
	populated.paths[n] = path
	return path
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{populated.dir, shared.dir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

func storeSizes() []int {
	if testing.Short() {
		return []int{10_000}
	}
	return []int{10_000, 1_000_000}
}

// BenchmarkLoadBySize loads sessions from stores of 10k and 1M sessions,
// 4096 keys spread over each, next to raw bbolt View+Get (and a copy) of the
// same keys in the same file: the floor a B+tree lookup sets at each size.
func BenchmarkLoadBySize(b *testing.B) {
	for _, n := range storeSizes() {
		keys := make([]string, 4096)
		for i := range keys {
			keys[i] = storetest.Key(fmt.Sprint((i * 7919) % n))
		}
		b.Run(fmt.Sprintf("sessions=%d/store", n), func(b *testing.B) {
			s, err := boltstore.Open(populatedPath(b, n), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := s.Load(ctx, keys[i%len(keys)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
		b.Run(fmt.Sprintf("sessions=%d/raw-view-get", n), func(b *testing.B) {
			db := openRaw(b, populatedPath(b, n))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				var out []byte
				err := db.View(func(tx *bbolt.Tx) error {
					out = append([]byte(nil), tx.Bucket([]byte("sessions")).Get([]byte(keys[i%len(keys)]))...)
					return nil
				})
				if err != nil || out == nil {
					b.Fatal("missing", err)
				}
				i++
			}
		})
	}
}

// openRaw opens the database file at path as Open does, for use with bbolt
// alone.
func openRaw(b *testing.B, path string) *bbolt.DB {
	s, err := boltstore.Open(path, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s.DB()
}

// BenchmarkSweep deletes 1,000 expired sessions from stores that also hold
// 10k and 1M live ones: with the expiry index the cost depends on the
// expired count only. Next to it, raw-delete is the floor at each size: one
// bbolt Update that deletes the same number of records, given their keys,
// with no index to walk or keep.
func BenchmarkSweep(b *testing.B) {
	const expired = 1000
	data := record(b)
	for _, n := range storeSizes() {
		b.Run(fmt.Sprintf("expired=%d/live=%d/store", expired, n), func(b *testing.B) {
			clk := testkit.NewClock(time.Now())
			s, err := boltstore.Open(populatedPath(b, n), &boltstore.Options{Now: clk.Now})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				testkit.TimedInParallel(b, 64, expired, func(j int) error {
					return s.Save(ctx, storetest.Key(fmt.Sprint("expired-", i, "-", j)),
						session.Record{Data: data, Expires: clk.Now().Add(-time.Minute)})
				})
				b.StartTimer()
				got, err := s.DeleteExpired(ctx)
				if err != nil || got != expired {
					b.Fatalf("DeleteExpired = %d, %v", got, err)
				}
			}
		})
		b.Run(fmt.Sprintf("expired=%d/live=%d/raw-delete", expired, n), func(b *testing.B) {
			db := openRaw(b, populatedPath(b, n))
			bucket := []byte("sessions")
			keys := make([][]byte, expired)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				err := db.Update(func(tx *bbolt.Tx) error {
					for j := range keys {
						keys[j] = []byte(storetest.Key(fmt.Sprint("raw-expired-", i, "-", j)))
						if err := tx.Bucket(bucket).Put(keys[j], data); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				err = db.Update(func(tx *bbolt.Tx) error {
					for _, k := range keys {
						if err := tx.Bucket(bucket).Delete(k); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// openSizes are the store sizes BenchmarkOpen opens: 100k and 1M sessions,
// 10k with -short.
func openSizes() []int {
	if testing.Short() {
		return []int{10_000}
	}
	return []int{100_000, 1_000_000}
}

// BenchmarkOpen opens stores of 100k and 1M sessions (the file in the page
// cache): Open, which verifies the file and then has bbolt rebuild its
// freelist by walking the file, since the store does not sync it; Check,
// the verification alone; and raw bbolt opens of the same file with the
// freelist unsynced (as the store keeps it) and synced, which is what the
// choice of NoFreelistSync trades against the cost of each commit (see
// # Durability in the package documentation).
func BenchmarkOpen(b *testing.B) {
	for _, n := range openSizes() {
		path := populatedPath(b, n)
		b.Run(fmt.Sprintf("sessions=%d/store", n), func(b *testing.B) {
			for b.Loop() {
				s, err := boltstore.Open(path, nil)
				if err != nil {
					b.Fatal(err)
				}
				s.Close()
			}
		})
		b.Run(fmt.Sprintf("sessions=%d/check", n), func(b *testing.B) {
			for b.Loop() {
				if err := boltstore.Check(path, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
		raw := func(path string, noFreelistSync bool) func(*testing.B) {
			return func(b *testing.B) {
				for b.Loop() {
					db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoFreelistSync: noFreelistSync, FreelistType: bbolt.FreelistMapType})
					if err != nil {
						b.Fatal(err)
					}
					db.Close()
				}
			}
		}
		b.Run(fmt.Sprintf("sessions=%d/raw-unsynced-freelist", n), raw(path, true))
		b.Run(fmt.Sprintf("sessions=%d/raw-synced-freelist", n), raw(syncedFreelistCopy(b, path), false))
	}
}

// syncedFreelistCopy copies the database at path into the test's temp dir
// and has bbolt write its freelist into the copy.
func syncedFreelistCopy(b *testing.B, path string) string {
	src, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	dst := filepath.Join(b.TempDir(), "synced.db")
	if err := os.WriteFile(dst, src, 0o600); err != nil {
		b.Fatal(err)
	}
	db, err := bbolt.Open(dst, 0o600, &bbolt.Options{FreelistType: bbolt.FreelistMapType}) // syncs the freelist
	if err != nil {
		b.Fatal(err)
	}
	if err := db.Close(); err != nil {
		b.Fatal(err)
	}
	return dst
}
