package session_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/memstore"
)

// BenchmarkRequestCost is one request through the middleware whose handler
// reads one int and writes it back, on memstore, by session size, with a
// fresh httptest request and recorder per iteration as a server pays for
// its own. Floor is the same harness with no session.
func BenchmarkRequestCost(b *testing.B) {
	b.Run("Floor", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
		b.ReportAllocs()
		for b.Loop() {
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(&http.Cookie{Name: "sessionid", Value: "x"})
			h.ServeHTTP(httptest.NewRecorder(), req)
		}
	})
	for _, n := range []int{1, 10, 100, 1000} {
		b.Run(fmt.Sprintf("keys=%d", n), func(b *testing.B) {
			benchCost(b, n, counterHandler)
		})
	}
	readOnly := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := session.FromContext(r.Context()).GetInt("counter")
		if n < 17 {
			panic("counter lost")
		}
		w.WriteHeader(http.StatusNoContent)
	})
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("read-only/keys=%d", n), func(b *testing.B) {
			benchCost(b, n, readOnly)
		})
	}
}

func benchCost(b *testing.B, n int, h http.Handler) {
	ctx := context.Background()
	engine, err := session.New(memstore.New(), nil)
	if err != nil {
		b.Fatal(err)
	}
	defer engine.Close()
	s, _ := engine.Load(ctx, "")
	s.Update(testkit.SizedSession(n))
	if err := engine.Save(ctx, s); err != nil {
		b.Fatal(err)
	}
	mw := engine.Middleware(h)
	cookie := &http.Cookie{Name: "sessionid", Value: s.ID()}
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(cookie)
		w := httptest.NewRecorder()
		mw.ServeHTTP(w, req)
		if w.Code != http.StatusNoContent {
			b.Fatalf("status %d", w.Code)
		}
	}
}

// BenchmarkRequestCost_Growth runs the 10-key and 1,000-key request cycles
// of BenchmarkRequestCost in alternating rounds, so that load on the
// machine affects both alike, and reports their time and allocations and
// the ratios. Beside them it measures the store's own part, which grows
// with the record by nature: memstore's LoadAppend and UpdateRecord of the same
// records with no engine, as the engine calls them (each copies the whole
// record: into a reused buffer, and over the stored one). "growth" is the
// 1,000-key cost over the 10-key cost; "engine-growth" is the same with
// the store's part taken out of both.
func BenchmarkRequestCost_Growth(b *testing.B) {
	const rounds = 20
	ctx := context.Background()
	type sized struct {
		engine *session.Engine
		store  *memstore.Store
		cookie *http.Cookie
		key    string
		t, st  time.Duration
		allocs uint64
	}
	sizes := []*sized{{}, {}}
	for i, n := range []int{10, 1000} {
		st := memstore.New()
		e, err := session.New(st, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer e.Close()
		s, _ := e.Load(ctx, "")
		s.Update(testkit.SizedSession(n))
		if err := e.Save(ctx, s); err != nil {
			b.Fatal(err)
		}
		sizes[i] = &sized{engine: e, store: st, key: session.StoreKey(s.ID()),
			cookie: &http.Cookie{Name: "sessionid", Value: s.ID()}}
	}
	var ms runtime.MemStats
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		for _, z := range sizes {
			h := z.engine.Middleware(counterHandler)
			runtime.ReadMemStats(&ms)
			before := ms.Mallocs
			start := time.Now()
			for range rounds {
				req := httptest.NewRequest("GET", "/", nil)
				req.AddCookie(z.cookie)
				h.ServeHTTP(httptest.NewRecorder(), req)
			}
			z.t += time.Since(start)
			runtime.ReadMemStats(&ms)
			z.allocs += ms.Mallocs - before
			start = time.Now()
			for range rounds {
				rec, err := z.store.LoadAppend(ctx, z.key, buf[:0])
				if err != nil {
					b.Fatal(err)
				}
				buf = rec.Data
				err = z.store.UpdateRecord(ctx, z.key, func(cur session.Record, _ bool) (session.Record, error) {
					return cur, nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			z.st += time.Since(start)
		}
	}
	n := float64(b.N * rounds)
	small, large := sizes[0], sizes[1]
	b.ReportMetric(float64(small.t.Nanoseconds())/n, "ns/req-10")
	b.ReportMetric(float64(large.t.Nanoseconds())/n, "ns/req-1000")
	b.ReportMetric(float64(small.allocs)/n, "allocs/req-10")
	b.ReportMetric(float64(large.allocs)/n, "allocs/req-1000")
	b.ReportMetric(float64(large.st.Nanoseconds())/n, "store-ns/req-1000")
	b.ReportMetric(float64(large.t)/float64(small.t), "growth")
	b.ReportMetric(float64(large.allocs)/float64(small.allocs), "alloc-growth")
	b.ReportMetric(float64(large.t-large.st)/float64(small.t-small.st), "engine-growth")
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(0, "allocs/op")
	b.ReportMetric(0, "B/op")
}
