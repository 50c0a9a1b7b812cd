package cookiestore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/cookiestore"
	"github.com/sessionkv/session/internal/testkit"
)

var (
	key1 = bytes.Repeat([]byte("k1-secret-"), 4)
	key2 = bytes.Repeat([]byte("k2-secret-"), 4)
)

type env struct {
	store  *cookiestore.Store
	engine *session.Engine
	clock  *testkit.Clock
}

func newEnv(t *testing.T, opts *cookiestore.Options, keys ...[]byte) *env {
	t.Helper()
	c := testkit.NewClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	if opts == nil {
		opts = &cookiestore.Options{}
	}
	opts.Now = c.Now
	opts.Logger = slog.New(slog.DiscardHandler)
	if len(keys) == 0 {
		keys = [][]byte{key1}
	}
	st, err := cookiestore.NewWithOptions(opts, keys...)
	if err != nil {
		t.Fatal(err)
	}
	o := session.DefaultOptions()
	o.Now = c.Now
	o.Logger = slog.New(slog.DiscardHandler)
	e, err := session.New(st, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return &env{store: st, engine: e, clock: c}
}

// do sends one request with cookie value v ("" for none) and returns the
// response.
func (env *env) do(t *testing.T, v string, h http.HandlerFunc) *http.Response {
	t.Helper()
	req := httptest.NewRequest("GET", "/", nil)
	if v != "" {
		req.Header.Set("Cookie", "sessionid="+v) // raw: AddCookie would clean it
	}
	rec := httptest.NewRecorder()
	env.engine.Middleware(h).ServeHTTP(rec, req)
	return rec.Result()
}

func cookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == "sessionid" {
			return c
		}
	}
	return nil
}

func set(kv map[string]any) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { session.FromContext(r.Context()).Update(kv) }
}

func read(t *testing.T, env *env, v string) map[string]any {
	t.Helper()
	got := map[string]any{}
	env.do(t, v, func(w http.ResponseWriter, r *http.Request) {
		for k, val := range session.FromContext(r.Context()).Items() {
			got[k] = val
		}
	})
	return got
}

func TestEngine_RoundTripThroughCookie(t *testing.T) {
	for _, signOnly := range []bool{false, true} {
		env := newEnv(t, &cookiestore.Options{SignOnly: signOnly})
		c := cookie(env.do(t, "", set(map[string]any{"name": "Sonam", "n": 3})))
		if c == nil || !c.HttpOnly || c.MaxAge != 1209600 {
			t.Fatalf("signOnly=%v: cookie %v", signOnly, c)
		}
		got := read(t, env, c.Value)
		if got["name"] != "Sonam" || got["n"] != int64(3) {
			t.Errorf("signOnly=%v: read back %v", signOnly, got)
		}
		raw, _ := base64.RawURLEncoding.DecodeString(c.Value)
		if visible := bytes.Contains(raw, []byte("Sonam")); visible != signOnly {
			t.Errorf("signOnly=%v: plaintext visible in the cookie: %v", signOnly, visible)
		}
	}
}

func TestEngine_FlushClearsAndCycleKeyReissues(t *testing.T) {
	env := newEnv(t, nil)
	v := cookie(env.do(t, "", set(map[string]any{"a": 1}))).Value
	resp := env.do(t, v, func(w http.ResponseWriter, r *http.Request) {
		if err := session.FromContext(r.Context()).CycleKey(r.Context()); err != nil {
			t.Error(err)
		}
	})
	c := cookie(resp)
	if c == nil || c.Value == v || read(t, env, c.Value)["a"] != int64(1) {
		t.Fatalf("CycleKey: cookie %v", c)
	}
	resp = env.do(t, c.Value, func(w http.ResponseWriter, r *http.Request) {
		_ = session.FromContext(r.Context()).Flush(r.Context())
	})
	if d := cookie(resp); d == nil || d.MaxAge != -1 {
		t.Errorf("Flush: cookie %v, want deleted", d)
	}
}

