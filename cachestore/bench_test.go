package cachestore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/filestore"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/memstore"
	"github.com/sessionkv/session/storetest"
)

// benchRecord is testkit.TenKeys encoded as the engine stores it (about 350
// bytes).
func benchRecord(tb testing.TB) session.Record {
	data, err := session.MsgpackCodec{}.Encode([]byte{1, 0}, testkit.TenKeys())
	if err != nil {
		tb.Fatal(err)
	}
	return session.Record{Data: data, Expires: time.Now().Add(time.Hour), UserID: "8412"}
}

// benchStore is one store of the comparisons. The backing stores skip
// fsync, so that the figures show what the cache costs and saves rather
// than the disk.
type benchStore struct {
	name string
	open func(b *testing.B) session.Store
}

func cached(backing session.Store, b *testing.B) session.Store {
	return newCache(b, backing, nil)
}

var benchStores = []benchStore{
	{"boltstore", func(b *testing.B) session.Store { return openBolt(b, &boltstore.Options{NoSync: true}) }},
	{"cachestore/boltstore", func(b *testing.B) session.Store {
		return cached(openBolt(b, &boltstore.Options{NoSync: true}), b)
	}},
	{"filestore", func(b *testing.B) session.Store { return openFiles(b, "", &filestore.Options{NoSync: true}) }},
	{"cachestore/filestore", func(b *testing.B) session.Store {
		return cached(openFiles(b, "", &filestore.Options{NoSync: true}), b)
	}},
}

const benchKeys = 1000

func fill(b *testing.B, s session.Store, rec session.Record) []string {
	keys := make([]string, benchKeys)
	for i := range keys {
		keys[i] = storetest.Key(fmt.Sprint("bench-", i))
		if err := s.Save(context.Background(), keys[i], rec); err != nil {
			b.Fatal(err)
		}
	}
	return keys
}

// BenchmarkLoad loads one of 1000 sessions: from the backing store, or from
// the cache in front of it (every Load a hit once the cache is warm).
func BenchmarkLoad(b *testing.B) {
	rec := benchRecord(b)
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			s := bs.open(b)
			keys := fill(b, s, rec)
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
	}
}

// BenchmarkLoadParallel is BenchmarkLoad from GOMAXPROCS goroutines.
func BenchmarkLoadParallel(b *testing.B) {
	rec := benchRecord(b)
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			s := bs.open(b)
			keys := fill(b, s, rec)
			ctx := context.Background()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if _, err := s.Load(ctx, keys[i%len(keys)]); err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
		})
	}
}

// BenchmarkSave saves one of 1000 sessions: to the backing store, or
// through the cache, which writes the backing store, then itself.
func BenchmarkSave(b *testing.B) {
	rec := benchRecord(b)
	for _, bs := range benchStores {
		b.Run(bs.name, func(b *testing.B) {
			s := bs.open(b)
			keys := fill(b, s, rec)
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := s.Save(ctx, keys[i%len(keys)], rec); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}

// counterHandler is the benchmark's request: read an int, write it back.
var counterHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	n, _ := s.GetInt("counter")
	s.Set("counter", n+1)
	w.WriteHeader(http.StatusNoContent)
})

// readHandler only reads the session, as most requests do: nothing is
// committed.
var readHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	if _, ok := s.GetInt("counter"); !ok {
		http.Error(w, "no counter", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
})

// BenchmarkRequestCycle is one request through the engine's middleware:
// load a 10-key session by cookie, read an int and, in the ReadWrite
// cases, write it back and commit. memstore is the floor; bolt is shown
// with and without fsync.
func BenchmarkRequestCycle(b *testing.B) {
	stores := []benchStore{
		{"memstore", func(*testing.B) session.Store { return memstore.New() }},
		{"boltstore", func(b *testing.B) session.Store { return openBolt(b, &boltstore.Options{NoSync: true}) }},
		{"cachestore/boltstore", func(b *testing.B) session.Store {
			return cached(openBolt(b, &boltstore.Options{NoSync: true}), b)
		}},
		{"boltstore-fsync", func(b *testing.B) session.Store { return openBolt(b, nil) }},
		{"cachestore/boltstore-fsync", func(b *testing.B) session.Store { return cached(openBolt(b, nil), b) }},
	}
	for _, mode := range []struct {
		name    string
		handler http.Handler
		writes  bool
	}{{"ReadWrite", counterHandler, true}, {"ReadOnly", readHandler, false}} {
		for _, st := range stores {
			b.Run(mode.name+"/"+st.name, func(b *testing.B) {
				engine, err := session.New(st.open(b), &session.Options{SweepInterval: -1})
				if err != nil {
					b.Fatal(err)
				}
				defer engine.Close()
				ctx := context.Background()
				s, _ := engine.Load(ctx, "")
				s.Update(testkit.TenKeys())
				if err := engine.Save(ctx, s); err != nil {
					b.Fatal(err)
				}
				h := engine.Middleware(mode.handler)
				req := httptest.NewRequest("GET", "/", nil)
				req.AddCookie(&http.Cookie{Name: "sessionid", Value: s.ID()})
				b.ReportAllocs()
				for b.Loop() {
					h.ServeHTTP(discardWriter{h: http.Header{}}, req)
				}
				b.StopTimer()
				again, _ := engine.Load(ctx, s.ID())
				n, _ := again.GetInt("counter")
				if mode.writes && n < 17+b.N || !mode.writes && n != 17 {
					b.Fatalf("counter = %d after %d requests", n, b.N)
				}
			})
		}
	}
}

// discardWriter is a minimal ResponseWriter, so the benchmark measures the
// session rather than a recorder.
type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w discardWriter) WriteHeader(int)             {}
