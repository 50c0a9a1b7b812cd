//go:build !nostores

// The nostores tag leaves out the tests that need the module's stores, for
// the fuzzing build of this package (scripts/test.sh).

package session_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/filestore"
	"github.com/sessionkv/session/internal/testkit"
)

// BenchmarkCommit_MergeVsPlainSave compares committing a 10-key session in
// which the request changed one key, by merging into the stored record
// (the engine's commit through the store's atomic UpdateRecord), with a plain
// whole-record save (encode every value, store.Save), on boltstore and
// filestore, durable and not. Each iteration is one round of rounds commits
// of each kind in turn, so load on the machine affects both alike; the
// figures are the mean per commit and the ratio.
func BenchmarkCommit_MergeVsPlainSave(b *testing.B) {
	const rounds = 50
	ctx := context.Background()
	for _, tc := range []struct {
		name string
		open func(b *testing.B) session.Store
	}{
		{"boltstore", func(b *testing.B) session.Store {
			s, err := boltstore.Open(filepath.Join(b.TempDir(), "s.db"), nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
		{"boltstore-nosync", func(b *testing.B) session.Store {
			s, err := boltstore.Open(filepath.Join(b.TempDir(), "s.db"), &boltstore.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
		{"filestore", func(b *testing.B) session.Store {
			s, err := filestore.New(b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
		{"filestore-nosync", func(b *testing.B) session.Store {
			s, err := filestore.New(b.TempDir(), &filestore.Options{NoSync: true})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { s.Close() })
			return s
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			st := tc.open(b)
			opts := session.DefaultOptions()
			opts.SweepInterval = -1
			e, err := session.New(st, opts)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			s, _ := e.Load(ctx, "")
			s.Update(testkit.TenKeys())
			if err := e.Save(ctx, s); err != nil {
				b.Fatal(err)
			}
			id := s.ID()
			values := testkit.TenKeys()
			var merge, plain time.Duration
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				for j := range rounds {
					s, err := e.Load(ctx, id)
					if err != nil {
						b.Fatal(err)
					}
					s.Set("counter", i*rounds+j)
					if err := e.Save(ctx, s); err != nil {
						b.Fatal(err)
					}
				}
				merge += time.Since(start)
				start = time.Now()
				for j := range rounds {
					// What the engine would do without merging: load the
					// session, then write every value back.
					if _, err := e.Load(ctx, id); err != nil {
						b.Fatal(err)
					}
					values["counter"] = i*rounds + j
					data, err := session.MsgpackCodec{}.Encode([]byte{1, 0}, values)
					if err != nil {
						b.Fatal(err)
					}
					if err := st.Save(ctx, session.StoreKey(id+"-plain"), session.Record{Data: data, Expires: time.Now().Add(time.Hour)}); err != nil {
						b.Fatal(err)
					}
				}
				plain += time.Since(start)
			}
			n := float64(b.N * rounds)
			b.ReportMetric(float64(merge.Nanoseconds())/n, "merge-ns/commit")
			b.ReportMetric(float64(plain.Nanoseconds())/n, "plain-ns/commit")
			b.ReportMetric(float64(merge)/float64(plain), "merge/plain")
			b.ReportMetric(0, "ns/op")
		})
	}
}
