package djangosession_test

import (
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangosession"
)

type role string

type point struct{ X, Y int }

func encode(t *testing.T, values map[string]any) string {
	t.Helper()
	b, err := djangosession.Codec{}.Encode(nil, values)
	if err != nil {
		t.Fatalf("Encode(%v): %v", values, err)
	}
	return string(b)
}

func TestCodec_Encode(t *testing.T) {
	cases := []struct {
		values map[string]any
		want   string
	}{
		{map[string]any{}, `{}`},
		{map[string]any{"b": int64(2), "a": int64(1), "c": nil}, `{"a":1,"b":2,"c":null}`},
		{map[string]any{"t": true, "f": false}, `{"f":false,"t":true}`},
		{map[string]any{"i": int64(math.MinInt64), "u": uint64(math.MaxUint64)}, `{"i":-9223372036854775808,"u":18446744073709551615}`},
		{map[string]any{"f": []any{1.0, 0.1, math.Copysign(0, -1), 1e16, 1e15, 1e-05, 0.0001, 1.5e-07, 5e-324, 123456789.125, 1e22, -2.5}},
			`{"f":[1.0,0.1,-0.0,1e+16,1000000000000000.0,1e-05,0.0001,1.5e-07,5e-324,123456789.125,1e+22,-2.5]}`},
		{map[string]any{"n": []any{math.NaN(), math.Inf(1), math.Inf(-1)}}, `{"n":[NaN,Infinity,-Infinity]}`},
		{map[string]any{"s": "a\"b\\c/d\ne\rf\tg\bh\fi\x00j\x1fk\x7fl"}, `{"s":"a\"b\\c/d\ne\rf\tg\bh\fi\u0000j\u001fk\u007fl"}`},
		{map[string]any{"s": "café 😀 \u2028 \uffff"}, `{"s":"caf\u00e9 \ud83d\ude00 \u2028 \uffff"}`},
		{map[string]any{"é": "x"}, `{"\u00e9":"x"}`},
		{map[string]any{"l": []any{}, "m": map[string]any{}, "n": []any{[]any{map[string]any{"z": int64(0), "y": ""}}}}, `{"l":[],"m":{},"n":[[{"y":"","z":0}]]}`},
		// Go types outside the session model, as Session.Set would normalize them.
		{map[string]any{"int": 7, "i8": int8(-8), "u16": uint16(65535), "f32": float32(0.5), "role": role("admin")}, `{"f32":0.5,"i8":-8,"int":7,"role":"admin","u16":65535}`},
		{map[string]any{"ss": []string{"a", "b"}, "ms": map[string]string{"k": "v"}, "arr": [2]int{1, 2}, "nilslice": []int(nil)}, `{"arr":[1,2],"ms":{"k":"v"},"nilslice":[],"ss":["a","b"]}`},
		{map[string]any{"p": &[]int{1}, "nilp": (*int)(nil), "named": map[role]any{"r": true}}, `{"named":{"r":true},"nilp":null,"p":[1]}`},
	}
	for _, c := range cases {
		if got := encode(t, c.values); got != c.want {
			t.Errorf("Encode(%v)\n got %s\nwant %s", c.values, got, c.want)
		}
	}
	// Encode appends.
	b, err := djangosession.Codec{}.Encode([]byte("prefix:"), map[string]any{"a": int64(1)})
	if err != nil || string(b) != `prefix:{"a":1}` {
		t.Errorf("Encode appended %q, %v", b, err)
	}
}

