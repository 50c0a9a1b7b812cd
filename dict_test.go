package session

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vmihailenco/msgpack/v5/msgpcode"

	"github.com/sessionkv/session/internal/testkit"
)

// FuzzIndexMsgpack checks that the index pass a load makes accepts exactly
// what a full decode accepts, and that the values read lazily, and the
// record a commit writes from the index, are what a full decode gives.
func FuzzIndexMsgpack(f *testing.F) {
	addMsgpackSeeds(f)
	f.Add([]byte{0x82, 0xa1, 'a', 0x01, 0xa1, 'a', 0x02}) // a repeated key
	f.Fuzz(func(t *testing.T, data []byte) {
		want, decodeErr := MsgpackCodec{}.Decode(data)
		var d dict
		d.reset()
		indexErr := d.index(data, nil)
		if (decodeErr == nil) != (indexErr == nil) {
			t.Fatalf("decode: %v, index: %v", decodeErr, indexErr)
		}
		if indexErr != nil {
			if !errors.Is(indexErr, ErrCorrupt) {
				t.Fatalf("index error %v does not wrap ErrCorrupt", indexErr)
			}
			return
		}
		got, err := d.toMap()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) && !hasNaN(want) {
			t.Fatalf("lazy values %#v, decoded %#v", got, want)
		}
		if keys := d.keys(); !slices.Equal(keys, slices.Sorted(mapsKeys(want))) {
			t.Fatalf("keys %q, want those of %#v", keys, want)
		}
		if d.length() != len(want) {
			t.Fatalf("length %d, want %d", d.length(), len(want))
		}
		out, err := d.appendMsgpack(nil)
		if err != nil {
			t.Fatal(err)
		}
		again, err := MsgpackCodec{}.Decode(out)
		if err != nil || !reflect.DeepEqual(again, want) && !hasNaN(want) {
			t.Fatalf("re-encoded from the index: %#v (%v), want %#v", again, err, want)
		}
	})
}

func mapsKeys(m map[string]any) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestLazy_ReadDecodesOnlyWhatItReturns(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, testkit.SizedSession(1000))
	s := env.load(t, id)
	if v, _ := s.GetString("k0500"); v != strings.Repeat(string(rune('a'+500%26)), 100) {
		t.Fatalf("k0500 = %q", v)
	}
	if !s.Has("k0001") || s.Has("nope") {
		t.Fatal("Has")
	}
	if n := len(s.Keys()); n != 1000 || s.Len() != 1000 {
		t.Fatalf("Keys: %d, Len: %d", n, s.Len())
	}
	if n, _ := s.GetInt("counter"); n != 17 {
		t.Fatalf("counter = %d", n)
	}
	if n := len(s.d.decoded); n != 1 {
		t.Fatalf("%d values decoded, want 1 (k0500; counter is read in place)", n)
	}
	if s.Modified() {
		t.Fatal("reads modified the session")
	}
}

func TestLazy_ReadOnlyRequestWritesNothing(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, testkit.SizedSession(100))
	before := env.store.Calls()
	h := env.engine.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := FromContext(r.Context())
		_, _ = s.Get("k0042")
		_ = s.Has("k0001")
		_ = s.Keys()
		w.WriteHeader(http.StatusNoContent)
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "sessionid", Value: id})
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if calls := env.store.Calls() - before; calls != 1 {
		t.Fatalf("%d store calls, want 1 (the load)", calls)
	}
	if c := rec.Result().Cookies(); len(c) != 0 {
		t.Fatalf("a read-only request set %v", c)
	}
}

// plantedRecord is a stored record whose values are encoded as this
// package never encodes them (wider codes than needed), so that a test can
// tell copied bytes from re-encoded ones.
func plantedRecord() (data []byte, planted [][]byte) {
	i64 := append([]byte{msgpcode.Int64}, binary.BigEndian.AppendUint64(nil, 5)...)
	str16 := append([]byte{msgpcode.Str16, 0, 3}, "abc"...)
	data = appendEnvelope(nil, expiry{})
	data = append(data, msgpcode.FixedMapLow|3)
	data = append(data, msgpcode.FixedStrLow|1, 'n')
	data = append(data, i64...)
	data = append(data, msgpcode.FixedStrLow|1, 's')
	data = append(data, str16...)
	data = append(data, msgpcode.FixedStrLow|1, 'x', 0x01)
	return data, [][]byte{append([]byte{msgpcode.FixedStrLow | 1, 'n'}, i64...), append([]byte{msgpcode.FixedStrLow | 1, 's'}, str16...)}
}

// noUpdater hides a store's UpdateRecord, so commits replace whole records.
type noUpdater struct{ Store }

