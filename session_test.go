package session

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEngine_Load_UnknownOrMalformedIDGivesNewEmptySession(t *testing.T) {
	env := newEnv(t, nil)
	for _, id := range []string{"", "short", newID(), "../../etc/passwd", newID() + "x", "%00", string(make([]byte, 8192))} {
		s := env.load(t, id)
		if s.ID() != "" || !s.IsEmpty() || s.Accessed() || s.Modified() {
			t.Errorf("Load(%.20q): ID %q, empty %v, accessed %v, modified %v; want a new empty session",
				id, s.ID(), s.IsEmpty(), s.Accessed(), s.Modified())
		}
	}
	if env.store.Len() != 0 {
		t.Errorf("loading unknown IDs created %d records", env.store.Len())
	}
}

func TestEngine_Save_AssignsIDAndRoundTrips(t *testing.T) {
	env := newEnv(t, nil)
	s := env.load(t, "")
	s.Set("name", "Sonam")
	if err := env.engine.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if !ValidID(s.ID()) {
		t.Fatalf("ID after first save = %q, not a valid ID", s.ID())
	}
	if s.Modified() {
		t.Error("Modified after Save")
	}
	got := env.load(t, s.ID())
	if got.ID() != s.ID() {
		t.Fatalf("reload ID = %q, want %q", got.ID(), s.ID())
	}
	if got.Accessed() {
		t.Error("ID() marked the session accessed")
	}
	if v, _ := got.GetString("name"); v != "Sonam" {
		t.Errorf("name = %q", v)
	}
}

func TestSession_Flags_FollowDjango(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"a": 1})
	tests := []struct {
		name               string
		op                 func(s *Session)
		accessed, modified bool
	}{
		{"Get", func(s *Session) { s.Get("a") }, true, false},
		{"Has", func(s *Session) { s.Has("zz") }, true, false},
		{"Keys", func(s *Session) { s.Keys() }, true, false},
		{"Len", func(s *Session) { s.Len() }, true, false},
		{"Set", func(s *Session) { s.Set("b", 2) }, true, true},
		{"DeleteExisting", func(s *Session) { _ = s.Delete("a") }, true, true},
		{"DeleteMissing", func(s *Session) { _ = s.Delete("zz") }, true, false},
		{"PopExisting", func(s *Session) { s.Pop("a") }, true, true},
		{"PopMissing", func(s *Session) { s.Pop("zz") }, true, false},
		{"SetDefaultExisting", func(s *Session) { s.SetDefault("a", 9) }, true, false},
		{"SetDefaultMissing", func(s *Session) { s.SetDefault("b", 9) }, true, true},
		{"UpdateEmpty", func(s *Session) { s.Update(nil) }, true, true},
		{"Clear", func(s *Session) { s.Clear() }, true, true},
		{"SetMaxAge", func(s *Session) { s.SetMaxAge(time.Hour) }, true, true},
		{"ResetExpiryWithoutCustom", func(s *Session) { s.ResetExpiry() }, true, false},
		{"ExpiryAge", func(s *Session) { s.ExpiryAge() }, true, false},
		{"IsEmpty", func(s *Session) { s.IsEmpty() }, false, false},
		{"ID", func(s *Session) { s.ID() }, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := env.load(t, id)
			tc.op(s)
			if s.Accessed() != tc.accessed || s.Modified() != tc.modified {
				t.Errorf("accessed %v, modified %v; want %v, %v", s.Accessed(), s.Modified(), tc.accessed, tc.modified)
			}
		})
	}
}

