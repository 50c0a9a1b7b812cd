package djangosession_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangosession"
)

// The tests in this file run Django itself (see oracle_test.go), one Python
// process per test, and compare what it does with this package.

// t0 is the clock of the tests: a fractional second, which Django
// truncates.
const t0 = 1767225600.75

func at(sec float64) func() time.Time {
	whole, frac := math.Modf(sec)
	t := time.Unix(int64(whole), int64(math.Round(frac*1e9)))
	return func() time.Time { return t }
}

// interopCases are session dicts of every JSON type: nested, Unicode
// beyond the BMP, big integers, floats like 1.0 and 0.1, empty structures,
// long payloads that compress and short ones that do not.
func interopCases() map[string]map[string]any {
	deep := any("bottom")
	for range 64 {
		deep = []any{deep}
	}
	r := rand.New(rand.NewPCG(7, 7))
	random := make([]byte, 3000)
	for i := range random {
		random[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"[r.IntN(64)]
	}
	return map[string]map[string]any{
		"empty":            {},
		"small":            {"a": int64(1)},
		"scalars":          {"nil": nil, "t": true, "f": false, "zero": int64(0), "neg": int64(-1), "max": int64(math.MaxInt64), "min": int64(math.MinInt64), "umax": uint64(math.MaxUint64), "ubig": uint64(1 << 63)},
		"floats":           {"one": 1.0, "tenth": 0.1, "negzero": math.Copysign(0, -1), "big": 1e16, "below": 1e15, "tiny": 1e-05, "small": 0.0001, "sub": 5e-324, "max": math.MaxFloat64, "pi": math.Pi, "third": 1.0 / 3, "neg": -2.5e-300},
		"nonfinite":        {"nan": math.NaN(), "inf": math.Inf(1), "ninf": math.Inf(-1)},
		"strings":          {"empty": "", "ascii": "Sonam", "latin": "café", "devanagari": "नमस्ते", "emoji": "😀🌏", "controls": "\x00\x01\x1f\x7f", "escapes": "\"\\/\n\r\t\b\f", "separators": "\u2028\u2029", "bmpmax": "\uffff", "mixed": "a\u00e9😀b"},
		"unicode keys":     {"ключ": "значение", "😀": int64(1), "": "empty key"},
		"nested":           {"list": []any{int64(1), "two", 3.0, []any{true, nil}, map[string]any{"x": []any{}}}, "map": map[string]any{"inner": map[string]any{"deep": []any{uint64(math.MaxUint64), -0.5}}, "empty": map[string]any{}}},
		"empty structures": {"l": []any{}, "m": map[string]any{}, "s": ""},
		"deep":             {"d": deep},
		"compresses":       {"text": strings.Repeat("session data ", 500)},
		"random":           {"r": string(random)},
		"just short":       {"k": "abcabcabcabc"},
		"repeats":          {"k": strings.Repeat("a", 40)},
		"auth": {
			djangosession.UserIDKey:      "8412",
			djangosession.UserBackendKey: "django.contrib.auth.backends.ModelBackend",
			djangosession.UserHashKey:    "f3b1c2d4e5a6978812345678abcdef0123456789abcdef0123456789abcdef01",
			djangosession.ExpiryKey:      int64(1800),
		},
		"go kinds": {"int": 42, "int32": int32(-7), "uint8": uint8(255), "float32": float32(0.1), "strings": []string{"a", "b"}, "map": map[string]string{"k": "v"}},
	}
}

func canonical(t *testing.T, values map[string]any) string {
	t.Helper()
	b, err := djangosession.Codec{}.Encode(nil, values)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDjango_GoWritesDjangoReads encodes with this package and has Django
// decode; it also has Django encode the same dict at the same second and
// requires the same bytes.
func TestDjango_GoWritesDjangoReads(t *testing.T) {
	t.Parallel()
	const key = "django-insecure-interop"
	st := &djangosession.Settings{SecretKey: key, Now: at(t0)}
	later := &djangosession.Settings{SecretKey: key, Now: at(t0 + 3600)}
	salted := st.Signer("my.app.salt")
	plain := st.Signer("")

	type check struct {
		name, what, want string
		reset            bool
	}
	var ops []op
	var checks []check
	add := func(c check, o op) {
		o["key"] = key
		ops = append(ops, o)
		checks = append(checks, c)
	}
	for name, values := range interopCases() {
		js := canonical(t, values)
		data, err := st.EncodeSession(values)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		cookie, err := st.EncodeCookie(values)
		if err != nil {
			t.Fatal(err)
		}
		signed, err := salted.Dumps(values)
		if err != nil {
			t.Fatal(err)
		}
		unsalted, err := plain.Dumps(values)
		if err != nil {
			t.Fatal(err)
		}
		// Round trip through this package too.
		back, err := later.DecodeSession(data)
		if err != nil {
			t.Fatalf("%s: DecodeSession: %v", name, err)
		}
		if got := canonical(t, back); got != js {
			t.Errorf("%s: Go round trip\n got %s\nwant %s", name, got, js)
		}

		for _, backend := range []string{"db", "file", "cached_db"} {
			add(check{name, backend + " encode", data, false}, op{"op": "encode", "backend": backend, "obj": js, "time": t0})
			add(check{name, backend + " decode", js, false}, op{"op": "decode", "backend": backend, "data": data})
		}
		add(check{name, "cookie save", cookie, false}, op{"op": "cookie_save", "obj": js, "time": t0})
		add(check{name, "cookie load", js, false}, op{"op": "cookie_load", "cookie": cookie, "time": t0 + 3600})
		add(check{name, "dumps", signed, false}, op{"op": "dumps", "obj": js, "salt": "my.app.salt", "time": t0})
		add(check{name, "loads", js, false}, op{"op": "loads", "signed": signed, "salt": "my.app.salt", "time": t0})
		add(check{name, "dumps default salt", unsalted, false}, op{"op": "dumps", "obj": js, "salt": nil, "time": t0})
		add(check{name, "loads default salt", js, false}, op{"op": "loads", "signed": unsalted, "salt": nil, "time": t0})
	}
	res := runDjango(t, ops)
	for i, c := range checks {
		if res[i].Error != "" {
			t.Errorf("%s: %s: Django raised %s", c.name, c.what, res[i].Error)
			continue
		}
		if res[i].Out != c.want {
			if strings.HasPrefix(c.want, ".") || strings.HasPrefix(res[i].Out, ".") {
				// Another zlib: the same JSON, other compressed bytes,
				// which Django read above.
				continue
			}
			t.Errorf("%s: %s:\nDjango %s\n    Go %s", c.name, c.what, res[i].Out, c.want)
		}
		if res[i].Reset != c.reset {
			t.Errorf("%s: %s: reset %v", c.name, c.what, res[i].Reset)
		}
	}
	// Something compressed and something did not.
	cases := interopCases()
	for name, dot := range map[string]bool{"compresses": true, "small": false, "just short": false} {
		data, _ := st.EncodeSession(cases[name])
		if strings.HasPrefix(data, ".") != dot {
			t.Errorf("%s: compressed %v, want %v: %s", name, !dot, dot, data)
		}
	}
}

// TestDjango_DjangoWritesGoReads has Django encode with every backend and
// salt, and decodes with this package.
func TestDjango_DjangoWritesGoReads(t *testing.T) {
	t.Parallel()
	const key = "django-insecure-other-way"
	st := &djangosession.Settings{SecretKey: key, Now: at(t0 + 60)}

	type decodeFunc func(string) (map[string]any, error)
	salted := st.Signer("my.app.salt")
	plain := st.Signer("")
	kinds := []struct {
		name   string
		op     op
		decode decodeFunc
	}{
		{"db", op{"op": "encode", "backend": "db"}, st.DecodeSession},
		{"file", op{"op": "encode", "backend": "file"}, st.DecodeSession},
		{"cookie", op{"op": "cookie_save"}, st.DecodeCookie},
		{"dumps", op{"op": "dumps", "salt": "my.app.salt"}, func(s string) (map[string]any, error) { return salted.Loads(s, time.Hour) }},
		{"dumps default salt", op{"op": "dumps", "salt": nil}, func(s string) (map[string]any, error) { return plain.Loads(s, 0) }},
	}
	var ops []op
	type check struct {
		name, kind, js string
		decode         decodeFunc
	}
	var checks []check
	for name, values := range interopCases() {
		js := canonical(t, values)
		for _, k := range kinds {
			o := op{"obj": js, "key": key, "time": t0}
			for f, v := range k.op {
				o[f] = v
			}
			ops = append(ops, o)
			checks = append(checks, check{name, k.name, js, k.decode})
		}
	}
	pyCases := []string{"unsorted", "bigint", "bigneg", "maxuint", "nonfinite", "surrogate", "tuple", "floats", "auth"}
	for _, name := range pyCases {
		ops = append(ops, op{"op": "pycase", "name": name, "key": key})
	}
	res := runDjango(t, ops)
	for i, c := range checks {
		got, err := c.decode(res[i].Out)
		if err != nil {
			t.Errorf("%s: %s: %v", c.name, c.kind, err)
			continue
		}
		if js := canonical(t, got); js != c.js {
			t.Errorf("%s: %s:\n got %s\nwant %s", c.name, c.kind, js, c.js)
		}
	}

	py := map[string]result{}
	for i, name := range pyCases {
		py[name] = res[len(checks)+i]
	}
	decode := func(name string) map[string]any {
		t.Helper()
		v, err := st.DecodeSession(py[name].Out)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return v
	}
	// Insertion order is Python's; Go writes keys sorted, as sort_keys.
	for _, name := range []string{"unsorted", "nonfinite", "tuple", "floats", "maxuint"} {
		if got := canonical(t, decode(name)); got != py[name].Canon {
			t.Errorf("%s:\n got %s\nwant %s", name, got, py[name].Canon)
		}
	}
	// Integers beyond 64 bits: an error, not a rounded number.
	for _, name := range []string{"bigint", "bigneg"} {
		_, err := st.DecodeSession(py[name].Out)
		if !errors.Is(err, session.ErrCorrupt) || errors.Is(err, djangosession.ErrBadSignature) {
			t.Errorf("%s: err = %v, want ErrCorrupt (not a signature error)", name, err)
		}
	}
	m := decode("maxuint")
	if m["max"] != uint64(math.MaxUint64) || m["min"] != int64(math.MinInt64) || m["maxint"] != int64(math.MaxInt64) {
		t.Errorf("maxuint: %#v", m)
	}
	if m := decode("nonfinite"); !math.IsNaN(m["nan"].(float64)) || !math.IsInf(m["inf"].(float64), 1) || !math.IsInf(m["ninf"].(float64), -1) {
		t.Errorf("nonfinite: %#v", m)
	}
	if m := decode("surrogate"); m["s"] != "a\uFFFDb" {
		t.Errorf("surrogate: %q", m["s"])
	}
	if m := decode("tuple"); fmt.Sprint(m["t"]) != "[1 two 3]" {
		t.Errorf("tuple: %#v", m["t"])
	} else if _, ok := m["t"].([]any)[2].(float64); !ok {
		t.Errorf("tuple: 3.0 decoded as %T", m["t"].([]any)[2])
	}
	auth := decode("auth")
	if id, ok := djangosession.UserID(auth); !ok || id != "42" {
		t.Errorf("UserID = %q, %v", id, ok)
	}
	if e, err := djangosession.ReadExpiry(auth); err != nil || e.Kind != djangosession.ExpiryAge || e.Age != 300*time.Second {
		t.Errorf("ReadExpiry = %+v, %v", e, err)
	}
}

// TestDjango_Floats checks that floats are written as Python's repr writes
// them: Django parses the Go JSON and writes it back, and the text must not
// change.
func TestDjango_Floats(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(3, 4))
	var fs []any
	for range 3000 {
		var f float64
		switch r.IntN(4) {
		case 0:
			f = math.Float64frombits(r.Uint64())
		case 1:
			f = r.Float64() * math.Pow(10, float64(r.IntN(40)-20))
		case 2:
			f = float64(r.IntN(1e6)) / 1000
		default:
			f = float64(r.Int64N(1<<53)) * math.Pow(10, float64(r.IntN(10)))
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			continue
		}
		fs = append(fs, f)
	}
	for e := -330; e <= 310; e++ {
		fs = append(fs, math.Pow(10, float64(e)), 1.5*math.Pow(10, float64(e)))
	}
	values := map[string]any{"f": fs}
	st := &djangosession.Settings{SecretKey: "k", Now: at(t0)}
	data, err := st.EncodeSession(values)
	if err != nil {
		t.Fatal(err)
	}
	res := runDjango(t, []op{{"op": "decode", "backend": "db", "data": data, "key": "k"}})
	if want := canonical(t, values); res[0].Out != want {
		got, want := strings.Split(res[0].Out, ","), strings.Split(want, ",")
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Errorf("Python writes %s, Go %s", got[i], want[i])
			}
		}
	}
}

