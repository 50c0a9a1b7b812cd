//go:build !nostores

// The nostores tag leaves out the tests that need the module's stores, for
// the fuzzing build of this package (scripts/test.sh).

package session_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/filestore"
	"github.com/sessionkv/session/memstore"
	"github.com/sessionkv/session/sqlstore"
)

// stores opens each store of this module for one test.
func stores(t *testing.T) map[string]session.Store {
	t.Helper()
	bolt, err := boltstore.Open(filepath.Join(t.TempDir(), "sessions.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filestore.New(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	sqlite, err := sqlstore.Open("sqlite:"+filepath.Join(t.TempDir(), "db.sqlite3"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { bolt.Close(); files.Close(); sqlite.Close() })
	return map[string]session.Store{"memstore": memstore.New(), "boltstore": bolt, "filestore": files, "sqlstore": sqlite}
}

// server serves the engine's middleware around a tiny API on a loopback
// port: /set?k=&v= sets a key, /incr?k= increments an int, /get?k= reads,
// /login?uid= sets the owner.
func server(t *testing.T, e *session.Engine) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set(r.FormValue("k"), r.FormValue("v"))
	})
	mux.HandleFunc("/incr", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := s.GetInt(r.FormValue("k"))
		s.Set(r.FormValue("k"), n+1)
	})
	mux.HandleFunc("/get", func(w http.ResponseWriter, r *http.Request) {
		v, _ := session.FromContext(r.Context()).Get(r.FormValue("k"))
		fmt.Fprint(w, v)
	})
	mux.HandleFunc("/login", func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).SetUserID(r.FormValue("uid"))
	})
	srv := httptest.NewServer(e.Middleware(mux))
	t.Cleanup(srv.Close)
	return srv
}

// client is one browser: a cookie jar shared by its concurrent requests.
func client(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 30 * time.Second}
}

func get(t *testing.T, c *http.Client, u string) (int, string) {
	resp, err := c.Get(u)
	if err != nil {
		t.Error(err)
		return 0, ""
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func newEngine(t *testing.T, st session.Store) *session.Engine {
	opts := session.DefaultOptions()
	opts.SweepInterval = -1
	e, err := session.New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestHTTP_ConcurrentRequestsDoNotLoseUpdates sends 64 concurrent requests
// on one session, each setting its own key, and checks all 64 keys persist.
func TestHTTP_ConcurrentRequestsDoNotLoseUpdates(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			srv := server(t, newEngine(t, st))
			c := client(t)
			get(t, c, srv.URL+"/set?k=start&v=1") // the session exists
			var wg sync.WaitGroup
			for i := range 64 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if code, _ := get(t, c, fmt.Sprintf("%s/set?k=key%d&v=%d", srv.URL, i, i)); code != 200 {
						t.Errorf("request %d: status %d", i, code)
					}
				}()
			}
			wg.Wait()
			for i := range 64 {
				if _, body := get(t, c, fmt.Sprintf("%s/get?k=key%d", srv.URL, i)); body != strconv.Itoa(i) {
					t.Errorf("key%d = %q after 64 concurrent requests: an update was lost", i, body)
				}
			}
		})
	}
}

// TestHTTP_ConcurrentCountersAreExact has 8 goroutines increment their own
// counter in one session 100 times each.
func TestHTTP_ConcurrentCountersAreExact(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			srv := server(t, newEngine(t, st))
			c := client(t)
			get(t, c, srv.URL+"/set?k=start&v=1")
			var wg sync.WaitGroup
			for g := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range 100 {
						get(t, c, fmt.Sprintf("%s/incr?k=c%d", srv.URL, g))
					}
				}()
			}
			wg.Wait()
			for g := range 8 {
				if _, body := get(t, c, fmt.Sprintf("%s/get?k=c%d", srv.URL, g)); body != "100" {
					t.Errorf("counter c%d = %s, want 100", g, body)
				}
			}
		})
	}
}

// TestHTTP_RequestOutlivingALogoutGets400 starts a slow request, flushes
// the session from another request, and lets the slow one commit.
func TestHTTP_RequestOutlivingALogoutGets400(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			e := newEngine(t, st)
			started, release := make(chan struct{}), make(chan struct{})
			mux := http.NewServeMux()
			mux.HandleFunc("/set", func(w http.ResponseWriter, r *http.Request) {
				session.FromContext(r.Context()).Set("k", "v")
			})
			mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
				s := session.FromContext(r.Context())
				s.Get("k")
				close(started)
				<-release
				s.Set("late", true)
			})
			mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
				_ = session.FromContext(r.Context()).Flush(r.Context())
			})
			srv := httptest.NewServer(e.Middleware(mux))
			defer srv.Close()
			c := client(t)
			get(t, c, srv.URL+"/set")
			u, _ := url.Parse(srv.URL)
			id := c.Jar.Cookies(u)[0].Value
			slow := make(chan *http.Response, 1)
			go func() {
				resp, err := c.Get(srv.URL + "/slow")
				if err != nil {
					t.Error(err)
				}
				slow <- resp
			}()
			<-started
			get(t, c, srv.URL+"/logout")
			close(release)
			resp := <-slow
			if resp == nil {
				return
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Set-Cookie") != "" {
				t.Errorf("slow request after logout: status %d, Set-Cookie %q; want 400 and none",
					resp.StatusCode, resp.Header.Get("Set-Cookie"))
			}
			if _, err := st.Load(context.Background(), session.StoreKey(id)); err == nil {
				t.Error("the logged-out session was brought back")
			}
		})
	}
}

// TestEngine_DeleteUserRevokesExactlyOneUsersSessions logs 1,000 users in
// with 5 sessions each and revokes one of them.
func TestEngine_DeleteUserRevokesExactlyOneUsersSessions(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			if name == "filestore" && testing.Short() {
				t.Skip("5,000 durable file writes skipped with -short")
			}
			e := newEngine(t, st)
			ctx := context.Background()
			const users, each = 1000, 5
			var wg sync.WaitGroup
			errs := make(chan error, users)
			for u := range users {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for range each {
						s, _ := e.Load(ctx, "")
						s.SetUserID(fmt.Sprint("user-", u))
						s.Set("n", u)
						if err := e.Save(ctx, s); err != nil {
							errs <- err
							return
						}
					}
				}()
				if u%64 == 63 {
					wg.Wait() // bounded concurrency
				}
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				t.Fatal(err)
			}
			got, err := e.UserSessions(ctx, "user-417")
			if err != nil || len(got) != each {
				t.Fatalf("UserSessions = %d, %v; want %d", len(got), err, each)
			}
			n, err := e.DeleteUser(ctx, "user-417")
			if err != nil || n != each {
				t.Fatalf("DeleteUser = %d, %v; want %d", n, err, each)
			}
			for _, s := range got {
				if _, err := st.Load(ctx, s.Key); err == nil {
					t.Errorf("session %s of the revoked user survives", s.Key[:8])
				}
			}
			for _, other := range []string{"user-416", "user-418", "user-0", "user-999"} {
				if got, _ := e.UserSessions(ctx, other); len(got) != each {
					t.Errorf("%s has %d sessions after revoking user-417", other, len(got))
				}
			}
		})
	}
}
