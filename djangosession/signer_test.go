package djangosession_test

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangosession"
)

// Vectors written by Django 3.2 with SECRET_KEY "django-insecure-0123456789"
// while time.time() returned 1767225600.5, so that the format is checked
// even where Django is not installed.
const vectorKey = "django-insecure-0123456789"

var vectorTime = at(1767225600.5)

var vectors = []struct {
	name   string
	values map[string]any
	salt   string
	want   string
}{
	{"SessionStore.encode", map[string]any{"_auth_user_id": "42", "cart": []any{int64(1), 2.5, "três"}}, djangosession.SessionSalt,
		"eyJfYXV0aF91c2VyX2lkIjoiNDIiLCJjYXJ0IjpbMSwyLjUsInRyXHUwMGVhcyJdfQ:1vb66i:BkQHQXm0SW2E26VCV-G3Z_7euSXhodxk87ZfNrOF81Q"},
	{"signed_cookies", map[string]any{"theme": "dark"}, djangosession.CookieSalt,
		"eyJ0aGVtZSI6ImRhcmsifQ:1vb66i:I7_VxLIw8lPnL1KiQjUyVDu3iZ8r7I7ASZ2FJhJFQ08"},
	{"signing.dumps", map[string]any{"k": "v"}, "my.salt",
		"eyJrIjoidiJ9:1vb66i:HKfkJDuv4_b7OEPq6h9emUCUNF6qDsMIvY454pzqJ_Q"},
	{"compressed", map[string]any{"text": strings.Repeat("lorem ipsum ", 20)}, djangosession.SessionSalt,
		".eJyrVipJrShRslLKyS9KzVXILCguzVUYCWylWgB0Q16E:1vb66i:6rJotgrDyj_OH3vKCMKWowRaKkFVHnLrfoOmDybzpew"},
}

func TestSigner_DjangoVectors(t *testing.T) {
	for _, v := range vectors {
		s := &djangosession.Signer{Key: vectorKey, Salt: v.salt, Now: vectorTime}
		got, err := s.Dumps(v.values)
		if err != nil {
			t.Fatal(err)
		}
		// A compressed payload is Go's zlib stream, not Python's: only its
		// marker is compared, and the vector Django wrote must load.
		if strings.HasPrefix(v.want, ".") {
			if !strings.HasPrefix(got, ".") {
				t.Errorf("%s: not compressed: %s", v.name, got)
			}
		} else if got != v.want {
			t.Errorf("%s:\n got %s\nwant %s", v.name, got, v.want)
		}
		back, err := s.Loads(v.want, 0)
		if err != nil {
			t.Errorf("%s: Loads: %v", v.name, err)
		} else if canonical(t, back) != canonical(t, v.values) {
			t.Errorf("%s: Loads = %v", v.name, back)
		}
	}
	st := &djangosession.Settings{SecretKey: vectorKey, Now: vectorTime}
	if got, _ := st.EncodeSession(vectors[0].values); got != vectors[0].want {
		t.Errorf("EncodeSession = %s", got)
	}
	if got, _ := st.EncodeCookie(vectors[1].values); got != vectors[1].want {
		t.Errorf("EncodeCookie = %s", got)
	}
}

