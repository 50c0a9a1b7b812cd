package session

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// do sends one request through the engine's middleware around h, with the
// given session cookie value ("" for none).
func (env *testEnv) do(t testing.TB, cookie string, h http.HandlerFunc) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", "/", nil)
	if cookie != "" {
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: cookie})
	}
	rec := httptest.NewRecorder()
	env.engine.Middleware(h).ServeHTTP(rec, req)
	return rec.Result()
}

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "sessionid" {
			return c
		}
	}
	return nil
}

func setName(w http.ResponseWriter, r *http.Request) {
	FromContext(r.Context()).Set("name", "Sonam")
}

func TestMiddleware_SetsCookieWithDjangoDefaults(t *testing.T) {
	env := newEnv(t, nil)
	resp := env.do(t, "", setName)
	c := sessionCookie(resp)
	if c == nil {
		t.Fatalf("no session cookie; headers %v", resp.Header)
	}
	raw := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"Path=/", "Max-Age=1209600", "HttpOnly", "SameSite=Lax", "Expires="} {
		if !strings.Contains(raw, want) {
			t.Errorf("Set-Cookie %q lacks %q", raw, want)
		}
	}
	if strings.Contains(raw, "Secure") || strings.Contains(raw, "Domain") {
		t.Errorf("Set-Cookie %q has Secure or Domain by default", raw)
	}
	if !ValidID(c.Value) {
		t.Errorf("cookie value %q is not an ID", c.Value)
	}
	if got := resp.Header.Values("Vary"); len(got) != 1 || got[0] != "Cookie" {
		t.Errorf("Vary = %q, want [Cookie]", got)
	}
	if _, err := env.store.Load(context.Background(), StoreKey(c.Value)); err != nil {
		t.Errorf("record not saved under the hashed ID: %v", err)
	}
	if _, err := env.store.Load(context.Background(), c.Value); err == nil {
		t.Error("record stored under the raw cookie value")
	}
}

func TestMiddleware_UntouchedSessionCostsNothing(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"a": 1})
	calls := env.store.Calls()
	resp := env.do(t, id, func(w http.ResponseWriter, r *http.Request) {
		if FromContext(r.Context()) == nil {
			t.Error("no session in the context")
		}
		io.WriteString(w, "hello")
	})
	if env.store.Calls() != calls {
		t.Errorf("an untouched session made %d store calls", env.store.Calls()-calls)
	}
	if resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("Vary") != "" {
		t.Errorf("untouched session changed headers: %v", resp.Header)
	}
}

func TestMiddleware_MalformedCookieIsDroppedBeforeTheStore(t *testing.T) {
	for _, v := range []string{"../../etc/passwd", "abc", strings.Repeat("A", 8192), "%00", "é", newID()[:42] + "!"} {
		env := newEnv(t, nil)
		resp := env.do(t, v, func(w http.ResponseWriter, r *http.Request) {
			if s := FromContext(r.Context()); s.Len() != 0 || s.ID() != "" {
				t.Errorf("cookie %.20q gave a non-empty session", v)
			}
		})
		if env.store.Calls() != 0 {
			t.Errorf("cookie %.20q reached the store", v)
		}
		if c := sessionCookie(resp); c == nil || c.MaxAge != -1 {
			t.Errorf("cookie %.20q: want it deleted, got %v", v, resp.Header.Values("Set-Cookie"))
		}
	}
}

func TestMiddleware_UnknownIDIsNotAdopted(t *testing.T) {
	env := newEnv(t, nil)
	forged := newID()
	resp := env.do(t, forged, setName)
	c := sessionCookie(resp)
	if c == nil || c.Value == forged || !ValidID(c.Value) {
		t.Fatalf("cookie after writing to a forged ID: %v", c)
	}
	if _, err := env.store.Load(context.Background(), StoreKey(forged)); !errors.Is(err, ErrNotFound) {
		t.Error("a record was created under the forged ID")
	}
}

func TestMiddleware_DeletesCookieOfEmptiedSession(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"a": 1})
	resp := env.do(t, id, func(w http.ResponseWriter, r *http.Request) {
		if err := FromContext(r.Context()).Flush(r.Context()); err != nil {
			t.Error(err)
		}
	})
	raw := resp.Header.Get("Set-Cookie")
	for _, want := range []string{"sessionid=;", "Max-Age=0", "Expires=Thu, 01 Jan 1970", "Path=/", "SameSite=Lax"} {
		if !strings.Contains(raw, want) {
			t.Errorf("deletion cookie %q lacks %q", raw, want)
		}
	}
	if resp.Header.Get("Vary") != "Cookie" {
		t.Errorf("Vary = %q", resp.Header.Get("Vary"))
	}
	if env.store.Len() != 0 {
		t.Error("flushed record survives")
	}
}

