package session_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/memstore"
)

// counterHandler is the benchmark's request: read an int, write it back.
var counterHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	s := session.FromContext(r.Context())
	n, _ := s.GetInt("counter")
	s.Set("counter", n+1)
	w.WriteHeader(http.StatusNoContent)
})

// BenchmarkMiddleware_RequestCycle is one request through the middleware on
// memstore: load a 10-key session by cookie, read an int, write it back,
// commit. The Floor case is the same harness with no session, to show what
// is harness and what is session.
func BenchmarkMiddleware_RequestCycle(b *testing.B) {
	b.Run("Floor", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: "x"})
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(discardWriter{h: http.Header{}}, req)
		}
	})
	b.Run("memstore", func(b *testing.B) {
		engine, err := session.New(memstore.New(), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer engine.Close()
		s, _ := engine.Load(context.Background(), "")
		s.Update(testkit.TenKeys())
		if err := engine.Save(context.Background(), s); err != nil {
			b.Fatal(err)
		}
		h := engine.Middleware(counterHandler)
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: s.ID()})
		b.ReportAllocs()
		for b.Loop() {
			w := discardWriter{h: http.Header{}}
			h.ServeHTTP(w, req)
		}
		b.StopTimer()
		again, _ := engine.Load(context.Background(), s.ID())
		if n, _ := again.GetInt("counter"); n < 17+b.N {
			b.Fatalf("counter = %d after %d requests", n, b.N)
		}
	})
}

// discardWriter is a minimal ResponseWriter, so the benchmark measures the
// session rather than a recorder.
type discardWriter struct{ h http.Header }

func (w discardWriter) Header() http.Header         { return w.h }
func (w discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w discardWriter) WriteHeader(int)             {}