// sign signs value (everything before the signature) as the package
// documentation describes, independently of the package: HMAC-SHA256 keyed
// with SHA-256(salt + "signer" + key), base64url without padding.
func sign(key, salt, value string) string {
	k := sha256.Sum256([]byte(salt + "signer" + key))
	mac := hmac.New(sha256.New, k[:])
	mac.Write([]byte(value))
	return value + ":" + base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func zlibBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func TestSigner_Format(t *testing.T) {
	s := &djangosession.Signer{Key: "k", Salt: "s"}
	for _, sec := range []float64{0, 61, 62, 1767225600.9, -1.5, -62} {
		s.Now = at(sec)
		got, err := s.Sign([]byte(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		want := map[float64]string{0: "0", 61: "z", 62: "10", 1767225600.9: "1vb66i", -1.5: "-1", -62: "-10"}[sec]
		if parts := strings.Split(got, ":"); len(parts) != 3 || parts[1] != want {
			t.Errorf("at %v: %s, want timestamp %s", sec, got, want)
		}
		if got != sign("k", "s", strings.Join(strings.Split(got, ":")[:2], ":")) {
			t.Errorf("at %v: signature differs from the specification", sec)
		}
		if data, err := s.Open(got, 0); err != nil || string(data) != `{"a":1}` {
			t.Errorf("Open = %q, %v", data, err)
		}
	}
	// The empty salt is signing.dumps's default.
	a, _ := (&djangosession.Signer{Key: "k", Now: at(5)}).Sign([]byte("x"))
	b, _ := (&djangosession.Signer{Key: "k", Salt: djangosession.DefaultSalt, Now: at(5)}).Sign([]byte("x"))
	if a != b {
		t.Errorf("empty salt %s, DefaultSalt %s", a, b)
	}
	// Compression only when it saves at least two bytes.
	long := []byte(`{"k":"` + strings.Repeat("abc", 100) + `"}`)
	c, _ := s.Sign(long)
	if !strings.HasPrefix(c, ".eJ") {
		t.Errorf("long payload not compressed: %s", c)
	}
	if d, _ := s.Sign([]byte(`{"k":"abcabcabcabc"}`)); strings.HasPrefix(d, ".") {
		t.Errorf("short payload compressed: %s", d)
	}
	// At the rule's edge: the shortest run of "a" that compresses saves at
	// least two bytes.
	for n := 1; n < 100; n++ {
		data := []byte(`{"k":"` + strings.Repeat("a", n) + `"}`)
		d, _ := s.Sign(data)
		if !strings.HasPrefix(d, ".") {
			continue
		}
		payload, _, _ := strings.Cut(d[1:], ":")
		if z, _ := base64.RawURLEncoding.DecodeString(payload); len(z) >= len(data)-1 {
			t.Errorf("compressed %d bytes into %d: saves under two", len(data), len(z))
		}
		break
	}
}

func TestSigner_NoKey(t *testing.T) {
	if _, err := (&djangosession.Signer{}).Sign([]byte("{}")); !errors.Is(err, djangosession.ErrNoKey) {
		t.Errorf("Sign: %v", err)
	}
	if _, err := (&djangosession.Signer{}).Open("e30:0:x", 0); !errors.Is(err, djangosession.ErrNoKey) || errors.Is(err, session.ErrCorrupt) {
		t.Errorf("Open: %v", err)
	}
	if _, err := (&djangosession.Settings{}).EncodeSession(map[string]any{}); !errors.Is(err, djangosession.ErrNoKey) {
		t.Errorf("EncodeSession: %v", err)
	}
}

func TestSigner_Errors(t *testing.T) {
	if !errors.Is(djangosession.ErrExpiredSignature, djangosession.ErrBadSignature) ||
		!errors.Is(djangosession.ErrBadSignature, session.ErrCorrupt) ||
		!errors.Is(djangosession.ErrPayloadTooLarge, session.ErrCorrupt) ||
		errors.Is(djangosession.ErrPayloadTooLarge, djangosession.ErrBadSignature) ||
		errors.Is(djangosession.ErrNoKey, session.ErrCorrupt) {
		t.Error("error chains are wrong")
	}
	s := &djangosession.Signer{Key: "k", Salt: "s", MaxPayload: 1000, Now: at(100)}
	b64 := base64.RawURLEncoding.EncodeToString
	cases := []struct {
		name   string
		signed string
		want   error
	}{
		{"padding", sign("k", "s", b64([]byte("{}"))+"=:1c"), session.ErrCorrupt},
		{"standard base64", sign("k", "s", base64.RawStdEncoding.EncodeToString([]byte("{>?}"))+":1c"), session.ErrCorrupt},
		{"non-canonical last character", sign("k", "s", "e31:1c"), session.ErrCorrupt},
		{"no timestamp", sign("k", "s", b64([]byte("{}"))), session.ErrCorrupt},
		{"empty timestamp", sign("k", "s", b64([]byte("{}"))+":"), session.ErrCorrupt},
		{"bad timestamp", sign("k", "s", b64([]byte("{}"))+":1_"), session.ErrCorrupt},
		{"huge timestamp", sign("k", "s", b64([]byte("{}"))+":"+strings.Repeat("z", 11)), session.ErrCorrupt},
		{"not zlib", sign("k", "s", "."+b64([]byte("{}"))+":1c"), session.ErrCorrupt},
		{"truncated zlib", sign("k", "s", "."+b64(zlibBytes(t, []byte(`{"a":1}`))[:6])+":1c"), session.ErrCorrupt},
		{"zlib checksum", sign("k", "s", "."+b64(append(zlibBytes(t, []byte(`{"a":1}`))[:12], 0, 0, 0, 0))+":1c"), session.ErrCorrupt},
		{"after the zlib stream", sign("k", "s", "."+b64(append(zlibBytes(t, []byte(`{"a":1}`)), 'x'))+":1c"), session.ErrCorrupt},
		{"large", sign("k", "s", b64(bytes.Repeat([]byte(" "), 1001))+":1c"), djangosession.ErrPayloadTooLarge},
		{"large compressed", sign("k", "s", "."+b64(zlibBytes(t, bytes.Repeat([]byte(" "), 1001)))+":1c"), djangosession.ErrPayloadTooLarge},
		{"expired", sign("k", "s", b64([]byte("{}"))+":1a"), djangosession.ErrExpiredSignature},
		{"signed by another", sign("other", "s", b64([]byte("{}"))+":1c"), djangosession.ErrBadSignature},
	}
	for _, c := range cases {
		_, err := s.Open(c.signed, time.Second)
		if !errors.Is(err, c.want) || !errors.Is(err, session.ErrCorrupt) {
			t.Errorf("%s: err = %v, want %v", c.name, err, c.want)
		}
		if c.want == session.ErrCorrupt && errors.Is(err, djangosession.ErrBadSignature) {
			t.Errorf("%s: %v is a signature error", c.name, err)
		}
	}
	// At the limits.
	for _, signed := range []string{
		sign("k", "s", b64(append([]byte("{}"), bytes.Repeat([]byte(" "), 998)...))+":1c"),
		sign("k", "s", "."+b64(zlibBytes(t, append([]byte("{}"), bytes.Repeat([]byte(" "), 998)...)))+":1c"),
		sign("k", "s", b64([]byte("{}"))+":1a"), // 2 seconds old, max age 2s: not expired
	} {
		if _, err := s.Loads(signed, 2*time.Second); err != nil {
			t.Errorf("%s: %v", signed, err)
		}
	}
	// Loads needs an object; Open returns whatever is signed.
	arr := sign("k", "s", b64([]byte("[1]"))+":1c")
	if data, err := s.Open(arr, 0); err != nil || string(data) != "[1]" {
		t.Errorf("Open = %q, %v", data, err)
	}
	if _, err := s.Loads(arr, 0); !errors.Is(err, session.ErrCorrupt) {
		t.Errorf("Loads of an array: %v", err)
	}
}

// zipBomb returns a zlib stream that inflates to at least n zero bytes, in
// about n/160 bytes: one fixed-Huffman block of a literal 0 followed by
// copies of 258 bytes at distance 1. It never ends; Open must stop reading
// it long before.
func zipBomb(n int) []byte {
	out := []byte{0x78, 0x01}
	var acc uint64
	var nbits uint
	put := func(v uint64, bits uint) { // LSB first
		acc |= v << nbits
		nbits += bits
		for nbits >= 8 {
			out = append(out, byte(acc))
			acc >>= 8
			nbits -= 8
		}
	}
	code := func(c uint64, bits uint) { // Huffman codes go MSB first
		var r uint64
		for i := range bits {
			r |= (c >> i & 1) << (bits - 1 - i)
		}
		put(r, bits)
	}
	put(1, 1)           // BFINAL
	put(1, 2)           // BTYPE 01: fixed Huffman codes
	code(0b00110000, 8) // literal 0
	for range n/258 + 1 {
		code(0b11000101, 8) // length code 285: 258 bytes
		code(0, 5)          // distance code 0: distance 1
	}
	return out
}

// TestSigner_ZipBomb checks that a small signed payload that inflates to
// 256 MiB costs about twice MaxPayload of memory, not 256 MiB.
func TestSigner_ZipBomb(t *testing.T) {
	bomb := zipBomb(256 << 20)
	signed := sign("k", "s", "."+base64.RawURLEncoding.EncodeToString(bomb)+":0")
	for _, limit := range []int{0, 100 << 10} {
		s := &djangosession.Signer{Key: "k", Salt: "s", MaxPayload: limit}
		if limit == 0 {
			limit = djangosession.DefaultMaxPayload
		}
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := s.Open(signed, 0)
		runtime.ReadMemStats(&after)
		if !errors.Is(err, djangosession.ErrPayloadTooLarge) {
			t.Fatalf("limit %d: err = %v, want ErrPayloadTooLarge", limit, err)
		}
		// The decoded base64 (1.6 MiB), the inflater, and at most twice the
		// limit for the output.
		alloc, most := after.TotalAlloc-before.TotalAlloc, uint64(len(bomb)+2*limit+512<<10)
		t.Logf("limit %d: %d bytes allocated, bound %d", limit, alloc, most)
		if alloc > most {
			t.Errorf("limit %d: opening the bomb allocated %d bytes, more than %d", limit, alloc, most)
		}
	}
}

func TestSigner_Fallbacks(t *testing.T) {
	old := &djangosession.Signer{Key: "old", Salt: "s", Now: at(10)}
	signed, err := old.Dumps(map[string]any{"a": int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	for _, fallbacks := range [][]string{{"old"}, {"x", "old"}, {"x", "y", "old"}} {
		s := &djangosession.Signer{Key: "new", FallbackKeys: fallbacks, Salt: "s"}
		if _, err := s.Loads(signed, 0); err != nil {
			t.Errorf("fallbacks %v: %v", fallbacks, err)
		}
		// Signing uses the current key.
		again, _ := s.Sign([]byte("{}"))
		if _, err := (&djangosession.Signer{Key: "old", Salt: "s"}).Open(again, 0); !errors.Is(err, djangosession.ErrBadSignature) {
			t.Errorf("signed with a fallback key: %v", err)
		}
		if _, err := (&djangosession.Signer{Key: "new", Salt: "s"}).Open(again, 0); err != nil {
			t.Errorf("not signed with the current key: %v", err)
		}
	}
	if _, err := (&djangosession.Signer{Key: "new", FallbackKeys: []string{"x"}, Salt: "s"}).Open(signed, 0); !errors.Is(err, djangosession.ErrBadSignature) {
		t.Errorf("without the old key: %v", err)
	}
}

func TestSettings_CookieAge(t *testing.T) {
	values := map[string]any{"k": "v"}
	cookie, err := (&djangosession.Settings{SecretKey: "k", Now: at(1000)}).EncodeCookie(values)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		age     time.Duration
		now     float64
		expired bool
	}{
		{0, 1000 + 1209600, false},
		{0, 1000 + 1209600.5, true},
		{time.Hour, 1000 + 3600, false},
		{time.Hour, 1000 + 3601, true},
	}
	for _, c := range cases {
		st := &djangosession.Settings{SecretKey: "k", SessionCookieAge: c.age, Now: at(c.now)}
		_, err := st.DecodeCookie(cookie)
		if got := errors.Is(err, djangosession.ErrExpiredSignature); got != c.expired || (err != nil && !got) {
			t.Errorf("age %v at %v: err = %v, want expired %v", c.age, c.now, err, c.expired)
		}
	}
	// DecodeSession checks no age; the session salt is not the cookie's.
	st := &djangosession.Settings{SecretKey: "k", Now: at(1e9)}
	data, _ := (&djangosession.Settings{SecretKey: "k", Now: at(0)}).EncodeSession(values)
	if _, err := st.DecodeSession(data); err != nil {
		t.Errorf("DecodeSession of old data: %v", err)
	}
	if _, err := st.DecodeSession(cookie); !errors.Is(err, djangosession.ErrBadSignature) {
		t.Errorf("DecodeSession of a cookie: %v", err)
	}
	if _, err := (&djangosession.Settings{SecretKey: "k", Now: at(0)}).DecodeCookie(data); !errors.Is(err, djangosession.ErrBadSignature) {
		t.Errorf("DecodeCookie of session data: %v", err)
	}
}

func TestSigner_Concurrent(t *testing.T) {
	st := &djangosession.Settings{SecretKey: "k", SecretKeyFallbacks: []string{"old"}}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 50 {
				values := map[string]any{"g": int64(g), "i": int64(i), "text": strings.Repeat("x", i*10)}
				data, err := st.EncodeSession(values)
				if err != nil {
					t.Error(err)
					return
				}
				back, err := st.DecodeSession(data)
				if err != nil || back["g"] != int64(g) || back["i"] != int64(i) {
					t.Errorf("round trip: %v, %v", back, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkSettings(b *testing.B) {
	st := &djangosession.Settings{SecretKey: "django-insecure-0123456789"}
	values := map[string]any{
		djangosession.UserIDKey:      "8412",
		djangosession.UserBackendKey: "django.contrib.auth.backends.ModelBackend",
		djangosession.UserHashKey:    "f3b1c2d4e5a6978812345678abcdef0123456789abcdef0123456789abcdef01",
		"cart":                       []any{int64(1), int64(2), 3.5, "four"},
	}
	data, _ := st.EncodeSession(values)
	b.Run("EncodeSession", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = st.EncodeSession(values)
		}
	})
	b.Run("DecodeSession", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = st.DecodeSession(data)
		}
	})
}
