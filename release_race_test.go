package session

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/sessionkv/session/internal/testkit"
)

// Goroutines of one request keep using the session while the middleware
// commits and releases it, and after; other visitors' requests reuse the
// pooled buffers meanwhile. Nobody may see another visitor's value.
func TestRelease_GoroutinesAcrossRelease(t *testing.T) {
	env := newEnv(t, nil)
	ids := make([]string, 8)
	for i := range ids {
		m := testkit.SizedSession(40)
		m["owner"] = fmt.Sprintf("visitor-%d", i)
		ids[i] = env.saved(t, m)
	}
	var all sync.WaitGroup
	for round := 0; round < 20; round++ {
		for i, id := range ids {
			all.Add(1)
			go func(i int, id string) {
				defer all.Done()
				var bg sync.WaitGroup
				h := env.engine.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					s := FromContext(r.Context())
					for g := 0; g < 3; g++ {
						bg.Add(1)
						go func(g int) {
							defer bg.Done()
							for k := 0; k < 50; k++ {
								if v, _ := s.GetString("owner"); v != fmt.Sprintf("visitor-%d", i) {
									t.Errorf("visitor %d reads owner %q", i, v)
									return
								}
								_, _ = s.GetInt64("counter")
								s.Set(fmt.Sprintf("g%d", g), int64(k))
								_ = s.Keys()
								if k%10 == 0 {
									_ = s.Values()
								}
							}
						}(g)
					}
					_, _ = w.Write([]byte("ok"))
				}))
				req := httptest.NewRequest("GET", "/", nil)
				req.AddCookie(&http.Cookie{Name: "sessionid", Value: id})
				h.ServeHTTP(httptest.NewRecorder(), req)
				bg.Wait()
			}(i, id)
		}
	}
	all.Wait()
	for i, id := range ids {
		s := env.load(t, id)
		if v, _ := s.GetString("owner"); v != fmt.Sprintf("visitor-%d", i) {
			t.Errorf("stored owner of %d = %q", i, v)
		}
		if s.Len() < 41 {
			t.Errorf("visitor %d: %d keys", i, s.Len())
		}
	}
	_ = context.Background
}