// TestDjango_Tampering checks tampered data, wrong keys and salts, and key
// rotation, both ways.
func TestDjango_Tampering(t *testing.T) {
	t.Parallel()
	const oldKey, newKey = "old-secret-key", "new-secret-key"
	values := map[string]any{"user": "8412", "cart": []any{int64(1), int64(2)}, "text": strings.Repeat("long ", 100)}
	js := canonical(t, values)
	short := map[string]any{"user": "8412"}
	shortJS := canonical(t, short)

	// Go signs with the new key (the old one a fallback); Django with the
	// new key must read it, Django with the old one, or tampered data, not.
	rotated := &djangosession.Signer{Key: newKey, FallbackKeys: []string{"unrelated", oldKey}, Salt: "s", Now: at(t0)}
	goSigned, err := rotated.Dumps(values)
	if err != nil {
		t.Fatal(err)
	}
	goData, err := (&djangosession.Settings{SecretKey: newKey, SecretKeyFallbacks: []string{oldKey}, Now: at(t0)}).EncodeSession(values)
	if err != nil {
		t.Fatal(err)
	}
	tampered := []byte(goData)
	tampered[5] ^= 1

	res := runDjango(t, []op{
		// Django signs with the old key, for Go to open.
		{"op": "dumps", "obj": js, "key": oldKey, "salt": "s", "time": t0},
		{"op": "dumps", "obj": shortJS, "key": oldKey, "salt": "s", "time": t0},
		{"op": "encode", "backend": "db", "obj": js, "key": oldKey, "time": t0},
		// Django opens what Go signed.
		{"op": "loads", "signed": goSigned, "key": newKey, "salt": "s", "time": t0},
		{"op": "loads", "signed": goSigned, "key": oldKey, "salt": "s", "time": t0},
		{"op": "loads", "signed": goSigned, "key": newKey, "salt": "other", "time": t0},
		{"op": "loads", "signed": goSigned[:len(goSigned)-2], "key": newKey, "salt": "s", "time": t0},
		{"op": "decode", "backend": "db", "data": goData, "key": newKey},
		{"op": "decode", "backend": "db", "data": goData, "key": oldKey},
		{"op": "decode", "backend": "db", "data": string(tampered), "key": newKey},
	})
	compressed, plain, data := res[0].Out, res[1].Out, res[2].Out
	if !strings.HasPrefix(compressed, ".") || strings.HasPrefix(plain, ".") {
		t.Fatalf("test data: %s %s", compressed, plain)
	}

	open := func(s *djangosession.Signer, signed string) error {
		_, err := s.Open(signed, 0)
		return err
	}
	for _, signed := range []string{compressed, plain} {
		if err := open(&djangosession.Signer{Key: oldKey, Salt: "s"}, signed); err != nil {
			t.Errorf("intact: %v", err)
		}
		if err := open(rotated, signed); err != nil {
			t.Errorf("rotated key, old one in fallbacks: %v", err)
		}
		bad := map[string]error{
			"new key only":     open(&djangosession.Signer{Key: newKey, Salt: "s"}, signed),
			"wrong salt":       open(&djangosession.Signer{Key: oldKey, Salt: "t"}, signed),
			"default salt":     open(&djangosession.Signer{Key: oldKey}, signed),
			"no separator":     open(&djangosession.Signer{Key: oldKey, Salt: "s"}, strings.ReplaceAll(signed, ":", "")),
			"truncated":        open(&djangosession.Signer{Key: oldKey, Salt: "s"}, signed[:len(signed)-1]),
			"empty":            open(&djangosession.Signer{Key: oldKey, Salt: "s"}, ""),
			"no compress flag": open(&djangosession.Signer{Key: oldKey, Salt: "s"}, strings.TrimPrefix(signed, ".")),
			"added flag":       open(&djangosession.Signer{Key: oldKey, Salt: "s"}, "."+signed),
		}
		for i := range len(signed) {
			if signed[i] == ':' || signed[i] == '.' {
				continue
			}
			b := []byte(signed)
			b[i] ^= 1 // flip one bit of one character
			bad["flipped at "+strconv.Itoa(i)] = open(&djangosession.Signer{Key: oldKey, Salt: "s"}, string(b))
		}
		for what, err := range bad {
			if what == "no compress flag" && !strings.HasPrefix(signed, ".") || what == "added flag" && strings.HasPrefix(signed, ".") {
				continue // unchanged or still valid
			}
			if !errors.Is(err, djangosession.ErrBadSignature) {
				t.Errorf("%s: err = %v, want ErrBadSignature", what, err)
			}
			if !errors.Is(err, session.ErrCorrupt) {
				t.Errorf("%s: %v does not wrap session.ErrCorrupt", what, err)
			}
		}
	}
	// Session data of the db backend, with the rotated settings.
	st := &djangosession.Settings{SecretKey: newKey, SecretKeyFallbacks: []string{oldKey}}
	if got, err := st.DecodeSession(data); err != nil || canonical(t, got) != js {
		t.Errorf("DecodeSession with fallback: %v", err)
	}
	if _, err := (&djangosession.Settings{SecretKey: newKey}).DecodeSession(data); !errors.Is(err, djangosession.ErrBadSignature) {
		t.Errorf("DecodeSession without fallback: %v", err)
	}

	// The other way.
	res = res[3:]
	if res[0].Out != js {
		t.Errorf("Django with the new key: %+v", res[0])
	}
	for i, what := range []string{"old key", "other salt", "truncated signature"} {
		if r := res[1+i]; r.Error != "BadSignature" {
			t.Errorf("Django, %s: %+v, want BadSignature", what, r)
		}
	}
	if res[4].Out != js {
		t.Errorf("SessionStore.decode, new key: %s", res[4].Out)
	}
	if res[5].Out != "{}" || res[6].Out != "{}" {
		t.Errorf("SessionStore.decode of bad data: %s, %s; want {} (an empty session)", res[5].Out, res[6].Out)
	}
}