func TestLazy_UntouchedValuesKeepTheirBytes(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		hide   bool
		change func(*Session) error
	}{
		{"merge", false, func(s *Session) error { s.Set("x", 2); return nil }},
		{"delete", false, func(s *Session) error { return s.Delete("x") }},
		{"whole record", true, func(s *Session) error { s.Set("x", 2); return nil }},
		{"cycle key", false, func(s *Session) error { return s.CycleKey(ctx) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := newEnv(t, nil)
			e := env.engine
			if tc.hide {
				var err error
				opts := e.opts
				if e, err = New(noUpdater{env.store}, &opts); err != nil {
					t.Fatal(err)
				}
				defer e.Close()
			}
			data, planted := plantedRecord()
			id := DefaultIDs.NewID()
			if err := env.store.Save(ctx, StoreKey(id), Record{Data: data, Expires: env.clock.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			s, err := e.Load(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if err := tc.change(s); err != nil {
				t.Fatal(err)
			}
			if err := e.Save(ctx, s); err != nil {
				t.Fatal(err)
			}
			rec, err := env.store.Load(ctx, StoreKey(s.ID()))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range planted {
				if !bytes.Contains(rec.Data, p) {
					t.Errorf("the untouched entry % x was re-encoded: % x", p, rec.Data)
				}
			}
			again, err := e.Load(ctx, s.ID())
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := again.GetInt("n"); n != 5 {
				t.Errorf("n = %d", n)
			}
			if v, _ := again.GetString("s"); v != "abc" {
				t.Errorf("s = %q", v)
			}
		})
	}
}

func TestLazy_RepeatedKeyLastWins(t *testing.T) {
	ctx := context.Background()
	env := newEnv(t, nil)
	data := appendEnvelope(nil, expiry{})
	data = append(data, msgpcode.FixedMapLow|3, 0xa1, 'a', 0x01, 0xa1, 'b', 0x02, 0xa1, 'a', 0x03)
	id := DefaultIDs.NewID()
	if err := env.store.Save(ctx, StoreKey(id), Record{Data: data, Expires: env.clock.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	s := env.load(t, id)
	if n, _ := s.GetInt("a"); n != 3 {
		t.Fatalf("a = %d, want the last one, 3", n)
	}
	if got := s.Keys(); !slices.Equal(got, []string{"a", "b"}) || s.Len() != 2 {
		t.Fatalf("Keys = %q, Len = %d", got, s.Len())
	}
	if err := s.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if s.Has("a") || s.Len() != 1 {
		t.Fatal("a survived its deletion")
	}
	if err := env.engine.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	if again := env.load(t, id); again.Has("a") || again.Len() != 1 {
		t.Fatalf("after a save: %q", again.Keys())
	}
}

// TestLazy_GetInt64ReadsEveryIntegerCode checks the in-place integer read
// against the decoder for each code an integer can have.
func TestLazy_GetInt64ReadsEveryIntegerCode(t *testing.T) {
	be := binary.BigEndian
	for _, tc := range []struct {
		enc  []byte
		want int64
		ok   bool
	}{
		{[]byte{0x05}, 5, true},
		{[]byte{0xff}, -1, true},
		{[]byte{msgpcode.Int8, 0x80}, -128, true},
		{append([]byte{msgpcode.Int16}, be.AppendUint16(nil, 0x8000)...), math.MinInt16, true},
		{append([]byte{msgpcode.Int32}, be.AppendUint32(nil, 0x80000000)...), math.MinInt32, true},
		{append([]byte{msgpcode.Int64}, be.AppendUint64(nil, 1<<63)...), math.MinInt64, true},
		{[]byte{msgpcode.Uint8, 0xff}, 255, true},
		{append([]byte{msgpcode.Uint16}, be.AppendUint16(nil, 0xffff)...), 0xffff, true},
		{append([]byte{msgpcode.Uint32}, be.AppendUint32(nil, 0xffffffff)...), 0xffffffff, true},
		{append([]byte{msgpcode.Uint64}, be.AppendUint64(nil, math.MaxInt64)...), math.MaxInt64, true},
		{append([]byte{msgpcode.Uint64}, be.AppendUint64(nil, math.MaxInt64+1)...), 0, false},
		{append([]byte{msgpcode.Double}, be.AppendUint64(nil, math.Float64bits(7))...), 7, true},
		{[]byte{0xa1, '7'}, 0, false},
	} {
		payload := append([]byte{0x81, 0xa1, 'n'}, tc.enc...)
		var d dict
		d.reset()
		if err := d.index(payload, nil); err != nil {
			t.Fatalf("% x: %v", payload, err)
		}
		s := &Session{loaded: true}
		s.d.reset()
		_ = s.d.index(payload, nil)
		got, ok := s.GetInt64("n")
		if got != tc.want || ok != tc.ok {
			t.Errorf("% x: GetInt64 = %d, %v; want %d, %v", tc.enc, got, ok, tc.want, tc.ok)
		}
		// The decoder's view, through Get, agrees.
		v, _, _ := d.get("n")
		s2 := &Session{loaded: true}
		s2.d.reset()
		s2.d.set("n", v)
		if g2, ok2 := s2.GetInt64("n"); g2 != got || ok2 != ok {
			t.Errorf("% x: in place %d, %v; decoded %d, %v", tc.enc, got, ok, g2, ok2)
		}
	}
}

func TestLazy_ReadsAfterChanges(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, testkit.SizedSession(50))
	s := env.load(t, id)
	s.Set("k0001", "new")
	_ = s.Delete("k0002")
	s.Set("fresh", []any{int64(1)})
	v, _ := s.Pop("k0003")
	if v != strings.Repeat("d", 100) {
		t.Fatalf("Pop = %v", v)
	}
	s.AddFlash("hi")
	if got, _ := s.GetString("k0001"); got != "new" {
		t.Fatalf("k0001 = %q", got)
	}
	if s.Has("k0002") || s.Has("k0003") || !s.Has("fresh") {
		t.Fatal("Has after changes")
	}
	if n := s.Len(); n != 50-2+1+1 {
		t.Fatalf("Len = %d", n)
	}
	if err := env.engine.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	again := env.load(t, id)
	want, _ := s.d.toMap()
	got, _ := again.d.toMap()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("after a save: %v, want %v", got, want)
	}
	// A second round of changes on the same session merges too.
	s.Set("k0004", "again")
	if err := env.engine.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if v, _ := env.load(t, id).GetString("k0004"); v != "again" {
		t.Fatalf("k0004 = %q", v)
	}
	s.Clear()
	if s.Len() != 0 || s.Has("k0005") {
		t.Fatal("Clear")
	}
}

// afterRequest serves one request with the session id to a handler that
// calls use, and returns the session as a goroutine that kept it would
// have it once the request is over.
func afterRequest(t *testing.T, env *testEnv, id string, use func(*Session)) *Session {
	t.Helper()
	var kept *Session
	h := env.engine.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		kept = FromContext(r.Context())
		use(kept)
	}))
	req := httptest.NewRequest("GET", "/", nil)
	req.AddCookie(&http.Cookie{Name: "sessionid", Value: id})
	h.ServeHTTP(httptest.NewRecorder(), req)
	return kept
}