func TestMiddleware_NoSaveOn5xx(t *testing.T) {
	env := newEnv(t, nil)
	resp := env.do(t, "", func(w http.ResponseWriter, r *http.Request) {
		FromContext(r.Context()).Set("a", 1)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	if resp.Header.Get("Set-Cookie") != "" || env.store.Len() != 0 {
		t.Errorf("5xx response saved the session: %v, %d records", resp.Header, env.store.Len())
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("status %d", resp.StatusCode)
	}
}

func TestMiddleware_CommitsBeforeFirstWrite(t *testing.T) {
	env := newEnv(t, nil)
	resp := env.do(t, "", func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		s.Set("before", 1)
		io.WriteString(w, "body")
		if s.Modified() {
			t.Error("session still modified after the first write: not committed")
		}
		s.Set("after", 2) // the visitor already holds the new cookie: saved at return
	})
	c := sessionCookie(resp)
	if c == nil {
		t.Fatal("no cookie")
	}
	s := env.load(t, c.Value)
	if !s.Has("before") || !s.Has("after") {
		t.Errorf("stored keys %v, want before and after", s.Keys())
	}
}

func TestMiddleware_LateChangeWithoutCookieIsLoggedNotLost(t *testing.T) {
	env := newEnv(t, nil)
	resp := env.do(t, "", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "body")
		FromContext(r.Context()).Set("too late", 1)
	})
	if sessionCookie(resp) != nil || env.store.Len() != 0 {
		t.Error("a session created after the response started was saved without a cookie")
	}
	if !strings.Contains(env.logs.String(), "changed after the response started") {
		t.Errorf("no warning logged: %s", env.logs.String())
	}
}

func TestMiddleware_CommitsOnFlushThroughResponseController(t *testing.T) {
	env := newEnv(t, nil)
	flushed := make(chan struct{})
	release := make(chan struct{})
	srv := httptest.NewServer(env.engine.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		FromContext(r.Context()).Set("streaming", true)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Error(err)
		}
		close(flushed)
		<-release
		io.WriteString(w, "done")
	})))
	defer srv.Close()
	go func() { <-flushed; close(release) }()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if sessionCookie(resp) == nil {
		t.Errorf("headers flushed without the session cookie: %v", resp.Header)
	}
}

func TestMiddleware_InterruptedSessionGets400AndNoCookie(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"a": 1})
	resp := env.do(t, id, func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		s.Get("a")
		// Another request logs out meanwhile.
		other := env.load(t, id)
		if err := other.Flush(context.Background()); err != nil {
			t.Error(err)
		}
		s.Set("b", 2)
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusOK)
		if _, err := io.WriteString(w, "handler body"); err == nil {
			t.Error("Write after a failed commit succeeded")
		}
	})
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Errorf("cookie set on an interrupted session: %v", resp.Header.Values("Set-Cookie"))
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "deleted before the request completed") {
		t.Errorf("body %q", body)
	}
	if env.store.Len() != 0 {
		t.Error("interrupted session was resurrected")
	}
}

func TestMiddleware_ErrorHandlerGetsStoreErrors(t *testing.T) {
	var got error
	env := newEnv(t, func(o *Options) {
		o.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			w.WriteHeader(http.StatusTeapot)
		}
	})
	id := env.saved(t, map[string]any{"a": 1})
	env.store.SetFail(errStoreDown)
	resp := env.do(t, id, func(w http.ResponseWriter, r *http.Request) {
		FromContext(r.Context()).Get("a")
	})
	if resp.StatusCode != http.StatusTeapot || !errors.Is(got, errStoreDown) {
		t.Errorf("status %d, err %v; want the ErrorHandler's 418 with the store error", resp.StatusCode, got)
	}
	if resp.Header.Get("Set-Cookie") != "" {
		t.Error("a store failure deleted or set the cookie")
	}
	env.store.SetFail(nil)
	if env.load(t, id).Len() != 1 {
		t.Error("the record was damaged by a failed request")
	}
}

