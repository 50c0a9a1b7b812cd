package djangosession_test

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangosession"
)

func newCookieEngine(t *testing.T, st *djangosession.Settings) (*session.Engine, *djangosession.CookieStore) {
	t.Helper()
	store, err := djangosession.NewCookieStore(st)
	if err != nil {
		t.Fatal(err)
	}
	o := session.DefaultOptions()
	st.CookieOptions(o)
	o.Now = st.Now
	e, err := session.New(store, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e, store
}

// TestCookieStore_Engine runs the engine over a CookieStore: the cookie is
// the signed_cookies value itself.
func TestCookieStore_Engine(t *testing.T) {
	ctx := context.Background()
	clk := newClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
	st := &djangosession.Settings{SecretKey: "django-insecure-cookies", SessionCookieAge: time.Hour, Now: clk.now}
	e, store := newCookieEngine(t, st)

	s, _ := e.Load(ctx, "")
	s.Set("theme", "dark")
	s.Set(djangosession.UserIDKey, "42")
	if err := e.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	cookie := s.ID()
	values, err := st.DecodeCookie(cookie)
	if err != nil || canonical(t, values) != `{"_auth_user_id":"42","theme":"dark"}` {
		t.Fatalf("cookie %q holds %v (%v)", cookie, values, err)
	}
	rec, err := store.Load(ctx, cookie)
	if err != nil || rec.UserID != "42" || string(rec.Data) != cookie || !rec.Expires.Equal(clk.now().Add(time.Hour+time.Nanosecond)) {
		t.Fatalf("Load = %+v, %v", rec, err)
	}
	got, _ := e.Load(ctx, cookie)
	if v, _ := got.GetString("theme"); v != "dark" || got.UserID() != "42" {
		t.Errorf("loaded %v, owner %q", maps.Collect(got.Items()), got.UserID())
	}

	// The cookie opens until SESSION_COOKIE_AGE after it was signed.
	clk.add(time.Hour)
	if _, err := store.Load(ctx, cookie); err != nil {
		t.Errorf("at the max age: %v", err)
	}
	clk.add(time.Second)
	if _, err := store.Load(ctx, cookie); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("past the max age: %v", err)
	}
	if s, _ := e.Load(ctx, cookie); s.ID() != "" {
		t.Error("the engine loaded an expired cookie")
	}

	// A session's own expiry is honoured too, counted from the signing.
	s, _ = e.Load(ctx, "")
	s.Set("k", "v")
	s.SetMaxAge(10 * time.Minute)
	if err := e.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	short := s.ID()
	if rec, err := store.Load(ctx, short); err != nil || !rec.Expires.Equal(clk.now().Truncate(time.Second).Add(10*time.Minute)) {
		t.Errorf("Load = %v, %v", rec.Expires, err)
	}
	clk.add(10*time.Minute + time.Second)
	if _, err := store.Open(short); !errors.Is(err, djangosession.ErrExpiredSignature) {
		t.Errorf("past its own max age: %v", err)
	}

	// CycleKey and every save give a new cookie; Flush clears it, though
	// the old value still opens (nothing is kept on the server).
	s, _ = e.Load(ctx, "")
	s.Set("n", 1)
	if err := e.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	first := s.ID()
	clk.add(time.Second) // a new signing second, a new signature
	if err := s.CycleKey(ctx); err != nil {
		t.Fatal(err)
	}
	if s.ID() == first {
		t.Error("CycleKey kept the cookie")
	}
	if err := s.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Load(ctx, first); err != nil {
		t.Errorf("an old cookie no longer opens after Flush (%v): a cookie session cannot be revoked", err)
	}
}

