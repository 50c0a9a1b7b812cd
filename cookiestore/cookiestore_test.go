package cookiestore_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"io"
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

func TestSize_CompressMakesRoomWhenItHelps(t *testing.T) {
	text := strings.Repeat("the same words again and again; ", 150) // ~4.8 KB
	env := newEnv(t, &cookiestore.Options{Compress: true})
	c := cookie(env.do(t, "", set(map[string]any{"text": text})))
	if c == nil || len(c.Value) > 4000 {
		t.Fatalf("compressible session not compressed: %v", c)
	}
	if got := read(t, env, c.Value); got["text"] != text {
		t.Error("compressed session did not round-trip")
	}
	plain := newEnv(t, nil)
	s, _ := plain.engine.Load(context.Background(), "")
	s.Set("text", text)
	if err := plain.engine.Save(context.Background(), s); !errors.Is(err, session.ErrCookieTooLarge) {
		t.Errorf("default options (no compression): %v, want ErrCookieTooLarge", err)
	}
}

// TestCompress_SealedCompressedOpensWhateverTheOption checks that turning
// Compress off logs nobody out: a store that does not compress still opens
// the compressed cookies sealed with the same key.
func TestCompress_SealedCompressedOpensWhateverTheOption(t *testing.T) {
	text := strings.Repeat("the same words again and again; ", 60) // ~1.9 KB
	for _, signOnly := range []bool{false, true} {
		compressing := newEnv(t, &cookiestore.Options{SignOnly: signOnly, Compress: true})
		v := cookie(compressing.do(t, "", set(map[string]any{"text": text}))).Value
		if raw, _ := base64.RawURLEncoding.DecodeString(v); len(raw) < 2 || raw[1] != 1 || len(v) > len(text)/2 {
			t.Fatalf("signOnly=%v: a %d-byte cookie with flags %v; want it compressed", signOnly, len(v), raw[:min(2, len(raw))])
		}
		plain := newEnv(t, &cookiestore.Options{SignOnly: signOnly})
		if got := read(t, plain, v); got["text"] != text {
			t.Errorf("signOnly=%v: a compressed cookie does not open without Compress: %v", signOnly, got)
		}
	}
}

// modes are the four ways to configure sealing.
var modes = []struct {
	name string
	opts cookiestore.Options
}{
	{"encrypted", cookiestore.Options{}},
	{"encrypted+compress", cookiestore.Options{Compress: true}},
	{"signed", cookiestore.Options{SignOnly: true}},
	{"signed+compress", cookiestore.Options{SignOnly: true, Compress: true}},
}

// newStore returns a store for mode m that logs nothing.
func newStore(tb testing.TB, m cookiestore.Options) *cookiestore.Store {
	tb.Helper()
	m.Logger = slog.New(slog.DiscardHandler)
	st, err := cookiestore.NewWithOptions(&m, key1)
	if err != nil {
		tb.Fatal(err)
	}
	return st
}

// TestEngine_SaveNeverIssuesACookieThatCannotOpen saves sessions through the
// engine and loads the cookie value back: each save either fails with
// ErrCookieTooLarge or gives a cookie that opens to the same session. A
// 10,000-byte cart of one repeated item compresses to a 212-byte cookie,
// but it is over what Open decompresses: its save must fail.
func TestEngine_SaveNeverIssuesACookieThatCannotOpen(t *testing.T) {
	ctx := context.Background()
	cart := strings.Repeat("item-0042;", 1000)
	sessions := map[string]string{
		"cart":  cart,
		"text":  strings.Repeat("the same words again and again; ", 150), // fits compressed
		"small": "x",
	}
	for _, m := range modes {
		env := newEnv(t, &m.opts)
		for key, value := range sessions {
			s, _ := env.engine.Load(ctx, "")
			s.Set(key, value)
			if err := env.engine.Save(ctx, s); err != nil {
				if !errors.Is(err, session.ErrCookieTooLarge) {
					t.Errorf("%s, %s: Save = %v, want nil or ErrCookieTooLarge", m.name, key, err)
				}
				continue
			}
			back, err := env.engine.Load(ctx, s.ID())
			if got, _ := back.GetString(key); err != nil || got != value {
				t.Errorf("%s, %s: saved as a %d-byte cookie that loads as %d bytes (%v): the session is lost",
					m.name, key, len(s.ID()), len(got), err)
			}
		}
		s, _ := env.engine.Load(ctx, "")
		s.Set("cart", cart)
		if err := env.engine.Save(ctx, s); !errors.Is(err, session.ErrCookieTooLarge) {
			t.Errorf("%s: saving the 10,000-byte cart = %v, want ErrCookieTooLarge", m.name, err)
		}
	}
}

