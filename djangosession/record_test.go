package djangosession_test

import (
	"context"
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangosession"
	"github.com/sessionkv/session/memstore"
)

func TestIDs(t *testing.T) {
	ids := djangosession.IDs
	id := ids.NewID()
	if !djangosession.ValidSessionKey(id) || !ids.ValidID(id) {
		t.Fatalf("NewID() = %q is not a Django session key", id)
	}
	if ids.StoreKey(id) != id {
		t.Errorf("StoreKey(%q) = %q; Django stores the key itself", id, ids.StoreKey(id))
	}
	for _, bad := range []string{"", strings.Repeat("A", 43), strings.Repeat("a", 31), strings.Repeat("a", 33), "../" + strings.Repeat("a", 29)} {
		if ids.ValidID(bad) {
			t.Errorf("ValidID(%q) = true", bad)
		}
	}
}

func TestSettings_Options(t *testing.T) {
	st := &djangosession.Settings{SecretKey: "k", SessionCookieAge: time.Hour, SessionCookieName: "sid"}
	o := session.DefaultOptions()
	st.Options(o)
	if _, ok := o.Codec.(djangosession.SessionCodec); !ok || o.IDs != djangosession.IDs || o.CookieName != "sid" || o.CookieAge != time.Hour {
		t.Errorf("Options: codec %T, IDs %v, cookie %q, age %v", o.Codec, o.IDs, o.CookieName, o.CookieAge)
	}
	o = session.DefaultOptions()
	(&djangosession.Settings{SecretKey: "k"}).CookieOptions(o)
	if _, ok := o.Codec.(djangosession.CookieCodec); !ok || o.CookieName != "sessionid" || o.CookieAge != djangosession.DefaultSessionCookieAge {
		t.Errorf("CookieOptions: codec %T, cookie %q, age %v", o.Codec, o.CookieName, o.CookieAge)
	}
}