func TestCookieStore_Refused(t *testing.T) {
	ctx := context.Background()
	st := &djangosession.Settings{SecretKey: "k"}
	store, err := djangosession.NewCookieStore(st)
	if err != nil {
		t.Fatal(err)
	}
	good := must(st.EncodeCookie(map[string]any{"a": 1}))
	tampered := []byte(good)
	tampered[3] ^= 1
	bad := map[string]struct {
		value string
		want  error
	}{
		"empty":       {"", djangosession.ErrBadSignature},
		"garbage":     {"not a cookie", djangosession.ErrBadSignature},
		"tampered":    {string(tampered), djangosession.ErrBadSignature},
		"other key":   {must((&djangosession.Settings{SecretKey: "other"}).EncodeCookie(map[string]any{"a": 1})), djangosession.ErrBadSignature},
		"session":     {must(st.EncodeSession(map[string]any{"a": 1})), djangosession.ErrBadSignature},
		"old":         {must((&djangosession.Settings{SecretKey: "k", Now: func() time.Time { return time.Now().Add(-15 * 24 * time.Hour) }}).EncodeCookie(nil)), djangosession.ErrExpiredSignature},
		"own expiry":  {must(st.EncodeCookie(map[string]any{djangosession.ExpiryKey: "2000-01-01T00:00:00+00:00"})), djangosession.ErrExpiredSignature},
		"bad expiry":  {must(st.EncodeCookie(map[string]any{djangosession.ExpiryKey: []any{}})), session.ErrCorrupt},
		"not a dict":  {must(st.Signer(djangosession.CookieSalt).Sign([]byte("[1]"))), session.ErrCorrupt},
		"big integer": {must(st.Signer(djangosession.CookieSalt).Sign([]byte(`{"n":123456789012345678901234567890}`))), session.ErrCorrupt},
	}
	for what, c := range bad {
		if _, err := store.Load(ctx, c.value); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s: Load = %v, want ErrNotFound", what, err)
		}
		if _, err := store.Open(c.value); !errors.Is(err, c.want) {
			t.Errorf("%s: Open = %v, want %v", what, err, c.want)
		}
	}
	if _, err := store.Load(ctx, good); err != nil {
		t.Errorf("good cookie: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := store.Load(canceled, good); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	if err := store.Save(ctx, good, session.Record{}); !errors.Is(err, djangosession.ErrNotServerSide) {
		t.Errorf("Save = %v", err)
	}
	if err := store.Delete(ctx, good); err != nil {
		t.Errorf("Delete = %v", err)
	}
	if _, err := djangosession.NewCookieStore(&djangosession.Settings{}); !errors.Is(err, djangosession.ErrNoKey) {
		t.Errorf("no key: %v", err)
	}
}

func TestCookieStore_Seal(t *testing.T) {
	st := &djangosession.Settings{SecretKey: "k"}
	store, _ := djangosession.NewCookieStore(st)
	good := must(st.EncodeCookie(map[string]any{"a": 1}))
	if v, err := store.Seal(session.Record{Data: []byte(good)}, 4000); err != nil || v != good {
		t.Errorf("Seal = %q, %v", v, err)
	}
	if _, err := store.Seal(session.Record{Data: []byte(good)}, len(good)-1); !errors.Is(err, session.ErrCookieTooLarge) {
		t.Errorf("too long: %v", err)
	}
	for what, data := range map[string]string{
		"msgpack":      "\x81\xa1a\x01",
		"session salt": must(st.EncodeSession(map[string]any{"a": 1})),
		"other key":    must((&djangosession.Settings{SecretKey: "other"}).EncodeCookie(nil)),
	} {
		if _, err := store.Seal(session.Record{Data: []byte(data)}, 4000); !errors.Is(err, djangosession.ErrForeignData) {
			t.Errorf("%s: Seal = %v, want ErrForeignData", what, err)
		}
	}

	// Through the engine: a session too large for a cookie fails its save.
	e, _ := newCookieEngine(t, st)
	s, _ := e.Load(context.Background(), "")
	r := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 6000)
	for i := range big {
		big[i] = byte('a' + r.IntN(26))
	}
	s.Set("big", string(big)) // random: it does not compress below 4 KiB
	if err := e.Save(context.Background(), s); !errors.Is(err, session.ErrCookieTooLarge) {
		t.Errorf("large session: %v, want ErrCookieTooLarge", err)
	}
}

// An engine whose codec is not the cookie store's cannot issue cookies.
func TestCookieStore_WrongCodec(t *testing.T) {
	st := &djangosession.Settings{SecretKey: "k"}
	store, _ := djangosession.NewCookieStore(st)
	o := session.DefaultOptions()
	st.Options(o) // the db backend's codec: another salt
	e, err := session.New(store, o)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	s, _ := e.Load(context.Background(), "")
	s.Set("a", 1)
	if err := e.Save(context.Background(), s); !errors.Is(err, djangosession.ErrForeignData) {
		t.Errorf("Save = %v, want ErrForeignData", err)
	}
}