// TestSeal_EverySealedCookieOpens seals records of many sizes, compressible
// or not, with short and long maxLen, in every mode: every value Seal
// returns must be at most maxLen long and open to the same record.
func TestSeal_EverySealedCookieOpens(t *testing.T) {
	random := make([]byte, 20000)
	_, _ = rand.Read(random)
	repetitive := bytes.Repeat([]byte("item-0042;"), 2000)
	expires := time.Now().Add(time.Hour)
	for _, m := range modes {
		st := newStore(t, m.opts)
		// The payload is 24 bytes of header and user ID, then the data:
		// 8168 bytes of data make it exactly 8 KiB.
		for _, size := range []int{0, 100, 1000, 1007, 3000, 4000, 8000, 8167, 8168, 8169, 8200, 10000, 20000} {
			for kind, data := range map[string][]byte{"random": random[:size], "repetitive": repetitive[:size]} {
				rec := session.Record{Data: data, Expires: expires, UserID: "user-17"}
				for _, maxLen := range []int{4087, 8000, 1 << 20} {
					v, err := st.Seal(rec, maxLen)
					if err != nil {
						if !errors.Is(err, session.ErrCookieTooLarge) {
							t.Errorf("%s: Seal(%s %d, %d) = %v, want nil or ErrCookieTooLarge", m.name, kind, size, maxLen, err)
						}
						if size <= 1000 {
							t.Errorf("%s: Seal(%s %d, %d) = %v: a small session does not seal", m.name, kind, size, maxLen, err)
						}
						continue
					}
					if len(v) > maxLen {
						t.Errorf("%s: Seal(%s %d, %d) gave %d bytes", m.name, kind, size, maxLen, len(v))
					}
					back, err := st.Open(v)
					if err != nil || !bytes.Equal(back.Data, data) || back.UserID != rec.UserID {
						t.Errorf("%s: Seal(%s %d, %d) gave a %d-byte cookie that does not open: %v",
							m.name, kind, size, maxLen, len(v), err)
					}
				}
			}
		}
	}
}