func TestSession_DictionaryAPI(t *testing.T) {
	env := newEnv(t, nil)
	s := env.load(t, "")
	s.Update(map[string]any{"name": "Sonam", "lname": "rathore", "age": 26})
	if err := s.Delete("missing"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("Delete(missing) = %v, want ErrKeyNotFound", err)
	}
	if got := s.Keys(); !slices.Equal(got, []string{"age", "lname", "name"}) {
		t.Errorf("Keys = %v, want sorted", got)
	}
	if got := s.Values(); !slices.Equal(got, []any{int64(26), "rathore", "Sonam"}) {
		t.Errorf("Values = %v, want Keys order", got)
	}
	if got := s.SetDefault("age", "27"); got != int64(26) {
		t.Errorf("SetDefault(existing) = %v, want the existing 26", got)
	}
	if got := s.SetDefault("city", "Pune"); got != "Pune" {
		t.Errorf("SetDefault(new) = %v", got)
	}
	if v, ok := s.Pop("city"); !ok || v != "Pune" {
		t.Errorf("Pop = %v, %v", v, ok)
	}
	if v, ok := s.Pop("city"); ok || v != nil {
		t.Errorf("second Pop = %v, %v; want nil, false", v, ok)
	}
	if s.Len() != 3 || !s.Has("name") || s.Has("city") {
		t.Errorf("Len %d, Has(name) %v, Has(city) %v", s.Len(), s.Has("name"), s.Has("city"))
	}
	s.Clear()
	if s.Len() != 0 || s.IsEmpty() != true {
		t.Errorf("after Clear of an unsaved session: Len %d, IsEmpty %v", s.Len(), s.IsEmpty())
	}
}

func TestSession_Items_AllowsCallsWhileRanging(t *testing.T) {
	env := newEnv(t, nil)
	s := env.load(t, "")
	s.Update(map[string]any{"a": 1, "b": 2, "c": 3})
	var keys []string
	for k, v := range s.Items() {
		keys = append(keys, k)
		s.Set(k+"2", v) // would deadlock if Items held the lock
	}
	if !slices.Equal(keys, []string{"a", "b", "c"}) {
		t.Errorf("Items keys = %v", keys)
	}
	if s.Len() != 6 {
		t.Errorf("Len = %d after setting while ranging", s.Len())
	}
	for range s.Items() {
		break // early stop must not panic
	}
}

func TestSession_IsEmpty_IsDjangos(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"a": 1})
	s := env.load(t, id)
	s.Clear()
	if s.IsEmpty() {
		t.Error("a session with an ID whose data was cleared is empty; Django keeps it (and its cookie)")
	}
	lazy := env.engine.newSession(context.Background(), newID())
	if lazy.IsEmpty() {
		t.Error("a not-yet-loaded session with a cookie ID is empty; Django says not")
	}
	lazy.Len() // loads: the ID is unknown
	if !lazy.IsEmpty() || lazy.ID() != "" {
		t.Errorf("after loading an unknown ID: IsEmpty %v, ID %q", lazy.IsEmpty(), lazy.ID())
	}
}

func TestSession_Flush_DeletesRecordAndDropsID(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"a": 1})
	s := env.load(t, id)
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.ID() != "" || s.Len() != 0 || !s.IsEmpty() || !s.Modified() {
		t.Errorf("after Flush: ID %q, Len %d, IsEmpty %v, Modified %v", s.ID(), s.Len(), s.IsEmpty(), s.Modified())
	}
	if env.load(t, id).ID() != "" {
		t.Error("flushed record still loads")
	}
	s.Set("after", true)
	if err := env.engine.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if s.ID() == "" || s.ID() == id {
		t.Errorf("saving after Flush gave ID %q; want a new one", s.ID())
	}
}

func TestSession_CycleKey_KeepsDataUnderNewID(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"cart": "3 books"})
	s := env.load(t, id)
	if err := s.CycleKey(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.ID() == id || !ValidID(s.ID()) || s.Modified() {
		t.Fatalf("after CycleKey: ID %q (old %q), Modified %v; want a new ID, saved", s.ID(), id, s.Modified())
	}
	if env.load(t, id).ID() != "" {
		t.Error("old record survives CycleKey")
	}
	if v, _ := env.load(t, s.ID()).GetString("cart"); v != "3 books" {
		t.Errorf("new record holds cart %q", v)
	}
	fresh := env.load(t, "")
	if err := fresh.CycleKey(context.Background()); err != nil || !ValidID(fresh.ID()) {
		t.Errorf("CycleKey of a new session: ID %q, err %v", fresh.ID(), err)
	}
}

