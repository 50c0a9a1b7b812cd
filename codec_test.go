package session

import (
	"bytes"
	"encoding/gob"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/sessionkv/session/internal/testkit"
)

type role string

type profile struct {
	Name  string
	Roles []string
	Since time.Time
}

// fidelityValues covers every type of the session model, and inputs that
// normalize into it.
func fidelityValues() map[string]any {
	when := time.Date(2026, 2, 3, 4, 5, 6, 789, time.FixedZone("IST", 19800))
	return map[string]any{
		"nil": nil, "true": true, "false": false,
		"int": 42, "int8": int8(-8), "int16": int16(-1600), "int32": int32(1 << 30), "int64": int64(math.MinInt64),
		"uint": uint(7), "uint8": uint8(255), "uint16": uint16(65535), "uint32": uint32(math.MaxUint32),
		"uint64small": uint64(12), "uint64big": uint64(math.MaxUint64), "maxint64": int64(math.MaxInt64),
		"float32": float32(0.1), "float64": 3.14159, "negzero": math.Copysign(0, -1), "inf": math.Inf(1),
		"string": "Sonam", "empty": "", "unicode": "नमस्ते 🌏",
		"bytes": []byte{0, 1, 255}, "nobytes": []byte{}, "nilbytes": []byte(nil),
		"time": when, "zerotime": time.Time{},
		"list":    []any{1, "two", 3.0, []any{true}, map[string]any{"x": nil}},
		"strings": []string{"a", "b"},
		"map":     map[string]any{"nested": map[string]any{"deep": []any{uint64(math.MaxUint64)}}},
		"strmap":  map[string]string{"k": "v"},
		"named":   role("admin"),
		"pointer": &[]int{1, 2},
		"struct":  profile{Name: "Sonam", Roles: []string{"student"}, Since: when},
		"big":     bytes.Repeat([]byte("x"), 70000),
	}
}