// TestLimit_RequestOutlivingALogoutReissuesACookie shows what the cookie
// store does where server-side stores answer 400 (see
// TestHTTP_RequestOutlivingALogoutGets400 in the session package): with no
// record on the server, a request that loaded the session before a logout
// in another request and commits after it issues a new cookie that opens,
// and the logged-out value itself stays valid until it expires.
func TestLimit_RequestOutlivingALogoutReissuesACookie(t *testing.T) {
	env := newEnv(t, nil)
	v := cookie(env.do(t, "", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.SetUserID("8412")
		s.Set("user", "sonam")
	})).Value
	var logout *http.Response
	slow := env.do(t, v, func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Get("user")
		logout = env.do(t, v, func(w http.ResponseWriter, r *http.Request) {
			if err := session.FromContext(r.Context()).Flush(r.Context()); err != nil {
				t.Error(err)
			}
		})
		s.Set("late", true)
	})
	if d := cookie(logout); d == nil || d.MaxAge != -1 {
		t.Fatalf("logout: cookie %v, want it deleted", d)
	}
	c := cookie(slow)
	if slow.StatusCode != http.StatusOK || c == nil || c.MaxAge <= 0 {
		t.Fatalf("request outliving the logout: status %d, cookie %v; want 200 and a live cookie", slow.StatusCode, c)
	}
	rec, err := env.store.Open(c.Value)
	if err != nil || rec.UserID != "8412" {
		t.Fatalf("the re-issued cookie: Open = %q, %v; want user 8412's session", rec.UserID, err)
	}
	if got := read(t, env, c.Value); got["user"] != "sonam" || got["late"] != true {
		t.Errorf("the re-issued cookie holds %v, want the session as the slow request left it", got)
	}
	if got := read(t, env, v); got["user"] != "sonam" {
		t.Errorf("the logged-out value no longer opens (%v): this test describes a limit that is gone", got)
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
	for _, signOnly := range []bool{false, true} {
		compressing, _ := cookiestore.NewWithOptions(&cookiestore.Options{SignOnly: signOnly, Compress: true}, key1)
		cv, _ := compressing.Seal(session.Record{Data: bytes.Repeat([]byte("item-0042;"), 300), Expires: time.Now().Add(time.Hour)}, 4000)
		f.Add(cv)
	}
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

// FuzzSeal checks that every cookie Seal returns opens to the record sealed,
// in every mode and for any maxLen. The data is pattern repeated count
// times (up to 64 KiB) and the user ID uidLen bytes, so that small inputs
// reach sessions of any size and compressibility (and the fuzzer's
// minimizer, quadratic in the length of []byte and string inputs, stays
// fast).
func FuzzSeal(f *testing.F) {
	var stores []*cookiestore.Store
	for _, m := range modes {
		stores = append(stores, newStore(f, m.opts))
	}
	for i := range modes {
		mode := uint8(i)
		f.Add(mode, []byte("\x81\xa1a\x01"), uint16(1), uint16(0), 4087)
		f.Add(mode, []byte("item-0042;"), uint16(1000), uint16(4), 4087) // the 10,000-byte cart
		f.Add(mode, []byte("x"), uint16(8168), uint16(7), 1<<20)         // exactly 8 KiB of payload
		f.Add(mode, []byte("x"), uint16(8169), uint16(7), 1<<20)
		f.Add(mode, []byte{0}, uint16(9000), uint16(300), 16000)
	}
	expires := time.Now().Add(time.Hour)
	f.Fuzz(func(t *testing.T, mode uint8, pattern []byte, count, uidLen uint16, maxLen int) {
		m, st := modes[int(mode)%len(modes)], stores[int(mode)%len(modes)]
		if len(pattern) > 0 && len(pattern)*int(count) > 64<<10 {
			count = uint16(64 << 10 / len(pattern))
		}
		data := bytes.Repeat(pattern, int(count))
		rec := session.Record{Data: data, Expires: expires, UserID: strings.Repeat("u", int(uidLen))}
		v, err := st.Seal(rec, maxLen)
		if err != nil {
			if !errors.Is(err, session.ErrCookieTooLarge) {
				t.Fatalf("%s: Seal = %v, want nil or ErrCookieTooLarge", m.name, err)
			}
			return
		}
		if len(v) > maxLen {
			t.Fatalf("%s: a %d-byte value for maxLen %d", m.name, len(v), maxLen)
		}
		back, err := st.Open(v)
		if err != nil || !bytes.Equal(back.Data, data) || back.UserID != rec.UserID {
			t.Fatalf("%s: a sealed %d-byte value does not open to the record: %v", m.name, len(v), err)
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

// TestEngine_LateChangeIsLoggedNotSilentlyDropped: a change made after the
// response started cannot reach the browser in a cookie that is already
// sent; the engine says so in a warning instead of sealing a value nobody
// will ever receive.
func TestEngine_LateChangeIsLoggedNotSilentlyDropped(t *testing.T) {
	env := newEnv(t, nil)
	logs := &testkit.LogBuffer{}
	o := env.engine.Options()
	o.Logger = slog.New(slog.NewTextHandler(logs, nil))
	e, err := session.New(env.store, &o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	env.engine = e
	first := cookie(env.do(t, "", set(map[string]any{"a": 1})))
	resp := env.do(t, first.Value, func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Set("b", 2)
		io.WriteString(w, "body")
		s.Set("c", 3) // too late for the cookie already sent
	})
	got := read(t, env, cookie(resp).Value)
	if got["b"] == nil || got["c"] != nil {
		t.Errorf("cookie holds %v, want b and not c", got)
	}
	if !strings.Contains(logs.String(), "changed after the response started") {
		t.Errorf("no warning about the lost late change: %s", logs)
	}
}