func TestMiddleware_StoreDownOnLoadIs500ByDefault(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"a": 1})
	env.store.SetFail(errStoreDown)
	resp := env.do(t, id, setName)
	if resp.StatusCode != http.StatusInternalServerError {
		t.Errorf("status %d, want 500", resp.StatusCode)
	}
	if !strings.Contains(env.logs.String(), "store down") {
		t.Errorf("store error not logged: %s", env.logs.String())
	}
}

func TestMiddleware_CycleKeyReissuesCookie(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"a": 1})
	resp := env.do(t, id, func(w http.ResponseWriter, r *http.Request) {
		if err := FromContext(r.Context()).CycleKey(r.Context()); err != nil {
			t.Error(err)
		}
	})
	c := sessionCookie(resp)
	if c == nil || c.Value == id || !ValidID(c.Value) {
		t.Fatalf("cookie after CycleKey: %v", c)
	}
	if env.load(t, c.Value).Len() != 1 || env.load(t, id).ID() != "" {
		t.Error("data not moved to the new ID")
	}
}

func TestMiddleware_CookieExpiryFollowsSession(t *testing.T) {
	tests := []struct {
		name   string
		opts   func(*Options)
		op     func(*Session)
		maxAge string // "" for a browser-session cookie
	}{
		{"default", nil, func(s *Session) {}, "Max-Age=1209600"},
		{"CookieAge", func(o *Options) { o.CookieAge = time.Hour }, func(s *Session) {}, "Max-Age=3600"},
		{"SetMaxAge", nil, func(s *Session) { s.SetMaxAge(90 * time.Second) }, "Max-Age=90"},
		{"SetExpiresAt", nil, func(s *Session) { s.SetExpiresAt(newClock().Now().Add(2 * time.Hour)) }, "Max-Age=7200"},
		{"option browser close", func(o *Options) { o.ExpireAtBrowserClose = true }, func(s *Session) {}, ""},
		{"SetExpireAtBrowserClose", nil, func(s *Session) { s.SetExpireAtBrowserClose() }, ""},
		{"ResetExpiry", func(o *Options) { o.ExpireAtBrowserClose = true }, func(s *Session) { s.SetMaxAge(time.Minute); s.ResetExpiry() }, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, tc.opts)
			resp := env.do(t, "", func(w http.ResponseWriter, r *http.Request) {
				s := FromContext(r.Context())
				s.Set("a", 1)
				tc.op(s)
			})
			raw := resp.Header.Get("Set-Cookie")
			if tc.maxAge == "" {
				if strings.Contains(raw, "Max-Age") || strings.Contains(raw, "Expires") || raw == "" {
					t.Errorf("want a browser-session cookie, got %q", raw)
				}
			} else if !strings.Contains(raw, tc.maxAge+";") && !strings.HasSuffix(raw, tc.maxAge) {
				t.Errorf("Set-Cookie %q, want %s", raw, tc.maxAge)
			}
		})
	}
}

func TestMiddleware_ExpiredByHandlerEndsSession(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"a": 1})
	resp := env.do(t, id, func(w http.ResponseWriter, r *http.Request) {
		FromContext(r.Context()).SetMaxAge(0)
	})
	if c := sessionCookie(resp); c == nil || c.MaxAge != -1 {
		t.Errorf("cookie %v, want deleted", resp.Header.Values("Set-Cookie"))
	}
	if env.store.Len() != 0 {
		t.Error("expired session still stored")
	}
}

func TestMiddleware_SaveEveryRequestRefreshesExpiry(t *testing.T) {
	env := newEnv(t, func(o *Options) { o.SaveEveryRequest = true })
	id := env.saved(t, map[string]any{"a": 1})
	env.clock.Advance(24 * time.Hour)
	resp := env.do(t, id, func(w http.ResponseWriter, r *http.Request) {})
	if c := sessionCookie(resp); c == nil || c.Value != id || c.MaxAge != 1209600 {
		t.Fatalf("cookie %v, want the same ID refreshed", resp.Header.Values("Set-Cookie"))
	}
	rec, _ := env.store.Load(context.Background(), StoreKey(id))
	if want := env.clock.Now().Add(14 * 24 * time.Hour); !rec.Expires.Equal(want) {
		t.Errorf("record expires %v, want %v", rec.Expires, want)
	}
	// An unknown ID with SaveEveryRequest must not be saved or adopted.
	env.do(t, newID(), func(w http.ResponseWriter, r *http.Request) {})
	if env.store.Len() != 1 {
		t.Errorf("SaveEveryRequest created a record for an unknown ID")
	}
}

