package filestore

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/storetest"
)

// Each benchmark runs the store next to a raw floor measured in the same
// run: the least the operating system lets a file-per-session store do.
//
//	go test -run='^$' -bench=. -benchtime=2000x ./filestore/
//
// BenchmarkLoadScale's 200k case is skipped with -short. The records belong
// to a user, as a logged-in session's do, so Save and Load handle the user
// ID and Save keeps the user index.

// benchUserID owns the benchmarks' records, as the session's
// _auth_user_id says.
const benchUserID = "8412"

// benchData is testkit.TenKeys encoded with msgpack, a realistic session
// record of about 350 bytes.
func benchData(tb testing.TB) []byte {
	tb.Helper()
	data, err := session.MsgpackCodec{}.Encode(nil, testkit.TenKeys())
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func benchStore(b *testing.B, noSync bool) *Store {
	b.Helper()
	s, _ := newTestStore(b, func(o *Options) { o.NoSync = noSync })
	return s
}

func decodeOrFail(b *testing.B, data []byte) {
	if _, err := (session.MsgpackCodec{}).Decode(data); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkLoad compares Load with os.ReadFile of the bare encoded record,
// both followed by the msgpack decode the engine does.
func BenchmarkLoad(b *testing.B) {
	data := benchData(b)
	b.Logf("record of %d bytes", len(data))
	s := benchStore(b, true)
	ctx := b.Context()
	k := storetest.Key("bench-load")
	if err := s.Save(ctx, k, session.Record{Data: data, Expires: time.Now().Add(time.Hour), UserID: benchUserID}); err != nil {
		b.Fatal(err)
	}
	raw := filepath.Join(b.TempDir(), k)
	if err := os.WriteFile(raw, data, 0o600); err != nil {
		b.Fatal(err)
	}
	b.Run("filestore", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			rec, err := s.Load(ctx, k)
			if err != nil {
				b.Fatal(err)
			}
			decodeOrFail(b, rec.Data)
		}
	})
	b.Run("raw-readfile", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			d, err := os.ReadFile(raw)
			if err != nil {
				b.Fatal(err)
			}
			decodeOrFail(b, d)
		}
	})
	b.Run("filestore-nodecode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := s.Load(ctx, k); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-readfile-nodecode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := os.ReadFile(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// rawSave is the floor of a crash-safe replace: temporary file, write,
// optional fsync, rename, optional fsync of the directory.
func rawSave(b *testing.B, dir, path string, data []byte, syncFile, syncDirectory bool) {
	f, err := os.CreateTemp(dir, ".raw-")
	if err != nil {
		b.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		b.Fatal(err)
	}
	if syncFile {
		if err := f.Sync(); err != nil {
			b.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		b.Fatal(err)
	}
	if syncDirectory {
		if err := syncDir(dir); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSave compares Save, durable and not, with the raw replace. The
// durable store also fsyncs the directory, so it is shown next to both raw
// floors, with and without that second fsync. The session keeps its owner,
// as on most requests; the owner-change cases give it another owner on
// every save, which moves its marker in the user index (one more file
// created and, when durable, one more directory fsync).
func BenchmarkSave(b *testing.B) {
	data := benchData(b)
	k := storetest.Key("bench-save")
	rec := session.Record{Data: data, Expires: time.Now().Add(time.Hour), UserID: benchUserID}
	store := func(noSync bool) func(b *testing.B) {
		return func(b *testing.B) {
			s := benchStore(b, noSync)
			ctx := b.Context()
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Save(ctx, k, rec); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	raw := func(syncFile, syncDirectory bool) func(b *testing.B) {
		return func(b *testing.B) {
			dir := b.TempDir()
			path := filepath.Join(dir, k)
			b.ReportAllocs()
			for b.Loop() {
				rawSave(b, dir, path, data, syncFile, syncDirectory)
			}
		}
	}
	ownerChange := func(noSync bool) func(b *testing.B) {
		return func(b *testing.B) {
			s := benchStore(b, noSync)
			ctx := b.Context()
			owners := [2]session.Record{rec, rec}
			owners[1].UserID = "2913"
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				if err := s.Save(ctx, k, owners[i%2]); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.Run("durable", store(false))
	b.Run("raw-fsync", raw(true, false))
	b.Run("raw-fsync+dirsync", raw(true, true))
	b.Run("nosync", store(true))
	b.Run("raw-nosync", raw(false, false))
	b.Run("durable-owner-change", ownerChange(false))
	b.Run("nosync-owner-change", ownerChange(true))
}

// BenchmarkUserKeys lists the 5 sessions of one user in a store of 100 and
// of 1,000 users with 5 sessions each: the index makes the cost that of the
// user's sessions, whatever the size of the store. The files are written
// straight in the on-disk format.
func BenchmarkUserKeys(b *testing.B) {
	const per = 5
	data := benchData(b)
	for _, users := range []int{100, 1000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			s := benchStore(b, true)
			ctx := b.Context()
			uids := make([]string, users)
			for u := range uids {
				uids[u] = fmt.Sprint("user-", u)
			}
			populateUsers(b, s, uids, per, data)
			uid := uids[users/2]
			b.ReportAllocs()
			for b.Loop() {
				keys, err := s.UserKeys(ctx, uid)
				if err != nil || len(keys) != per {
					b.Fatalf("UserKeys = %d keys, %v", len(keys), err)
				}
			}
		})
	}
}

// userSessionKey is the key of the i-th session populateUsers writes for
// uid.
func userSessionKey(uid string, i int) string { return storetest.Key(fmt.Sprint(uid, "-", i)) }

// populateUsers writes, straight in the on-disk format, per live sessions
// holding data for each of users, with their markers, as Save would.
func populateUsers(tb testing.TB, s *Store, users []string, per int, data []byte) {
	tb.Helper()
	expires := time.Now().Add(24 * time.Hour)
	err := testkit.InParallel(16, len(users), func(u int) error {
		uid := users[u]
		if err := os.MkdirAll(s.userDir(uid), dirPerm); err != nil {
			return err
		}
		file := encodeUserFile(expires, uid, data)
		for i := range per {
			k := userSessionKey(uid, i)
			sh := s.shardOf(k)
			err := os.MkdirAll(sh.dir, dirPerm)
			if err == nil {
				err = os.WriteFile(sh.path(k), file, filePerm)
			}
			if err == nil {
				err = os.WriteFile(filepath.Join(s.userDir(uid), k), nil, filePerm)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkSaveParallel runs durable writers, each on its own session, from
// 1, 8 and 32 goroutines, next to the raw durable replace from as many. The
// ns/op is wall time per save: it falls as writers are added while the
// disk keeps up.
func BenchmarkSaveParallel(b *testing.B) {
	data := benchData(b)
	rec := session.Record{Data: data, Expires: time.Now().Add(time.Hour)}
	for _, writers := range []int{1, 8, 32} {
		b.Run(fmt.Sprintf("durable/writers=%d", writers), func(b *testing.B) {
			s := benchStore(b, false)
			ctx := b.Context()
			runWriters(b, writers, func(id int64, next func() bool) {
				k := storetest.Key(fmt.Sprint("writer-", id))
				for next() {
					if err := s.Save(ctx, k, rec); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
		b.Run(fmt.Sprintf("raw-fsync+dirsync/writers=%d", writers), func(b *testing.B) {
			dir := b.TempDir()
			runWriters(b, writers, func(id int64, next func() bool) {
				path := filepath.Join(dir, fmt.Sprint("writer-", id))
				for next() {
					rawSave(b, dir, path, data, true, true)
				}
			})
		})
	}
}

// runWriters runs writer in one goroutine per writer, each with its own id
// from 1 and calling next until it returns false: b.Loop for a single
// writer, else b.RunParallel's iterator, whose goroutines come in
// multiples of GOMAXPROCS (writers rounded down, at least one multiple).
func runWriters(b *testing.B, writers int, writer func(id int64, next func() bool)) {
	var ids atomic.Int64
	b.ReportAllocs()
	if writers == 1 {
		writer(ids.Add(1), b.Loop)
		return
	}
	b.SetParallelism(max(1, writers/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) { writer(ids.Add(1), pb.Next) })
}

// BenchmarkLoadScale loads random sessions from a store of 10,000 and of
// 200,000 files: sharding keeps directories small, so the cost per load
// should barely move. The files are written straight in the on-disk format,
// in parallel, to keep the setup short.
func BenchmarkLoadScale(b *testing.B) {
	data := benchData(b)
	for _, n := range []int{10_000, 200_000} {
		b.Run(fmt.Sprintf("files=%d", n), func(b *testing.B) {
			if n > 10_000 && testing.Short() {
				b.Skip("skipped with -short")
			}
			s := benchStore(b, true)
			ctx := b.Context()
			keys := populate(b, s, n, data)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				// A stride coprime with n visits the keys in a scattered order.
				i = (i + 7919) % n
				if _, err := s.Load(ctx, keys[i]); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// populate writes n live session files into s directly and returns their
// keys.
func populate(b *testing.B, s *Store, n int, data []byte) []string {
	b.Helper()
	start := time.Now()
	file := encodeFile(time.Now().Add(24*time.Hour), data)
	keys := make([]string, n)
	for i := range keys {
		keys[i] = storetest.Key(fmt.Sprint("scale-", i))
	}
	for i := range s.shards {
		if err := os.Mkdir(s.shards[i].dir, dirPerm); err != nil {
			b.Fatal(err)
		}
	}
	// File creation waits on the disk more than on the CPU: many writers
	// overlap that waiting.
	err := testkit.InParallel(64, n, func(i int) error {
		k := keys[i]
		return os.WriteFile(s.shardOf(k).path(k), file, filePerm)
	})
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("wrote %d files in %v", n, time.Since(start).Round(time.Millisecond))
	return keys
}
