package redisstore_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/redisstore"
	"github.com/sessionkv/session/redisstore/redistest"
	"github.com/sessionkv/session/storetest"
)

// counterApp is a web app whose every request increments a counter in the
// visitor's session. Each request gets a one-second deadline, as a real app
// would set.
func counterApp(t *testing.T, store session.Store) *httptest.Server {
	t.Helper()
	count := newEngine(t, store).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := s.GetInt("n")
		s.Set("n", n+1)
		fmt.Fprint(w, n+1)
	}))
	app := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), time.Second)
		defer cancel()
		count.ServeHTTP(w, r.WithContext(ctx))
	}))
	t.Cleanup(app.Close)
	return app
}

// TestFault_KillAndRestart runs visitors against an app on the store, kills
// Redis with SIGKILL mid-load, then restarts it on the same port: requests
// must fail with errors while it is down (never hang, never panic) and
// succeed again once it is back, with the same client, store and engine.
func TestFault_KillAndRestart(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.NewClient(t, func(o *redis.Options) {
		o.DialTimeout = 500 * time.Millisecond
		o.DialerRetries = 2
		o.MaxRetries = 1
	})
	app := counterApp(t, newStore(t, client, nil))

	const visitors = 4
	const maxRequest = 3 * time.Second // generous bound under -race on a busy machine
	type tally struct{ ok, failed atomic.Int64 }
	var up1, down, up2 tally
	var phase atomic.Pointer[tally]
	phase.Store(&up1)
	var slowest atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range visitors {
		jar, _ := cookiejar.New(nil)
		hc := &http.Client{Jar: jar, Timeout: 2 * maxRequest}
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				cur := phase.Load()
				start := time.Now()
				resp, err := hc.Get(app.URL)
				d := time.Since(start)
				for old := slowest.Load(); int64(d) > old && !slowest.CompareAndSwap(old, int64(d)); old = slowest.Load() {
				}
				if err != nil {
					t.Errorf("request failed at the HTTP level (the app must answer): %v", err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					cur.ok.Add(1)
				} else {
					cur.failed.Add(1)
					time.Sleep(10 * time.Millisecond)
				}
			}
		})
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitFor("requests to succeed", func() bool { return up1.ok.Load() >= 20 })
	srv.Kill()
	phase.Store(&down)
	waitFor("requests to fail while Redis is down", func() bool { return down.failed.Load() >= 10 })
	srv.Restart()
	phase.Store(&up2)
	waitFor("requests to succeed after the restart", func() bool { return up2.ok.Load() >= 20 })
	close(stop)
	wg.Wait()

	t.Logf("before kill %d ok/%d failed; down %d ok/%d failed; after restart %d ok/%d failed; slowest request %v",
		up1.ok.Load(), up1.failed.Load(), down.ok.Load(), down.failed.Load(),
		up2.ok.Load(), up2.failed.Load(), time.Duration(slowest.Load()))
	if d := time.Duration(slowest.Load()); d > maxRequest {
		t.Errorf("slowest request took %v, want under %v", d, maxRequest)
	}
}

// TestEngine_ConcurrentRequestsOnOneSession sends 64 concurrent requests on
// one session through the engine, each setting a key of its own: the
// engine's commit merges each request's changes into the stored record
// through UpdateRecord, so every key must survive.
func TestEngine_ConcurrentRequestsOnOneSession(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.NewClient(t, nil)
	for _, split := range []bool{false, true} {
		t.Run(fmt.Sprintf("split=%v", split), func(t *testing.T) {
			prefix := uniquePrefix()
			// Two stores on one prefix, as two app servers behind a load balancer.
			stores := []*redisstore.Store{
				newStore(t, client, &redisstore.Options{Prefix: prefix}),
				newStore(t, srv.NewClient(t, nil), &redisstore.Options{Prefix: prefix}),
			}
			var handlers []http.Handler
			for _, s := range stores {
				if split {
					redisstore.SetSplitMode(s)
				}
				handlers = append(handlers, newEngine(t, s).Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					s := session.FromContext(r.Context())
					if k := r.URL.Query().Get("set"); k != "" {
						s.Set(k, true)
						return
					}
					fmt.Fprint(w, s.Len())
				})))
			}
			rec := httptest.NewRecorder()
			handlers[0].ServeHTTP(rec, httptest.NewRequest("GET", "/?set=first", nil))
			cookies := rec.Result().Cookies()
			if rec.Code != http.StatusOK || len(cookies) == 0 {
				t.Fatalf("first request: %d, cookies %v", rec.Code, cookies)
			}
			const n = 64
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					req := httptest.NewRequest("GET", fmt.Sprintf("/?set=k%d", i), nil)
					req.AddCookie(cookies[0])
					rec := httptest.NewRecorder()
					handlers[i%len(handlers)].ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						t.Errorf("request %d: %d %s", i, rec.Code, rec.Body)
					}
				})
			}
			wg.Wait()
			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(cookies[0])
			rec = httptest.NewRecorder()
			handlers[1].ServeHTTP(rec, req)
			if got := rec.Body.String(); got != fmt.Sprint(n+1) {
				t.Errorf("the session holds %s keys after %d concurrent requests, want %d", got, n, n+1)
			}
		})
	}
}

// TestFault_ClusterNodeKillAndRestart kills one primary of a Cluster: calls
// on its keys fail within their deadline while the others keep working, and
// after the restart every call works again with the same client and store.
func TestFault_ClusterNodeKillAndRestart(t *testing.T) {
	cluster := redistest.StartCluster(t, 3)
	client := cluster.NewClient(t, func(o *redis.ClusterOptions) {
		o.DialTimeout = 300 * time.Millisecond
		o.DialerRetries = 1
		o.MaxRetries = 1
		o.MaxRedirects = 2
	})
	s := newStore(t, client, nil)
	const n = 60
	// Anonymous records: an owned one also needs the node of its owner's
	// index, so with that node down all of one user's writes fail.
	save := func(c context.Context, i int) error {
		return s.Save(c, storetest.Key(fmt.Sprint("node-", i)), session.Record{Data: []byte("x"), Expires: live()})
	}
	for i := range n {
		if err := save(ctx(t), i); err != nil {
			t.Fatal(err)
		}
	}
	round := func() (failed int, slowest time.Duration) {
		for i := range n {
			c, cancel := context.WithTimeout(ctx(t), 500*time.Millisecond)
			start := time.Now()
			if err := save(c, i); err != nil {
				failed++
			}
			slowest = max(slowest, time.Since(start))
			cancel()
		}
		return failed, slowest
	}
	cluster.Nodes[1].Kill()
	failed, slowest := round()
	if failed == 0 || failed == n {
		t.Errorf("with one of three primaries down, %d of %d saves failed; want some, not all", failed, n)
	}
	if slowest > 2*time.Second {
		t.Errorf("a save took %v with a primary down", slowest)
	}
	cluster.Nodes[1].Restart()
	deadline := time.Now().Add(20 * time.Second)
	for {
		failed, _ := round()
		if failed == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d saves still fail 20s after the primary restarted", failed, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	k := storetest.Key("owned")
	if err := s.Save(ctx(t), k, session.Record{Data: []byte("x"), Expires: live(), UserID: "u"}); err != nil {
		t.Fatalf("owned Save after recovery: %v", err)
	}
	if keys, err := s.UserKeys(ctx(t), "u"); err != nil || len(keys) != 1 || keys[0] != k {
		t.Errorf("UserKeys after recovery = %v, %v", keys, err)
	}
}