func TestMiddleware_IdleTimeoutExpiresAndThrottlesRefresh(t *testing.T) {
	env := newEnv(t, func(o *Options) { o.IdleTimeout = 30 * time.Minute })
	id := env.saved(t, map[string]any{"a": 1})
	read := func(w http.ResponseWriter, r *http.Request) { FromContext(r.Context()).Get("a") }
	key := StoreKey(id)
	expiresAt := func() time.Time {
		rec, err := env.store.Load(context.Background(), key)
		if err != nil {
			t.Fatalf("session gone: %v", err)
		}
		return rec.Expires
	}
	first := expiresAt()
	if want := env.clock.Now().Add(30 * time.Minute); !first.Equal(want) {
		t.Fatalf("idle expiry %v, want %v", first, want)
	}
	env.clock.Advance(time.Minute) // under a tenth of the timeout: no write
	env.do(t, id, read)
	if !expiresAt().Equal(first) {
		t.Error("refresh written although less than a tenth of the idle timeout passed")
	}
	env.clock.Advance(5 * time.Minute)
	env.do(t, id, read)
	if got := expiresAt(); !got.Equal(env.clock.Now().Add(30 * time.Minute)) {
		t.Errorf("idle expiry not refreshed: %v", got)
	}
	env.clock.Advance(31 * time.Minute)
	resp := env.do(t, id, read)
	if c := sessionCookie(resp); c == nil || c.MaxAge != -1 {
		t.Errorf("idle session still usable; cookie %v", resp.Header.Values("Set-Cookie"))
	}
}

func TestMiddleware_VaryIsNotDuplicated(t *testing.T) {
	env := newEnv(t, nil)
	resp := env.do(t, "", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Vary", "Accept-Encoding, cookie")
		setName(w, r)
	})
	if got := resp.Header.Values("Vary"); len(got) != 1 {
		t.Errorf("Vary = %q", got)
	}
}

func TestMiddleware_InformationalStatusDoesNotCommit(t *testing.T) {
	env := newEnv(t, nil)
	srv := httptest.NewServer(env.engine.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		w.Header().Set("Link", "</style.css>; rel=preload")
		w.WriteHeader(http.StatusEarlyHints)
		s.Set("a", 1)
		w.WriteHeader(http.StatusCreated)
	})))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || sessionCookie(resp) == nil {
		t.Errorf("status %d, cookie %v", resp.StatusCode, sessionCookie(resp))
	}
}

type hijackRecorder struct {
	*httptest.ResponseRecorder
	hijacked bool
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h.hijacked = true
	return nil, nil, nil
}

func TestMiddleware_HijackAndUnwrap(t *testing.T) {
	env := newEnv(t, nil)
	rec := &hijackRecorder{ResponseRecorder: httptest.NewRecorder()}
	h := env.engine.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		FromContext(r.Context()).Set("ws", true)
		if u, ok := w.(interface{ Unwrap() http.ResponseWriter }); !ok || u.Unwrap() != rec {
			t.Error("Unwrap does not return the underlying writer")
		}
		if _, _, err := w.(http.Hijacker).Hijack(); err != nil {
			t.Error(err)
		}
	}))
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	if !rec.hijacked || env.store.Len() != 1 {
		t.Errorf("hijacked %v, records %d; want the session committed before the hijack", rec.hijacked, env.store.Len())
	}
}

func TestMiddleware_ReadFromCommitsFirst(t *testing.T) {
	env := newEnv(t, nil)
	resp := env.do(t, "", func(w http.ResponseWriter, r *http.Request) {
		FromContext(r.Context()).Set("a", 1)
		if _, err := io.Copy(w, strings.NewReader("streamed")); err != nil {
			t.Error(err)
		}
	})
	body, _ := io.ReadAll(resp.Body)
	if sessionCookie(resp) == nil || string(body) != "streamed" {
		t.Errorf("cookie %v, body %q", sessionCookie(resp), body)
	}
}

func TestFromContext_NilWithoutMiddleware(t *testing.T) {
	if FromContext(context.Background()) != nil {
		t.Error("FromContext without middleware is not nil")
	}
}