func TestOpen_RejectsAnythingButAuthenticCookies(t *testing.T) {
	env := newEnv(t, nil)
	v := cookie(env.do(t, "", set(map[string]any{"role": "user"}))).Value
	raw, _ := base64.RawURLEncoding.DecodeString(v)
	other := newEnv(t, nil, key2)
	foreign := cookie(other.do(t, "", set(map[string]any{"role": "admin"}))).Value
	signed := newEnv(t, &cookiestore.Options{SignOnly: true})
	signedValue := cookie(signed.do(t, "", set(map[string]any{"role": "admin"}))).Value

	bad := map[string]string{
		"empty":       "",
		"garbage":     "not a cookie at all",
		"truncated":   v[:len(v)/2],
		"one char":    v[:1],
		"other key":   foreign,
		"other mode":  signedValue,
		"padding":     v + "=",
		"8KB":         strings.Repeat("A", 8192),
		"non-ASCII":   "é" + v,
		"path":        "../../etc/passwd",
		"nul":         v[:10] + "\x00" + v[11:],
		"wrong len64": base64.RawURLEncoding.EncodeToString(make([]byte, 40)),
	}
	for i := range raw {
		for _, bit := range []byte{1, 0x80} {
			flipped := bytes.Clone(raw)
			flipped[i] ^= bit
			bad["flip"+string(rune('A'+i%26))] = base64.RawURLEncoding.EncodeToString(flipped)
			if _, err := env.store.Open(base64.RawURLEncoding.EncodeToString(flipped)); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("byte %d bit %x flipped: Open = %v, want ErrNotFound", i, bit, err)
			}
		}
	}
	for name, value := range bad {
		if _, err := env.store.Open(value); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s: Open = %v, want ErrNotFound", name, err)
		}
		if got := read(t, env, value); len(got) != 0 {
			t.Errorf("%s: handler saw %v, want a new empty session", name, got)
		}
	}
}

func TestKeys_Rotation(t *testing.T) {
	old := newEnv(t, nil, key1)
	v := cookie(old.do(t, "", set(map[string]any{"a": 1}))).Value
	rotated := newEnv(t, nil, key2, key1)
	if got := read(t, rotated, v); got["a"] != int64(1) {
		t.Fatalf("a cookie sealed with the old key no longer opens after rotation: %v", got)
	}
	resealed := cookie(rotated.do(t, v, set(map[string]any{"b": 2}))).Value
	if got := read(t, newEnv(t, nil, key2), resealed); got["a"] != int64(1) || got["b"] != int64(2) {
		t.Errorf("a save after rotation is not sealed with the new key: %v", got)
	}
	if got := read(t, newEnv(t, nil, key2), v); len(got) != 0 {
		t.Errorf("the old key still opens after it was retired: %v", got)
	}
}

func TestExpiry_EnforcedServerSide(t *testing.T) {
	env := newEnv(t, nil)
	v := cookie(env.do(t, "", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Set("a", 1)
		s.SetMaxAge(10 * time.Second)
	})).Value
	env.clock.Advance(9 * time.Second)
	if got := read(t, env, v); got["a"] != int64(1) {
		t.Fatal("cookie rejected before its max age")
	}
	env.clock.Advance(time.Second)
	if got := read(t, env, v); len(got) != 0 {
		t.Errorf("a replayed cookie past its max age still opens: %v", got)
	}

	at := newEnv(t, nil)
	v = cookie(at.do(t, "", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Set("a", 1)
		s.SetExpiresAt(at.clock.Now().Add(time.Minute))
	})).Value
	at.clock.Advance(time.Minute)
	if got := read(t, at, v); len(got) != 0 {
		t.Errorf("cookie opens after SetExpiresAt: %v", got)
	}

	capped := newEnv(t, &cookiestore.Options{MaxAge: time.Hour})
	v = cookie(capped.do(t, "", set(map[string]any{"a": 1}))).Value
	capped.clock.Advance(time.Hour + time.Second)
	if got := read(t, capped, v); len(got) != 0 {
		t.Errorf("cookie opens past Options.MaxAge: %v", got)
	}
}

func TestSize_TooLargeFailsTheSaveLoudly(t *testing.T) {
	env := newEnv(t, nil)
	random := make([]byte, 5000)
	_, _ = rand.Read(random) // incompressible
	s, _ := env.engine.Load(context.Background(), "")
	s.Set("blob", random)
	if err := env.engine.Save(context.Background(), s); !errors.Is(err, session.ErrCookieTooLarge) {
		t.Fatalf("Save = %v, want ErrCookieTooLarge", err)
	}
	resp := env.do(t, "", set(map[string]any{"blob": random}))
	if resp.StatusCode != http.StatusInternalServerError || cookie(resp) != nil {
		t.Errorf("too large through the middleware: status %d, cookie %v; want 500 and none", resp.StatusCode, cookie(resp))
	}
}