func TestEngine_Save_DoesNotResurrectFlushedSession(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"a": 1})
	slow := env.load(t, id)
	other := env.load(t, id)
	if err := other.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	slow.Set("b", 2)
	err := env.engine.Save(context.Background(), slow)
	if !errors.Is(err, ErrSessionInterrupted) {
		t.Fatalf("Save = %v, want ErrSessionInterrupted", err)
	}
	if env.store.Len() != 0 {
		t.Error("the interrupted save wrote a record")
	}
}

func TestEngine_Load_CorruptRecordGivesNewSessionAndLogs(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"a": 1})
	for name, data := range map[string][]byte{
		"empty":        {},
		"bad version":  {9, 0, 0x80},
		"truncated":    {recordVersion, 0, 0x82, 0xa1, 'a'},
		"huge map":     {recordVersion, 0, 0xdf, 0x80, 0, 0, 0},
		"bad kind":     {recordVersion, 42, 0x80},
		"garbage":      []byte("\xff\xfe not msgpack"),
		"bad varint":   {recordVersion, byte(expiryAt), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"trailing":     {recordVersion, 0, 0x80, 0x00},
		"non-str keys": {recordVersion, 0, 0x81, 0x01, 0x02},
	} {
		t.Run(name, func(t *testing.T) {
			if err := env.store.Save(context.Background(), StoreKey(id), Record{Data: data, Expires: env.clock.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			s := env.load(t, id)
			if s.ID() != "" || s.Len() != 0 {
				t.Errorf("corrupt record loaded as ID %q with %d keys", s.ID(), s.Len())
			}
		})
	}
	if !strings.Contains(env.logs.String(), "data corrupted") {
		t.Errorf("no warning logged; logs:\n%s", env.logs.String())
	}
}

func TestSession_Set_UnsupportedValueFailsSave(t *testing.T) {
	env := newEnv(t, nil)
	s := env.load(t, "")
	s.Set("ok", 1)
	s.Set("fn", func() {})
	if s.Has("fn") {
		t.Error("an unsupported value was stored")
	}
	if err := env.engine.Save(context.Background(), s); !errors.Is(err, ErrUnsupportedValue) {
		t.Errorf("Save = %v, want ErrUnsupportedValue", err)
	}
}

func TestSession_ConcurrentUse(t *testing.T) {
	env := newEnv(t, nil)
	s := env.load(t, env.saved(t, map[string]any{"n": 0}))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 100 {
				s.Set(string(rune('a'+i)), j)
				s.Get("n")
				_ = s.Keys()
				for range s.Items() {
				}
			}
		}()
	}
	wg.Wait()
	if s.Len() != 9 {
		t.Errorf("Len = %d, want 9", s.Len())
	}
}

func TestSession_TestCookieAndFlashes(t *testing.T) {
	env := newEnv(t, nil)
	s := env.load(t, "")
	if s.TestCookieWorked() {
		t.Error("TestCookieWorked before SetTestCookie")
	}
	s.SetTestCookie()
	if v, _ := s.Get(TestCookieKey); v != TestCookieValue || !s.TestCookieWorked() {
		t.Errorf("test cookie value %v", v)
	}
	s.DeleteTestCookie()
	s.DeleteTestCookie() // absent: no panic, no error to report
	if s.Has(TestCookieKey) {
		t.Error("DeleteTestCookie left the key")
	}
	s.AddFlash("saved")
	s.AddFlash(map[string]string{"level": "warning"})
	got := s.Flashes()
	if len(got) != 2 || got[0] != "saved" {
		t.Errorf("Flashes = %v", got)
	}
	if s.Flashes() != nil {
		t.Error("Flashes did not remove the messages")
	}
}