func TestMiddleware_NoLateSaveAfter5xx(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"a": 1})
	env.do(t, id, func(w http.ResponseWriter, r *http.Request) {
		FromContext(r.Context()).Set("a", 2)
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	if n, _ := env.load(t, id).GetInt("a"); n != 1 {
		t.Errorf("a = %d after a 500 response, want the old 1", n)
	}
}

func TestMiddleware_LogoutPageLogsNothing(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"a": 1})
	for _, end := range []func(*Session){
		func(s *Session) { _ = s.Flush(context.Background()) },
		func(s *Session) { s.SetMaxAge(0) },
	} {
		env.do(t, id, func(w http.ResponseWriter, r *http.Request) {
			end(FromContext(r.Context()))
			io.WriteString(w, "bye")
		})
	}
	if logs := env.logs.String(); strings.Contains(logs, "level=WARN") || strings.Contains(logs, "level=ERROR") {
		t.Errorf("logout logged:\n%s", logs)
	}
}

// sessionIDLogger is a log handler that, like many, adds the session ID of
// the request to each record.
type sessionIDLogger struct{ slog.Handler }

func (h sessionIDLogger) Handle(ctx context.Context, r slog.Record) error {
	if s := FromContext(ctx); s != nil {
		r.AddAttrs(slog.String("session", s.ID()))
	}
	return h.Handler.Handle(ctx, r)
}

func TestMiddleware_LoggerReadingTheSessionDoesNotDeadlock(t *testing.T) {
	env := newEnv(t, nil)
	env.engine.log = slog.New(sessionIDLogger{slog.NewTextHandler(io.Discard, nil)})
	done := make(chan struct{})
	go func() {
		defer close(done)
		env.do(t, "", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "body")
			FromContext(r.Context()).Set("late", 1) // logs a warning at return
		})
		id := env.saved(t, map[string]any{"a": 1})
		env.store.SetFail(errStoreDown)
		env.do(t, id, func(w http.ResponseWriter, r *http.Request) {
			_ = FromContext(r.Context()).Flush(r.Context())
		})
		env.store.SetFail(nil)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("deadlock: a log handler calling FromContext(ctx).ID() blocked the request")
	}
}

func TestMiddleware_ReadOnlyRefreshKeepsConcurrentWrites(t *testing.T) {
	env := newEnv(t, func(o *Options) { o.IdleTimeout = time.Hour })
	id := env.saved(t, map[string]any{"a": 1})
	env.clock.Advance(10 * time.Minute)
	env.do(t, id, func(w http.ResponseWriter, r *http.Request) {
		FromContext(r.Context()).Get("a") // request A only reads
		// Request B writes meanwhile.
		b := env.load(t, id)
		b.Set("b", 2)
		if err := env.engine.Save(context.Background(), b); err != nil {
			t.Error(err)
		}
	})
	s := env.load(t, id)
	if !s.Has("b") {
		t.Errorf("the read-only request's refresh overwrote a concurrent write: keys %v", s.Keys())
	}
	rec, _ := env.store.Load(context.Background(), StoreKey(id))
	if want := env.clock.Now().Add(time.Hour); !rec.Expires.Equal(want) {
		t.Errorf("expiry %v, want refreshed to %v", rec.Expires, want)
	}
}

func TestMiddleware_ErrorResponseDropsHandlerHeaders(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"a": 1})
	resp := env.do(t, id, func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		s.Get("a")
		_ = env.load(t, id).Flush(context.Background())
		s.Set("b", 2)
		w.Header().Set("Cache-Control", "public, max-age=3600")
		w.Header().Set("Location", "/next")
		http.Redirect(w, r, "/next", http.StatusFound)
	})
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, h := range []string{"Cache-Control", "Location"} {
		if resp.Header.Get(h) != "" {
			t.Errorf("error response kept the handler's %s: %q", h, resp.Header.Get(h))
		}
	}
	if resp.Header.Get("Vary") != "Cookie" {
		t.Errorf("Vary = %q, want Cookie kept", resp.Header.Get("Vary"))
	}
}

func TestMiddleware_CycleKeyWritesOnce(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"a": 1})
	before := env.store.Calls()
	resp := env.do(t, id, func(w http.ResponseWriter, r *http.Request) {
		if err := FromContext(r.Context()).CycleKey(r.Context()); err != nil {
			t.Error(err)
		}
	})
	// Load, Save(new), UpdateRecord(old, expire), Delete(old): nothing more at commit.
	if calls := env.store.Calls() - before; calls != 4 {
		t.Errorf("CycleKey request made %d store calls, want 4", calls)
	}
	if c := sessionCookie(resp); c == nil || c.Value == id {
		t.Errorf("cookie not reissued: %v", c)
	}
}