func TestSize_CompressionMakesRoomWhenItHelps(t *testing.T) {
	text := strings.Repeat("the same words again and again; ", 150) // ~4.8 KB
	env := newEnv(t, nil)
	c := cookie(env.do(t, "", set(map[string]any{"text": text})))
	if c == nil || len(c.Value) > 4000 {
		t.Fatalf("compressible session not compressed: %v", c)
	}
	if got := read(t, env, c.Value); got["text"] != text {
		t.Error("compressed session did not round-trip")
	}
	plain := newEnv(t, &cookiestore.Options{NoCompression: true})
	s, _ := plain.engine.Load(context.Background(), "")
	s.Set("text", text)
	if err := plain.engine.Save(context.Background(), s); !errors.Is(err, session.ErrCookieTooLarge) {
		t.Errorf("without compression: %v, want ErrCookieTooLarge", err)
	}
}

func TestNew_RejectsWeakKeys(t *testing.T) {
	if _, err := cookiestore.New(); !errors.Is(err, cookiestore.ErrNoKeys) {
		t.Errorf("New() = %v", err)
	}
	if _, err := cookiestore.New(key1, []byte("short")); !errors.Is(err, cookiestore.ErrShortKey) {
		t.Errorf("New(short) = %v", err)
	}
}

func TestStore_SaveIsNotServerSide(t *testing.T) {
	st, _ := cookiestore.New(key1)
	if err := st.Save(context.Background(), "k", session.Record{}); !errors.Is(err, cookiestore.ErrNotServerSide) {
		t.Errorf("Save = %v", err)
	}
	if err := st.Delete(context.Background(), "k"); err != nil {
		t.Errorf("Delete = %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	st, _ := cookiestore.NewWithOptions(&cookiestore.Options{Logger: slog.New(slog.DiscardHandler)}, key1)
	signed, _ := cookiestore.NewWithOptions(&cookiestore.Options{SignOnly: true, Logger: slog.New(slog.DiscardHandler)}, key1)
	v, _ := st.Seal(session.Record{Data: []byte("\x01\x00\x80"), Expires: time.Now().Add(time.Hour), UserID: "u"}, 4000)
	sv, _ := signed.Seal(session.Record{Data: bytes.Repeat([]byte("x"), 300), Expires: time.Now().Add(time.Hour)}, 4000)
	f.Add(v)
	f.Add(sv)
	f.Add("AQA")
	f.Fuzz(func(t *testing.T, value string) {
		for _, s := range []*cookiestore.Store{st, signed} {
			rec, err := s.Open(value)
			if err != nil {
				if !errors.Is(err, session.ErrNotFound) {
					t.Fatalf("error %v does not wrap ErrNotFound", err)
				}
				continue
			}
			// Only values this key sealed open: anything the fuzzer
			// finds that opens must re-seal and open to the same record.
			again, err := s.Seal(rec, 8000)
			if err != nil {
				t.Fatal(err)
			}
			if back, err := s.Open(again); err != nil || !bytes.Equal(back.Data, rec.Data) || back.UserID != rec.UserID {
				t.Fatalf("re-sealed record differs: %v", err)
			}
		}
	})
}

func BenchmarkSealOpen(b *testing.B) {
	st, _ := cookiestore.New(key1)
	data, _ := session.MsgpackCodec{}.Encode([]byte{1, 0}, map[string]any{
		"_auth_user_id": "8412", "username": "sonam.rathore", "counter": int64(17), "theme": "dark",
		"csrf_token": "p8UWZ3vL0rN7c2qK9xY4tB6mE1sH5jDf", "cart": []any{"sku-1042", "sku-2211", "sku-0007"},
	})
	rec := session.Record{Data: data, Expires: time.Now().Add(time.Hour)}
	b.ReportAllocs()
	for b.Loop() {
		v, err := st.Seal(rec, 4000)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := st.Open(v); err != nil {
			b.Fatal(err)
		}
	}
}