func TestGetters(t *testing.T) {
	env := newEnv(t, nil)
	when := time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)
	type cart struct {
		Items []string
		Total float64
	}
	s := env.load(t, env.saved(t, map[string]any{
		"s": "x", "i": 42, "f": 2.5, "whole": 3.0, "b": true, "t": when, "ts": when.Format(time.RFC3339),
		"bytes": []byte{1, 2}, "cart": cart{Items: []string{"book"}, Total: 9.5},
	}))
	if v, ok := s.GetString("s"); !ok || v != "x" {
		t.Errorf("GetString = %q, %v", v, ok)
	}
	if v, ok := s.GetInt("i"); !ok || v != 42 {
		t.Errorf("GetInt = %d, %v", v, ok)
	}
	if v, ok := s.GetInt("whole"); !ok || v != 3 {
		t.Errorf("GetInt(3.0) = %d, %v", v, ok)
	}
	if _, ok := s.GetInt("f"); ok {
		t.Error("GetInt(2.5) succeeded")
	}
	if v, ok := s.GetFloat64("i"); !ok || v != 42 {
		t.Errorf("GetFloat64(int) = %v, %v", v, ok)
	}
	if v, ok := s.GetBool("b"); !ok || !v {
		t.Errorf("GetBool = %v, %v", v, ok)
	}
	for _, k := range []string{"t", "ts"} {
		if v, ok := s.GetTime(k); !ok || !v.Equal(when) {
			t.Errorf("GetTime(%s) = %v, %v", k, v, ok)
		}
	}
	if v, ok := s.GetBytes("bytes"); !ok || len(v) != 2 {
		t.Errorf("GetBytes = %v, %v", v, ok)
	}
	if _, ok := s.GetString("i"); ok {
		t.Error("GetString of an int succeeded")
	}
	c, err := GetAs[cart](s, "cart")
	if err != nil || c.Total != 9.5 || len(c.Items) != 1 || c.Items[0] != "book" {
		t.Errorf("GetAs[cart] = %+v, %v", c, err)
	}
	if n, err := GetAs[int64](s, "i"); err != nil || n != 42 {
		t.Errorf("GetAs[int64] = %v, %v", n, err)
	}
	if _, err := GetAs[int](s, "missing"); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("GetAs(missing) = %v", err)
	}
	if _, err := GetAs[int](s, "s"); err == nil {
		t.Error("GetAs[int] of a string succeeded")
	}
}

func TestSession_Set_CopiesValue(t *testing.T) {
	env := newEnv(t, nil)
	s := env.load(t, "")
	m := map[string]any{"k": []any{"v"}}
	b := []byte("abc")
	s.Set("m", m)
	s.Set("b", b)
	m["k"].([]any)[0] = "changed"
	m["new"] = 1
	b[0] = 'X'
	got, _ := s.Get("m")
	if !maps.EqualFunc(got.(map[string]any), map[string]any{"k": []any{"v"}}, func(a, b any) bool {
		return slices.Equal(a.([]any), b.([]any))
	}) {
		t.Errorf("Set kept a reference to the caller's map: %v", got)
	}
	if v, _ := s.GetBytes("b"); string(v) != "abc" {
		t.Errorf("Set kept a reference to the caller's bytes: %q", v)
	}
}

func TestSession_CycleKey_DoesNotResurrectConcurrentlyFlushed(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"user": "sonam"})
	tabB := env.load(t, id)
	tabB.Len()
	if err := env.load(t, id).Flush(context.Background()); err != nil { // tab A logs out
		t.Fatal(err)
	}
	if err := tabB.CycleKey(context.Background()); !errors.Is(err, ErrSessionInterrupted) {
		t.Fatalf("CycleKey after a concurrent Flush = %v, want ErrSessionInterrupted", err)
	}
	for k, rec := range env.store.m {
		if !rec.Expired(env.clock.Now()) {
			t.Errorf("live record %s left behind", k[:8])
		}
	}
}

