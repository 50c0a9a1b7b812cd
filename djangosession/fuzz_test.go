package djangosession_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangosession"
)

// fuzzMaxPayload keeps the fuzzer's memory small: Open must never return
// more, whatever the input inflates to.
const fuzzMaxPayload = 64 << 10

// FuzzOpen feeds Open arbitrary signed values. Random signatures never
// verify, so when signIt is set the input is taken as the part before the
// signature and signed correctly: that drives the payload decoding (base64,
// zlib, the bound, the timestamp, the JSON) that only authentic values
// reach. Open must not panic, must return no more than MaxPayload, and must
// fail only with errors wrapping session.ErrCorrupt.
func FuzzOpen(f *testing.F) {
	b64 := base64.RawURLEncoding.EncodeToString
	z := func(b []byte) string { return "." + b64(zlibBytes(f, b)) }
	for _, v := range vectors {
		f.Add(v.want, false)
		f.Add(v.want[:strings.LastIndexByte(v.want, ':')], true)
	}
	for _, seed := range []string{
		"", ":", "::", ".", ".:", "e30", "e30:", "e30:0", "e30:-1", "e30:zzzzzzzzzzzz", ".e30:0", "e30=:0", "eyJ9:0",
		z([]byte(`{"a":1}`)) + ":1vb66i",
		z(bytes.Repeat([]byte("a"), 1<<20)) + ":0",                 // inflates past the bound
		z([]byte(`{"a":[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]}`)) + ":0", // nesting
		b64([]byte(`{"s":"\ud800","n":1e400,"i":18446744073709551616}`)) + ":0",
		b64([]byte("{\"latin\":\"\xe9\"}")) + ":0",
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	s := &djangosession.Signer{Key: "fuzz-key", Salt: "fuzz", MaxPayload: fuzzMaxPayload}
	f.Fuzz(func(t *testing.T, in string, signIt bool) {
		if signIt {
			in = sign("fuzz-key", "fuzz", in)
		}
		data, err := s.Open(in, 0)
		if err != nil {
			if !errors.Is(err, session.ErrCorrupt) {
				t.Fatalf("Open: %v does not wrap session.ErrCorrupt", err)
			}
			return
		}
		if len(data) > fuzzMaxPayload {
			t.Fatalf("Open returned %d bytes, over MaxPayload", len(data))
		}
		m, err := s.Loads(in, 0)
		if err != nil {
			if !errors.Is(err, session.ErrCorrupt) {
				t.Fatalf("Loads: %v does not wrap session.ErrCorrupt", err)
			}
			return
		}
		// What Loads accepts signs again and reads back the same.
		again, err := s.Dumps(m)
		if err != nil {
			t.Fatalf("Dumps of a decoded session: %v", err)
		}
		back, err := s.Loads(again, 0)
		if err != nil || !equalValues(back, m) {
			t.Fatalf("round trip: %v\n got %#v\nwant %#v", err, back, m)
		}
	})
}

// FuzzDecode checks that Decode never panics, fails only with
// session.ErrCorrupt, and that what it accepts encodes and reads back the
// same.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{"a":1,"b":[1.0,0.1,-0.0,1e400,NaN,-Infinity],"c":{"d":null,"e":true}}`,
		`{"s":"\u00e9\ud83d\ude00\ud800\\\"\/\b\f\n\r\t"}`, "{\"l\":\"\xe9\xff\"}",
		`{"i":9223372036854775808,"j":-9223372036854775808,"k":18446744073709551616}`,
		`{"a":1,"a":2}`, ` { "x" : [ ] } `, `{"x":01}`, `{"x":1.}`, `[`, `{"`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := djangosession.Codec{}.Decode(in)
		if err != nil {
			if !errors.Is(err, session.ErrCorrupt) {
				t.Fatalf("Decode: %v does not wrap session.ErrCorrupt", err)
			}
			return
		}
		out, err := djangosession.Codec{}.Encode(nil, m)
		if err != nil {
			t.Fatalf("Encode of a decoded session: %v", err)
		}
		for _, c := range out {
			if c < 0x20 || c > 0x7e {
				t.Fatalf("Encode wrote byte %#x: %q", c, out)
			}
		}
		back, err := djangosession.Codec{}.Decode(out)
		if err != nil || !equalValues(back, m) {
			t.Fatalf("round trip of %q: %v\n got %#v\nwant %#v", out, err, back, m)
		}
	})
}

// equalValues is reflect.DeepEqual with NaN equal to NaN and -0.0 unequal
// to 0.0.
func equalValues(a, b any) bool {
	switch x := a.(type) {
	case float64:
		y, ok := b.(float64)
		return ok && (math.IsNaN(x) && math.IsNaN(y) || x == y && math.Signbit(x) == math.Signbit(y))
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValues(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !equalValues(v, w) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}