// TestRelease_SessionUsedAfterItsRequest checks a session a goroutine keeps
// using after its request ended: the middleware has given back the buffer
// its record was read into, and the session reads the record again,
// keeping its own changes on top.
func TestRelease_SessionUsedAfterItsRequest(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, testkit.SizedSession(20))
	s := afterRequest(t, env, id, func(s *Session) {
		_, _ = s.Get("k0001")
		s.Set("k0002", "set in the request")
	})
	if s.d.buf != nil || s.d.raw != nil {
		t.Fatal("the request's buffer is still the session's after the request")
	}
	// Another request changes the record meanwhile.
	other := env.load(t, id)
	other.Set("k0003", "set by another request")
	if err := env.engine.Save(context.Background(), other); err != nil {
		t.Fatal(err)
	}
	if v, _ := s.GetString("k0002"); v != "set in the request" {
		t.Fatalf("k0002 = %q after the request", v)
	}
	if v, _ := s.GetString("k0003"); v != "set by another request" {
		t.Fatalf("k0003 = %q: the session did not read its record again", v)
	}
	s.Set("k0004", "set after the request")
	if err := env.engine.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	again := env.load(t, id)
	for k, want := range map[string]string{
		"k0001": strings.Repeat("b", 100), "k0002": "set in the request",
		"k0003": "set by another request", "k0004": "set after the request",
	} {
		if v, _ := again.GetString(k); v != want {
			t.Errorf("%s = %q, want %q", k, v, want)
		}
	}
	if again.Len() != 20 {
		t.Errorf("Len = %d, want 20", again.Len())
	}
}

// TestRelease_RecordGoneMeanwhile checks that a session used after its
// request, whose record was deleted since, does not bring it back.
func TestRelease_RecordGoneMeanwhile(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, testkit.SizedSession(5))
	s := afterRequest(t, env, id, func(s *Session) { _, _ = s.Get("k0001") })
	if err := env.store.Delete(context.Background(), StoreKey(id)); err != nil {
		t.Fatal(err)
	}
	s.Set("late", 1)
	if err := env.engine.Save(context.Background(), s); !errors.Is(err, ErrSessionInterrupted) {
		t.Fatalf("Save = %v, want ErrSessionInterrupted", err)
	}
	if env.store.Len() != 0 {
		t.Fatal("the deleted session came back")
	}
	if !strings.Contains(env.logs.String(), "reading a session again") {
		t.Errorf("no log line for the failed reload: %s", env.logs.String())
	}
}