func TestSession_Flush_StoreFailureKeepsSession(t *testing.T) {
	env := newEnv(t, nil)
	id := env.saved(t, map[string]any{"user": "sonam"})
	s := env.load(t, id)
	env.store.SetFail(errStoreDown)
	if err := s.Flush(context.Background()); !errors.Is(err, errStoreDown) {
		t.Fatalf("Flush = %v, want the store error", err)
	}
	env.store.SetFail(nil)
	if s.ID() != id || s.Len() != 1 {
		t.Errorf("a failed Flush changed the session: ID %q, Len %d", s.ID(), s.Len())
	}
	if err := s.Flush(context.Background()); err != nil || env.load(t, id).ID() != "" {
		t.Errorf("retrying Flush: %v", err)
	}
}

func TestSession_Set_UnsupportedErrorClearsWhenKeyIsFixed(t *testing.T) {
	env := newEnv(t, nil)
	s := env.load(t, "")
	s.Set("bad", make(chan int))
	if err := env.engine.Save(context.Background(), s); !errors.Is(err, ErrUnsupportedValue) {
		t.Fatalf("Save = %v", err)
	}
	s.Set("bad", "fine now")
	if err := env.engine.Save(context.Background(), s); err != nil {
		t.Fatalf("Save after fixing the key = %v", err)
	}
	s.Set("other", func() {})
	if err := s.Delete("other"); err != nil {
		t.Fatalf("Delete of a key whose Set failed = %v", err)
	}
	if err := env.engine.Save(context.Background(), s); err != nil {
		t.Errorf("Save after deleting the key = %v", err)
	}
}

func TestSession_NestingBoundaryRoundTrips(t *testing.T) {
	env := newEnv(t, nil)
	nest := func(levels int) any {
		var v any = "leaf"
		for i := range levels {
			if i%2 == 0 {
				v = map[string]any{"k": v}
			} else {
				v = []any{v}
			}
		}
		return v
	}
	s := env.load(t, "")
	s.Set("deep", nest(maxDepth))
	s.Set("keep", "important")
	if err := env.engine.Save(context.Background(), s); err != nil {
		t.Fatalf("Save of %d nested levels: %v", maxDepth, err)
	}
	again := env.load(t, s.ID())
	if v, _ := again.GetString("keep"); v != "important" || !again.Has("deep") {
		t.Fatalf("reload of %d nested levels lost data: %v", maxDepth, again.Keys())
	}
	s.Set("deeper", nest(maxDepth+1))
	if err := env.engine.Save(context.Background(), s); !errors.Is(err, ErrUnsupportedValue) {
		t.Errorf("Save of %d levels = %v, want ErrUnsupportedValue", maxDepth+1, err)
	}
}

func TestSession_FarFutureExpiryRoundTrips(t *testing.T) {
	env := newEnv(t, nil)
	when := time.Date(2300, 1, 1, 0, 0, 0, 123, time.UTC)
	s := env.load(t, "")
	s.SetExpiresAt(when)
	if err := env.engine.Save(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	if got := env.load(t, s.ID()).ExpiryDate(); !got.Equal(when) {
		t.Errorf("ExpiryDate after reload = %v, want %v", got, when)
	}
}

func TestSession_ByteArraysBecomeBytes(t *testing.T) {
	env := newEnv(t, nil)
	s := env.load(t, "")
	uuid := [16]byte{1, 2, 3}
	s.Set("uuid", uuid)
	if b, ok := s.GetBytes("uuid"); !ok || len(b) != 16 || b[2] != 3 {
		t.Fatalf("[16]byte stored as %#v", b)
	}
	back, err := GetAs[[16]byte](s, "uuid")
	if err != nil || back != uuid {
		t.Errorf("GetAs[[16]byte] = %v, %v", back, err)
	}
}