// TestDjango_MaxAge compares expiry verdicts with Django's TimestampSigner
// and the signed_cookies backend, around the boundaries.
func TestDjango_MaxAge(t *testing.T) {
	t.Parallel()
	const key = "max-age-key"
	values := map[string]any{"k": "v"}
	js := canonical(t, values)

	type check struct {
		signed string
		maxAge float64 // seconds
		now    float64
		cookie bool
	}
	var ops []op
	var checks []check
	for _, signedAt := range []float64{t0, 1767225600, 1767225600.999} {
		s := &djangosession.Signer{Key: key, Salt: "age", Now: at(signedAt)}
		signed, err := s.Dumps(values)
		if err != nil {
			t.Fatal(err)
		}
		base := math.Trunc(signedAt) // what the timestamp says
		for _, maxAge := range []float64{1, 10, 1209600} {
			for _, delta := range []float64{-100, 0, 0.5, maxAge - 0.001, maxAge, maxAge + 0.001, maxAge + 0.5, maxAge + 1, 1e7} {
				now := base + delta
				ops = append(ops, op{"op": "loads", "signed": signed, "key": key, "salt": "age", "max_age": maxAge, "time": now})
				checks = append(checks, check{signed, maxAge, now, false})
			}
		}
		cookie, err := (&djangosession.Settings{SecretKey: key, Now: at(signedAt)}).EncodeCookie(values)
		if err != nil {
			t.Fatal(err)
		}
		for _, delta := range []float64{0, 1209599.5, 1209600, 1209600.25, 1209601} {
			now := base + delta
			ops = append(ops, op{"op": "cookie_load", "cookie": cookie, "key": key, "time": now})
			checks = append(checks, check{cookie, 1209600, now, true})
		}
	}
	res := runDjango(t, ops)
	for i, c := range checks {
		var err error
		if c.cookie {
			_, err = (&djangosession.Settings{SecretKey: key, Now: at(c.now)}).DecodeCookie(c.signed)
		} else {
			s := &djangosession.Signer{Key: key, Salt: "age", Now: at(c.now)}
			_, err = s.Loads(c.signed, time.Duration(c.maxAge*float64(time.Second)))
		}
		djangoExpired := res[i].Error == "SignatureExpired" || res[i].Reset
		goExpired := errors.Is(err, djangosession.ErrExpiredSignature)
		if err != nil && !goExpired {
			t.Errorf("max age %v at %v: unexpected error %v", c.maxAge, c.now, err)
		}
		if djangoExpired != goExpired {
			t.Errorf("max age %v, now %.3f, signed %s: Django expired %v (%+v), Go %v (%v)", c.maxAge, c.now, c.signed, djangoExpired, res[i], goExpired, err)
		}
		if !djangoExpired && res[i].Out != js {
			t.Errorf("Django read %s", res[i].Out)
		}
		if goExpired && !errors.Is(err, djangosession.ErrBadSignature) {
			t.Errorf("ErrExpiredSignature does not wrap ErrBadSignature")
		}
	}
}