// TestRelease_StoreDownWhileReadingAgain checks a released session whose
// store fails when the session reads its record again: nothing is written
// over the record while it cannot be read, and the next use tries again.
func TestRelease_StoreDownWhileReadingAgain(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, testkit.SizedSession(20))
	s := afterRequest(t, env, id, func(s *Session) { _, _ = s.Get("k0001") })

	env.store.SetFail(errStoreDown)
	s.Set("late", int64(1))
	if err := s.CycleKey(context.Background()); !errors.Is(err, errStoreDown) {
		t.Fatalf("CycleKey while the record cannot be read: %v, want the store's error", err)
	}
	env.store.SetFail(nil)

	if n := s.Len(); n != 21 {
		t.Fatalf("Len = %d once the store is back, want 21", n)
	}
	if err := s.CycleKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := env.load(t, s.ID()).Len(); n != 21 {
		t.Fatalf("the stored session has %d keys, want 21", n)
	}
}

// blobCodec keeps its input: its one value is the payload itself, a []byte
// aliasing what Decode was given, as zero-copy decoders do.
type blobCodec struct{}

func (blobCodec) Encode(dst []byte, values map[string]any) ([]byte, error) {
	b, _ := values["blob"].([]byte)
	return append(dst, b...), nil
}

func (blobCodec) Decode(data []byte) (map[string]any, error) {
	return map[string]any{"blob": data[:len(data):len(data)]}, nil
}

// TestLoad_CodecKeepingItsInputGetsNoRecycledBuffer checks that a codec
// whose values point into its input is never handed a buffer that goes
// back to the pool: another visitor's record would show through.
func TestLoad_CodecKeepingItsInputGetsNoRecycledBuffer(t *testing.T) {
	env := newEnv(t, func(o *Options) { o.Codec = blobCodec{} })
	alice := env.saved(t, map[string]any{"blob": []byte("alice's secret")})
	bob := env.saved(t, map[string]any{"blob": []byte("bob's private!")})
	serve := func(id string) []byte {
		var got []byte
		h := env.engine.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			got, _ = FromContext(r.Context()).GetBytes("blob")
		}))
		req := httptest.NewRequest("GET", "/", nil)
		req.AddCookie(&http.Cookie{Name: "sessionid", Value: id})
		h.ServeHTTP(httptest.NewRecorder(), req)
		return got
	}
	a := serve(alice)
	_ = serve(bob)
	if string(a) != "alice's secret" {
		t.Fatalf("alice's value reads %q after another visitor's request", a)
	}
}

// TestLazy_ManyLookups walks every key of large sessions, one of them with
// a repeated key, past the point where the index maps its keys, and checks
// each read and change against a plain map.
func TestLazy_ManyLookups(t *testing.T) {
	for _, dup := range []bool{false, true} {
		values := testkit.SizedSession(300)
		payload, err := MsgpackCodec{}.Encode(nil, values)
		if err != nil {
			t.Fatal(err)
		}
		if dup {
			// Append a second "k0007" and bump the map's count (map16).
			payload[2]++
			payload = append(payload, 0xa5, 'k', '0', '0', '0', '7', 0x2a)
			values["k0007"] = int64(42)
		}
		var d dict
		d.reset()
		if err := d.index(payload, nil); err != nil {
			t.Fatal(err)
		}
		for i, k := range d.keys() {
			v, ok, err := d.get(k)
			if err != nil || !ok || !reflect.DeepEqual(v, values[k]) {
				t.Fatalf("dup=%v: get(%q) = %v, %v, %v; want %v", dup, k, v, ok, err, values[k])
			}
			switch i % 3 {
			case 0:
				d.set(k, int64(i))
				values[k] = int64(i)
			case 1:
				d.del(k)
				delete(values, k)
			}
		}
		if d.rawIdx == nil {
			t.Fatal("the walk never mapped the index's keys")
		}
		got, err := d.toMap()
		if err != nil || !reflect.DeepEqual(got, values) {
			t.Fatalf("dup=%v: %d values after the walk, want %d (%v)", dup, len(got), len(values), err)
		}
		if d.length() != len(values) {
			t.Fatalf("dup=%v: length %d, want %d", dup, d.length(), len(values))
		}
		out, _ := d.appendMsgpack(nil)
		if again, err := (MsgpackCodec{}).Decode(out); err != nil || !reflect.DeepEqual(again, values) {
			t.Fatalf("dup=%v: the record written after the walk decodes to %d values (%v)", dup, len(again), err)
		}
	}
}
