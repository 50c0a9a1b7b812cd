package redisstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/redisstore"
	"github.com/sessionkv/session/redisstore/redistest"
	"github.com/sessionkv/session/storetest"
)

// benchRecord is testkit.TenKeys encoded as the engine stores it (about
// 350 bytes).
func benchRecord(tb testing.TB) []byte {
	b, err := session.MsgpackCodec{}.Encode([]byte{1, 0}, testkit.TenKeys())
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// benchStores returns a store on a fresh server in each mode worth
// comparing: single-slot (standalone), and split (the Cluster protocol, run
// here on the same standalone server so that only the protocol differs).
func benchStores(b *testing.B) map[string]*redisstore.Store {
	srv := redistest.Start(b)
	client := srv.NewClient(b, func(o *redis.Options) { o.PoolSize = 128 })
	single := newStore(b, client, nil)
	split := newStore(b, client, nil)
	redisstore.SetSplitMode(split)
	return map[string]*redisstore.Store{"single-slot": single, "split": split}
}

// BenchmarkLoad reads one owned record (Load is the same in both modes).
func BenchmarkLoad(b *testing.B) {
	s := benchStores(b)["single-slot"]
	k := storetest.Key("load")
	if err := s.Save(context.Background(), k, session.Record{Data: benchRecord(b), Expires: live(), UserID: "8412"}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Load(context.Background(), k); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSave(b *testing.B) {
	data := benchRecord(b)
	stores := benchStores(b)
	for _, mode := range []string{"single-slot", "split"} {
		for _, uid := range []string{"", "8412"} {
			s := stores[mode]
			b.Run(fmt.Sprintf("%s/owner=%t", mode, uid != ""), func(b *testing.B) {
				b.ReportAllocs()
				i := 0
				for b.Loop() {
					i++
					rec := session.Record{Data: data, Expires: live(), UserID: uid}
					if err := s.Save(context.Background(), storetest.Key(fmt.Sprint(i%1000)), rec); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkUpdate(b *testing.B) {
	data := benchRecord(b)
	stores := benchStores(b)
	for _, mode := range []string{"single-slot", "split"} {
		for _, uid := range []string{"", "8412"} {
			s := stores[mode]
			k := storetest.Key("update-" + uid)
			if err := s.Save(context.Background(), k, session.Record{Data: data, Expires: live(), UserID: uid}); err != nil {
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/owner=%t", mode, uid != ""), func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					err := s.UpdateRecord(context.Background(), k, func(cur session.Record, found bool) (session.Record, error) {
						if !found {
							return session.Record{}, session.ErrSessionInterrupted
						}
						return session.Record{Data: cur.Data, Expires: live(), UserID: cur.UserID}, nil
					})
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkRequestCycle measures one request through the engine's
// middleware on the store: load the session, change a key, commit. Each
// client has its own session; clients=64 runs 64 of them at once. The
// figures are per request.
func BenchmarkRequestCycle(b *testing.B) {
	stores := benchStores(b)
	for _, mode := range []string{"single-slot", "split"} {
		for _, clients := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/clients=%d", mode, clients), func(b *testing.B) {
				benchRequests(b, stores[mode], clients)
			})
		}
	}
}

func benchRequests(b *testing.B, store session.Store, clients int) {
	h := newEngine(b, store).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := s.GetInt("n")
		s.Set("n", n+1)
		if n == 0 {
			s.SetUserID("8412")
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	// One session per client, created before the clock starts.
	cookies := make([]*http.Cookie, clients)
	for i := range cookies {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != http.StatusNoContent || len(rec.Result().Cookies()) == 0 {
			b.Fatalf("first request: %d, cookies %v", rec.Code, rec.Result().Cookies())
		}
		cookies[i] = rec.Result().Cookies()[0]
	}
	b.ReportAllocs()
	b.ResetTimer()
	var next atomic.Int64
	var wg sync.WaitGroup
	for c := range clients {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				req := httptest.NewRequest("GET", "/", nil)
				req.AddCookie(cookies[c])
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != http.StatusNoContent {
					b.Errorf("status %d: %s", rec.Code, rec.Body)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "req/s")
}