// TestSessionCodec_Expiry checks how each expiry choice is stored under
// _session_expiry and read back.
func TestSessionCodec_Expiry(t *testing.T) {
	st := &djangosession.Settings{SecretKey: "k"}
	at := time.Date(2026, 5, 1, 12, 0, 0, 123456789, time.UTC)
	cases := []struct {
		exp    session.Expiry
		stored any // nil: no key
		back   session.Expiry
	}{
		{session.Expiry{}, nil, session.Expiry{}},
		{session.Expiry{Kind: session.ExpiryMaxAge, MaxAge: 300 * time.Second}, int64(300), session.Expiry{Kind: session.ExpiryMaxAge, MaxAge: 300 * time.Second}},
		// Whole seconds, as the engine counts them.
		{session.Expiry{Kind: session.ExpiryMaxAge, MaxAge: 90*time.Second + 900*time.Millisecond}, int64(90), session.Expiry{Kind: session.ExpiryMaxAge, MaxAge: 90 * time.Second}},
		// Under a second is expired for the engine; 0 would be browser close.
		{session.Expiry{Kind: session.ExpiryMaxAge, MaxAge: 0}, int64(-1), session.Expiry{Kind: session.ExpiryMaxAge, MaxAge: -time.Second}},
		{session.Expiry{Kind: session.ExpiryMaxAge, MaxAge: 500 * time.Millisecond}, int64(-1), session.Expiry{Kind: session.ExpiryMaxAge, MaxAge: -time.Second}},
		{session.Expiry{Kind: session.ExpiryMaxAge, MaxAge: -5 * time.Second}, int64(-5), session.Expiry{Kind: session.ExpiryMaxAge, MaxAge: -5 * time.Second}},
		{session.Expiry{Kind: session.ExpiryBrowserClose}, int64(0), session.Expiry{Kind: session.ExpiryBrowserClose}},
		{session.Expiry{Kind: session.ExpiryAt, At: at}, "2026-05-01T12:00:00.123456+00:00", session.Expiry{Kind: session.ExpiryAt, At: at.Truncate(time.Microsecond)}},
		{session.Expiry{Kind: session.ExpiryAt, At: at.In(time.FixedZone("IST", 19800)).Truncate(time.Second)}, "2026-05-01T12:00:00+00:00", session.Expiry{Kind: session.ExpiryAt, At: at.Truncate(time.Second)}},
	}
	for _, codec := range []session.RecordCodec{st.SessionCodec(), st.CookieCodec()} {
		for _, c := range cases {
			values := map[string]any{"a": int64(1), djangosession.ExpiryKey: "set by hand"}
			before := maps.Clone(values)
			data, err := codec.EncodeRecord([]byte("prefix"), values, c.exp)
			if err != nil {
				t.Fatalf("%T %+v: %v", codec, c.exp, err)
			}
			if !maps.Equal(values, before) {
				t.Errorf("EncodeRecord changed its values: %v", values)
			}
			if !strings.HasPrefix(string(data), "prefix") {
				t.Fatalf("EncodeRecord did not append: %q", data)
			}
			data = data[len("prefix"):]
			var raw map[string]any
			if _, ok := codec.(djangosession.SessionCodec); ok {
				raw, err = st.DecodeSession(string(data))
			} else {
				raw, err = st.DecodeCookie(string(data))
			}
			if err != nil {
				t.Fatalf("%T: the record is not the backend's data: %v", codec, err)
			}
			if got, ok := raw[djangosession.ExpiryKey]; c.stored == nil && ok || c.stored != nil && got != c.stored {
				t.Errorf("%T %+v: stored %#v, want %#v", codec, c.exp, got, c.stored)
			}
			got, exp, err := codec.DecodeRecord(data)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := got[djangosession.ExpiryKey]; ok || got["a"] != int64(1) || len(got) != 1 {
				t.Errorf("DecodeRecord values %v; want only a=1", got)
			}
			if exp.Kind != c.back.Kind || exp.MaxAge != c.back.MaxAge || !exp.At.Equal(c.back.At) {
				t.Errorf("%T %+v: read back %+v, want %+v", codec, c.exp, exp, c.back)
			}
		}
	}
	if _, err := st.SessionCodec().EncodeRecord(nil, nil, session.Expiry{Kind: 9}); !errors.Is(err, session.ErrUnsupportedValue) {
		t.Errorf("unknown expiry kind: %v", err)
	}
}

func TestSessionCodec_Errors(t *testing.T) {
	st := &djangosession.Settings{SecretKey: "k"}
	c := st.SessionCodec()
	bad := map[string]string{
		"garbage":      "not signed",
		"other key":    must((&djangosession.Settings{SecretKey: "other"}).EncodeSession(map[string]any{"a": 1})),
		"cookie salt":  must(st.EncodeCookie(map[string]any{"a": 1})),
		"expiry list":  must(st.EncodeSession(map[string]any{djangosession.ExpiryKey: []any{1}})),
		"expiry words": must(st.EncodeSession(map[string]any{djangosession.ExpiryKey: "tomorrow"})),
	}
	for what, data := range bad {
		if _, _, err := c.DecodeRecord([]byte(data)); !errors.Is(err, session.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", what, err)
		}
	}
	if _, err := c.EncodeRecord(nil, map[string]any{"b": []byte("x")}, session.Expiry{}); !errors.Is(err, session.ErrUnsupportedValue) {
		t.Errorf("[]byte: %v", err)
	}
	if _, err := (djangosession.SessionCodec{Settings: &djangosession.Settings{}}).EncodeRecord(nil, nil, session.Expiry{}); !errors.Is(err, djangosession.ErrNoKey) {
		t.Errorf("no key: %v", err)
	}
	// A session whose JSON would not decode is not written.
	small := &djangosession.Settings{SecretKey: "k", MaxPayload: 100}
	if _, err := small.SessionCodec().EncodeRecord(nil, map[string]any{"s": strings.Repeat("x", 100)}, session.Expiry{}); err == nil || !strings.Contains(err.Error(), "MaxPayload") {
		t.Errorf("over MaxPayload: %v", err)
	}
	if _, err := small.SessionCodec().EncodeRecord(nil, map[string]any{"s": strings.Repeat("x", 50)}, session.Expiry{}); err != nil {
		t.Errorf("under MaxPayload: %v", err)
	}
	for _, oc := range []session.OwnerCodec{c, st.CookieCodec()} {
		if got := oc.Owner(map[string]any{djangosession.UserIDKey: "42"}); got != "42" {
			t.Errorf("Owner = %q", got)
		}
		if got := oc.Owner(map[string]any{}); got != "" {
			t.Errorf("Owner of no one = %q", got)
		}
	}
	// Encode and Decode are the JSON alone.
	b, err := c.Encode(nil, map[string]any{"a": 1.0})
	if err != nil || string(b) != `{"a":1.0}` {
		t.Errorf("Encode = %s, %v", b, err)
	}
	if m, err := st.CookieCodec().Decode(b); err != nil || m["a"] != 1.0 {
		t.Errorf("Decode = %v, %v", m, err)
	}
}