func TestCodecs_TypeFidelity(t *testing.T) {
	env := newEnv(t, nil)
	s := env.load(t, "")
	s.Update(fidelityValues())
	before := map[string]any{}
	for k, v := range s.Items() {
		before[k] = v
	}
	if err := env.engine.Save(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	after := env.load(t, s.ID())
	for k, want := range before {
		got, ok := after.Get(k)
		if !ok {
			t.Errorf("%s: missing after reload", k)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: after reload %#v (%T), before %#v (%T)", k, got, got, want, want)
		}
	}
	// Spot-check the documented normalizations.
	for k, want := range map[string]any{
		"int": int64(42), "uint8": int64(255), "uint64big": uint64(math.MaxUint64),
		"float32": float64(float32(0.1)), "named": "admin", "strings": []any{"a", "b"},
		"nilbytes": []byte{}, "time": fidelityValues()["time"].(time.Time).UTC(),
	} {
		if got, _ := after.Get(k); !reflect.DeepEqual(got, want) {
			t.Errorf("%s normalized to %#v (%T), want %#v (%T)", k, got, got, want, want)
		}
	}
	if p, err := GetAs[profile](after, "struct"); err != nil || p.Name != "Sonam" || !p.Since.Equal(fidelityValues()["time"].(time.Time)) {
		t.Errorf("GetAs[profile] = %+v, %v", p, err)
	}
}

func TestJSONCodec_RoundTripsItsTypes(t *testing.T) {
	env := newEnv(t, func(o *Options) { o.Codec = JSONCodec{} })
	when := time.Date(2026, 2, 3, 4, 5, 6, 0, time.UTC)
	s := env.load(t, "")
	s.Update(map[string]any{"s": "x", "i": 42, "big": uint64(math.MaxUint64), "f": 2.5, "b": true, "t": when,
		"l": []any{1, "a"}, "m": map[string]any{"n": nil}})
	if err := env.engine.Save(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	after := env.load(t, s.ID())
	for k, want := range map[string]any{"s": "x", "i": int64(42), "big": uint64(math.MaxUint64), "f": 2.5, "b": true,
		"l": []any{int64(1), "a"}, "m": map[string]any{"n": nil}} {
		if got, _ := after.Get(k); !reflect.DeepEqual(got, want) {
			t.Errorf("%s = %#v, want %#v", k, got, want)
		}
	}
	if got, ok := after.GetTime("t"); !ok || !got.Equal(when) {
		t.Errorf("GetTime = %v, %v", got, ok)
	}
}

// hostileInputs are encodings a broken or malicious store could return.
var hostileInputs = map[string][]byte{
	"empty":             {},
	"not a map":         {0x01},
	"map 2^31 entries":  {0xdf, 0x80, 0x00, 0x00, 0x00},
	"map 2^32-1":        {0xdf, 0xff, 0xff, 0xff, 0xff},
	"array 2^31":        {0x81, 0xa1, 'k', 0xdd, 0x80, 0x00, 0x00, 0x00},
	"str 4GiB":          {0x81, 0xa1, 'k', 0xdb, 0xff, 0xff, 0xff, 0xff, 'x'},
	"bin 4GiB":          {0x81, 0xa1, 'k', 0xc6, 0xff, 0xff, 0xff, 0xff, 'x'},
	"truncated str":     {0x81, 0xa5, 'a', 'b'},
	"int key":           {0x81, 0x01, 0x01},
	"bad ext":           {0x81, 0xa1, 'k', 0xd4, 0x05, 0x00},
	"time ext len 3":    {0x81, 0xa1, 'k', 0xc7, 0x03, 0xff, 0, 0, 0},
	"reserved code":     {0x81, 0xa1, 'k', 0xc1},
	"trailing":          {0x80, 0x80},
	"deep nesting":      append(append([]byte{0x81, 0xa1, 'k'}, bytes.Repeat([]byte{0x91}, 100000)...), 0xc0),
	"deep maps":         append(bytes.Repeat([]byte{0x81, 0xa1, 'k'}, 10000), 0xc0),
	"json":              []byte(`{"a":1}`),
	"map16 short":       {0xde, 0xff, 0xff, 0xa1, 'k'},
	"nested huge array": {0x81, 0xa1, 'k', 0x91, 0xdd, 0x7f, 0xff, 0xff, 0xff},
	"array chain":       arrayChain(64 << 10),
}

// arrayChain is a blob of nested array32 headers that each claim all the
// bytes left: bounded per level, quadratic in total without a global budget.
func arrayChain(size int) []byte {
	b := []byte{0x81, 0xa1, 'k'}
	for range maxDepth - 1 {
		left := size - len(b) - 5
		b = append(b, 0xdd, byte(left>>24), byte(left>>16), byte(left>>8), byte(left))
	}
	return append(b, make([]byte, size-len(b))...)
}

func TestMsgpackCodec_HostileInputIsRejectedCheaply(t *testing.T) {
	for name, data := range hostileInputs {
		t.Run(name, func(t *testing.T) {
			allocs := testing.AllocsPerRun(1, func() {
				if _, err := (MsgpackCodec{}).Decode(data); !errors.Is(err, ErrCorrupt) {
					t.Errorf("Decode = %v, want ErrCorrupt", err)
				}
			})
			if allocs > 200 {
				t.Errorf("rejecting %d bytes took %v allocations", len(data), allocs)
			}
		})
	}
}

func TestMsgpackCodec_HostileInputAllocatesLittle(t *testing.T) {
	for name, data := range hostileInputs {
		var before, after runtimeMem
		before.read()
		for range 10 {
			_, _ = MsgpackCodec{}.Decode(data)
		}
		after.read()
		if grew := after.total - before.total; grew > 4<<20 {
			t.Errorf("%s: decoding %d bytes ten times allocated %d bytes", name, len(data), grew)
		}
	}
}

func TestJSONCodec_HostileInput(t *testing.T) {
	for _, data := range []string{"", "null", "[]", "1", `{"a":1e999}`, `{"a":1}{}`, `{"a":1}}`, `{"a":1}]`, `{"a":`, "\xff"} {
		if _, err := (JSONCodec{}).Decode([]byte(data)); !errors.Is(err, ErrCorrupt) {
			t.Errorf("Decode(%q) = %v, want ErrCorrupt", data, err)
		}
	}
}

// addMsgpackSeeds gives a fuzz target of encoded session maps a valid one
// and the small hostile inputs.
func addMsgpackSeeds(f *testing.F) {
	small := fidelityValues()
	delete(small, "big")
	valid, _ := MsgpackCodec{}.Encode(nil, mustNormalize(f, small))
	f.Add(valid)
	for _, data := range hostileInputs {
		if len(data) <= 64 { // large seeds make the fuzzer spend its time minimizing
			f.Add(data)
		}
	}
}

func FuzzMsgpackDecode(f *testing.F) {
	addMsgpackSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := MsgpackCodec{}.Decode(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		// Whatever decodes must be in the type model and re-encode to the
		// same values.
		again, err := MsgpackCodec{}.Encode(nil, m)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		m2, err := MsgpackCodec{}.Decode(again)
		if err != nil || !reflect.DeepEqual(m, m2) && !hasNaN(m) {
			t.Fatalf("round trip changed %#v into %#v (%v)", m, m2, err)
		}
	})
}

func FuzzDecodeRecord(f *testing.F) {
	valid, _ := encodeRecord(nil, MsgpackCodec{}, map[string]any{"a": int64(1)}, expiry{kind: expiryAt, at: time.Unix(1e9, 0)})
	f.Add(valid)
	f.Add([]byte{recordVersion, byte(expiryMaxAge), 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range []Codec{MsgpackCodec{}, JSONCodec{}} {
			if _, _, err := decodeRecord(data, c); err != nil && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
		}
	})
}

func FuzzValidID(f *testing.F) {
	f.Add(newID())
	f.Add("../../etc/passwd")
	f.Add("")
	f.Fuzz(func(t *testing.T, id string) {
		if ValidID(id) {
			if len(id) != 43 || StoreKey(id) == "" {
				t.Fatalf("ValidID accepted %q", id)
			}
			if b, err := idEncoding.DecodeString(id); err != nil || idEncoding.EncodeToString(b) != id {
				t.Fatalf("ValidID accepted a non-canonical %q", id)
			}
		}
	})
}

func hasNaN(v any) bool {
	switch x := v.(type) {
	case float64:
		return math.IsNaN(x)
	case []any:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	case map[string]any:
		for _, e := range x {
			if hasNaN(e) {
				return true
			}
		}
	}
	return false
}

func mustNormalize(tb testing.TB, m map[string]any) map[string]any {
	n, err := normalize(m)
	if err != nil {
		tb.Fatal(err)
	}
	return n.(map[string]any)
}

// BenchmarkCodec_RoundTrip encodes and decodes the realistic session with
// each codec, and with encoding/gob and encoding/json used directly as a
// session library would (gob needs a fresh encoder per record, since each
// record must decode on its own).
func BenchmarkCodec_RoundTrip(b *testing.B) {
	values := mustNormalize(b, testkit.TenKeys())
	gob.Register(map[string]any{})
	gob.Register([]any{})
	gob.Register(time.Time{})
	b.Run("msgpack", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			buf, err = MsgpackCodec{}.Encode(buf[:0], values)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := (MsgpackCodec{}).Decode(buf); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(buf)), "bytes/session")
	})
	b.Run("JSONCodec", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf, _ = JSONCodec{}.Encode(buf[:0], values)
			if _, err := (JSONCodec{}).Decode(buf); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(buf)), "bytes/session")
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		for b.Loop() {
			data, err := json.Marshal(values)
			if err != nil {
				b.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(data, &m); err != nil {
				b.Fatal(err)
			}
			n = len(data)
		}
		b.ReportMetric(float64(n), "bytes/session")
	})
	b.Run("encoding-gob", func(b *testing.B) {
		b.ReportAllocs()
		var n int
		for b.Loop() {
			var buf bytes.Buffer
			if err := gob.NewEncoder(&buf).Encode(values); err != nil {
				b.Fatal(err)
			}
			n = buf.Len()
			var m map[string]any
			if err := gob.NewDecoder(&buf).Decode(&m); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n), "bytes/session")
	})
}

func BenchmarkMsgpackCodec_Encode(b *testing.B) {
	values := mustNormalize(b, testkit.TenKeys())
	b.ReportAllocs()
	var buf []byte
	for b.Loop() {
		buf, _ = MsgpackCodec{}.Encode(buf[:0], values)
	}
}

func BenchmarkMsgpackCodec_Decode(b *testing.B) {
	values := mustNormalize(b, testkit.TenKeys())
	data, _ := MsgpackCodec{}.Encode(nil, values)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := (MsgpackCodec{}).Decode(data); err != nil {
			b.Fatal(err)
		}
	}
}