func TestCodec_EncodeUnsupported(t *testing.T) {
	deep := any(int64(1))
	for range 65 {
		deep = []any{deep}
	}
	cyclic := []any{nil}
	cyclic[0] = cyclic
	cases := []struct {
		values map[string]any
		want   string // in the message
	}{
		{map[string]any{"avatar": []byte{1, 2}}, `key "avatar": session: unsupported value type: []byte`},
		{map[string]any{"uuid": [16]byte{}}, `key "uuid": session: unsupported value type: [16]uint8`},
		{map[string]any{"when": time.Now()}, `key "when": session: unsupported value type: time.Time`},
		{map[string]any{"p": point{1, 2}}, `key "p": session: unsupported value type: djangosession_test.point`},
		{map[string]any{"f": func() {}}, `key "f"`},
		{map[string]any{"c": make(chan int)}, `key "c"`},
		{map[string]any{"z": complex(1, 2)}, `key "z"`},
		{map[string]any{"m": map[int]any{1: 2}}, `map keys must be strings`},
		{map[string]any{"bad": "\xff"}, `key "bad": session: unsupported value type: string "\xff" is not valid UTF-8`},
		{map[string]any{"\xff": "v"}, `not valid UTF-8`},
		{map[string]any{"deep": deep}, `nested deeper than 64 levels`},
		{map[string]any{"cyclic": cyclic}, `nested deeper than 64 levels`},
		{map[string]any{"outer": map[string]any{"list": []any{int64(1), map[string]any{"b": []byte{}}}}}, `key "outer", at ["list"][1]["b"]: session: unsupported value type: []byte`},
	}
	for _, c := range cases {
		b, err := djangosession.Codec{}.Encode([]byte("x"), c.values)
		if !errors.Is(err, session.ErrUnsupportedValue) {
			t.Errorf("Encode(%v): err = %v, want ErrUnsupportedValue", c.values, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("Encode(%v): %q does not contain %q", c.values, err, c.want)
		}
		if string(b) != "x" {
			t.Errorf("Encode returned %q on error, want dst unchanged", b)
		}
	}
	// 64 levels below the session map are fine.
	ok := any(int64(1))
	for range 64 {
		ok = []any{ok}
	}
	if _, err := (djangosession.Codec{}).Encode(nil, map[string]any{"ok": ok}); err != nil {
		t.Errorf("64 levels: %v", err)
	}
}

func TestCodec_Decode(t *testing.T) {
	cases := []struct {
		in   string
		want map[string]any
	}{
		{`{}`, map[string]any{}},
		{" \t\r\n{ \"a\" : 1 , \"b\":[ ] ,\"c\":{ }} \n", map[string]any{"a": int64(1), "b": []any{}, "c": map[string]any{}}},
		{`{"i":-0,"j":9223372036854775807,"k":-9223372036854775808,"u":9223372036854775808,"m":18446744073709551615}`,
			map[string]any{"i": int64(0), "j": int64(math.MaxInt64), "k": int64(math.MinInt64), "u": uint64(1 << 63), "m": uint64(math.MaxUint64)}},
		{`{"a":1.0,"b":1e5,"c":1E-2,"d":-0.0,"e":2.5e+3,"f":1e400,"g":-1e400,"h":1e-400}`,
			map[string]any{"a": 1.0, "b": 1e5, "c": 0.01, "d": math.Copysign(0, -1), "e": 2500.0, "f": math.Inf(1), "g": math.Inf(-1), "h": 0.0}},
		{`{"n":null,"t":true,"f":false,"i":Infinity,"j":-Infinity}`, map[string]any{"n": nil, "t": true, "f": false, "i": math.Inf(1), "j": math.Inf(-1)}},
		{`{"s":"\"\\\/\b\f\n\r\t\u00e9\u00E9\ud83d\ude00"}`, map[string]any{"s": "\"\\/\b\f\n\r\té\u00e9😀"}},
		// Lone surrogates, in every position.
		{`{"s":"\ud800","t":"\udc00x","u":"\ud800\u0041","v":"\ud83d\ud83d\ude00"}`, map[string]any{"s": "\uFFFD", "t": "\uFFFDx", "u": "\uFFFDA", "v": "\uFFFD😀"}},
		// Bytes above 0x7F are Latin-1, as Django's data.decode('latin-1').
		{"{\"caf\xe9\":\"\xa0\xff\x80\"}", map[string]any{"café": "\u00a0ÿ\u0080"}},
		// A repeated key keeps its last value.
		{`{"a":1,"a":2}`, map[string]any{"a": int64(2)}},
		// DEL is not a control character for json.loads.
		{"{\"d\":\"\x7f\"}", map[string]any{"d": "\x7f"}},
	}
	for _, c := range cases {
		got, err := djangosession.Codec{}.Decode([]byte(c.in))
		if err != nil {
			t.Errorf("Decode(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Decode(%q)\n got %#v\nwant %#v", c.in, got, c.want)
		}
		if c.in == `{"a":1.0,"b":1e5,"c":1E-2,"d":-0.0,"e":2.5e+3,"f":1e400,"g":-1e400,"h":1e-400}` && !math.Signbit(got["d"].(float64)) {
			t.Error("-0.0 lost its sign")
		}
	}
	m, err := djangosession.Codec{}.Decode([]byte(`{"nan":NaN}`))
	if err != nil || !math.IsNaN(m["nan"].(float64)) {
		t.Errorf("NaN: %v, %v", m, err)
	}
}

func TestCodec_DecodeCorrupt(t *testing.T) {
	deep := strings.Repeat("[", 66) + strings.Repeat("]", 66)
	okDeep := strings.Repeat("[", 65) + strings.Repeat("]", 65)
	if _, err := (djangosession.Codec{}).Decode([]byte(`{"d":` + okDeep + `}`)); err != nil {
		t.Errorf("64 levels: %v", err)
	}
	for _, in := range []string{
		``, ` `, `[]`, `"s"`, `1`, `null`, `{`, `}`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{,}`, `{a:1}`, `{'a':1}`,
		`{"a":1}x`, `{"a":1}{}`, `{"a":1} 2`, `{"a":[1,]}`, `{"a":[1 2]}`, `{"a":[}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`,
		`{"a":1e}`, `{"a":1e+}`, `{"a":-}`, `{"a":+1}`, `{"a":-NaN}`, `{"a":nan}`, `{"a":infinity}`, `{"a":nul}`, `{"a":True}`,
		`{"a":0x10}`, `{"a":"\x"}`, `{"a":"\u12"}`, `{"a":"\u12G4"}`, `{"a":"unterminated}`, `{"a":"\`, "{\"a\":\"tab\there\"}",
		"{\"a\":\"nl\nhere\"}", `{"a":18446744073709551616}`, `{"a":-9223372036854775809}`, `{"a":123456789012345678901234567890}`,
		"\xef\xbb\xbf{}", "{\"a\":1}\x00", "{\xa0}", `{"d":` + deep + `}`,
	} {
		_, err := djangosession.Codec{}.Decode([]byte(in))
		if !errors.Is(err, session.ErrCorrupt) {
			t.Errorf("Decode(%q): err = %v, want ErrCorrupt", in, err)
		}
	}
}

// TestCodec_RoundTrip checks that every value of the model reads back with
// its type and value.
func TestCodec_RoundTrip(t *testing.T) {
	values := map[string]any{
		"nil": nil, "t": true, "i": int64(-5), "max": int64(math.MaxInt64), "u": uint64(math.MaxUint64),
		"f": 1.0, "g": 0.1, "h": 1e300, "negzero": math.Copysign(0, -1), "s": "नमस्ते 🌏", "empty": "",
		"l": []any{int64(1), 2.0, "3", []any{}, map[string]any{"k": nil}}, "m": map[string]any{"a": map[string]any{}},
	}
	got, err := djangosession.Codec{}.Decode([]byte(encode(t, values)))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, values) {
		t.Errorf("round trip\n got %#v\nwant %#v", got, values)
	}
	if !math.Signbit(got["negzero"].(float64)) {
		t.Error("-0.0 lost its sign")
	}
}

func BenchmarkCodec(b *testing.B) {
	values := map[string]any{
		djangosession.UserIDKey:      "8412",
		djangosession.UserBackendKey: "django.contrib.auth.backends.ModelBackend",
		djangosession.UserHashKey:    "f3b1c2d4e5a6978812345678abcdef0123456789abcdef0123456789abcdef01",
		"cart":                       []any{int64(1), int64(2), 3.5, "four"},
		"name":                       "नमस्ते",
	}
	data, _ := djangosession.Codec{}.Encode(nil, values)
	b.Run("Encode", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = djangosession.Codec{}.Encode(buf[:0], values)
		}
	})
	b.Run("Decode", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_, _ = djangosession.Codec{}.Decode(data)
		}
	})
}