func must(s string, err error) string {
	if err != nil {
		panic(err)
	}
	return s
}

// TestEngine_DBLayout runs the engine with Django's codec and IDs over a
// store of the engine's own (the db backend's layout is a key, the session
// data and an expiry date, which sqlstore.DjangoStore keeps in Django's
// table): what is stored is Django's session_data under the raw key.
func TestEngine_DBLayout(t *testing.T) {
	ctx := context.Background()
	st := &djangosession.Settings{SecretKey: "django-insecure-db"}
	store := memstore.New()
	o := session.DefaultOptions()
	st.Options(o)
	o.SweepInterval = -1
	e, err := session.New(store, o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()

	s, _ := e.Load(ctx, "")
	s.Set("cart", []any{1, 2})
	s.Set(djangosession.UserIDKey, "42")
	s.SetMaxAge(time.Hour)
	if err := e.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	id := s.ID()
	if !djangosession.ValidSessionKey(id) {
		t.Fatalf("ID %q is not a Django key", id)
	}
	rec, err := store.Load(ctx, id)
	if err != nil {
		t.Fatalf("not stored under the raw key: %v", err)
	}
	values, err := st.DecodeSession(string(rec.Data))
	if err != nil {
		t.Fatalf("stored data is not Django's session_data: %v", err)
	}
	if canonical(t, values) != `{"_auth_user_id":"42","_session_expiry":3600,"cart":[1,2]}` {
		t.Errorf("stored %s", canonical(t, values))
	}
	if rec.UserID != "42" || s.UserID() != "42" {
		t.Errorf("owner %q / %q", rec.UserID, s.UserID())
	}

	again, _ := e.Load(ctx, id)
	if again.ID() != id || again.Has(djangosession.ExpiryKey) || again.ExpiryAge() != time.Hour {
		t.Errorf("reloaded %q: %v, age %v", again.ID(), maps.Collect(again.Items()), again.ExpiryAge())
	}
	// A record Django wrote: set_expiry(0) and a login.
	django, _ := st.EncodeSession(map[string]any{djangosession.ExpiryKey: 0, djangosession.UserIDKey: "7", "from": "django"})
	key := djangosession.NewSessionKey()
	if err := store.Save(ctx, key, session.Record{Data: []byte(django), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	d, _ := e.Load(ctx, key)
	if v, _ := d.GetString("from"); v != "django" || !d.ExpireAtBrowserClose() || d.UserID() != "7" {
		t.Errorf("Django's record: %v, browser close %v, owner %q", maps.Collect(d.Items()), d.ExpireAtBrowserClose(), d.UserID())
	}
	// The owner the engine recorded is the one in the values.
	if n, err := e.DeleteUser(ctx, "42"); err != nil || n != 1 {
		t.Errorf("DeleteUser(42) = %d, %v", n, err)
	}
	// A session key of the engine's own shape is not Django's.
	if s, _ := e.Load(ctx, session.StoreKey(id)); s.ID() != "" {
		t.Error("a 64-hex cookie loaded a session")
	}
}