// TestDjango_SessionKeys checks the keys this package issues against
// Django's rules, and records what Django accepts.
func TestDjango_SessionKeys(t *testing.T) {
	t.Parallel()
	keys := []string{djangosession.NewSessionKey(), djangosession.NewSessionKey(), "abcdefgh", "ABCDEFG!", "short", "../../etc/passwd", strings.Repeat("a", 40)}
	var ops []op
	for _, k := range keys {
		ops = append(ops, op{"op": "validate_key", "session_key": k})
	}
	res := runDjango(t, ops)
	want := []struct{ valid, fileOK, ours bool }{
		{true, true, true}, {true, true, true},
		{true, true, false},  // Django accepts any 8+ characters...
		{true, false, false}, // ...of any kind, except in the file backend
		{false, true, false}, // under 8: refused
		{true, false, false}, // the file backend refuses path characters
		{true, true, false},  // longer than issued
	}
	for i, k := range keys {
		if res[i].Valid != want[i].valid || res[i].FileOK != want[i].fileOK {
			t.Errorf("%q: Django valid %v, file backend %v; want %v, %v", k, res[i].Valid, res[i].FileOK, want[i].valid, want[i].fileOK)
		}
		if got := djangosession.ValidSessionKey(k); got != want[i].ours {
			t.Errorf("ValidSessionKey(%q) = %v", k, got)
		}
	}
}

// TestDjango_ExpiryTimes reads the isoformat() strings Python writes for
// set_expiry(datetime) in the Django releases that store it as a string.
func TestDjango_ExpiryTimes(t *testing.T) {
	t.Parallel()
	res := runDjango(t, []op{{"op": "isoformat"}})
	var pairs [][2]any
	if err := json.Unmarshal([]byte(res[0].Out), &pairs); err != nil {
		t.Fatal(err)
	}
	for _, p := range pairs {
		iso, ts := p[0].(string), p[1].(float64)
		e, err := djangosession.ReadExpiry(map[string]any{djangosession.ExpiryKey: iso})
		if err != nil {
			t.Errorf("%s: %v", iso, err)
			continue
		}
		want := at(ts)()
		if d := e.At.Sub(want); e.Kind != djangosession.ExpiryAt || d < -time.Microsecond || d > time.Microsecond || e.At.Location() != time.UTC {
			t.Errorf("%s: %+v, want %v", iso, e, want.UTC())
		}
	}
}
