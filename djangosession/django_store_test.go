package djangosession_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangosession"
	"github.com/sessionkv/session/memstore"
)

// The tests in this file share sessions between the engine and Django
// itself (see oracle_test.go): Django's file backend in one directory,
// its signed_cookies backend, and its db backend's session_data.

// fileOp returns a file backend op on dir.
func fileOp(kind, dir, key string, fields op) op {
	o := op{"op": kind, "dir": dir, "key": key}
	for k, v := range fields {
		o[k] = v
	}
	return o
}

func jsonText(t *testing.T, v map[string]any) string {
	t.Helper()
	return canonical(t, v)
}

func loadSession(t *testing.T, e *session.Engine, id string) *session.Session {
	t.Helper()
	s, err := e.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if s.ID() != id {
		t.Fatalf("session %s did not load", id)
	}
	return s
}

// TestDjango_FileBackend shares one directory between Django's file
// backend and the engine over a FileStore: each side reads what the other
// wrote, updates and deletes cross over, and so do expiry choices.
func TestDjango_FileBackend(t *testing.T) {
	t.Parallel()
	requireDjango(t)
	ctx := context.Background()
	const key = "django-insecure-shared-files"
	dir := t.TempDir()
	st := &djangosession.Settings{SecretKey: key}
	fs, err := djangosession.NewFileStore(dir, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fs.Close()
	e := newDjangoEngine(t, st, fs)

	// Django writes.
	res := runDjango(t, []op{
		fileOp("file_save", dir, key, op{"obj": `{"_auth_user_id":"8412","from":"django","n":1}`}),
		fileOp("file_save", dir, key, op{"obj": `{"k":"b"}`, "expiry": 300}),
		fileOp("file_save", dir, key, op{"obj": `{"k":"c"}`, "expiry": 0}),
		fileOp("file_save", dir, key, op{"obj": `{"k":"d"}`}),
		// Django 3.2 cannot store set_expiry(datetime) with JSON.
		fileOp("file_save", dir, key, op{"obj": `{"k":"e"}`, "expiry_at": 1.9e9}),
	})
	for i, r := range res[:4] {
		if r.Error != "" || !djangosession.ValidSessionKey(r.Out) {
			t.Fatalf("Django's save %d: %+v", i, r)
		}
	}
	if res[4].Error != "TypeError" {
		t.Errorf("Django 3.2, set_expiry(datetime): %+v; want a TypeError", res[4])
	}
	a, b, c, d := res[0].Out, res[1].Out, res[2].Out, res[3].Out

	// The engine reads them: values, owner, expiry choices.
	sa := loadSession(t, e, a)
	if v, _ := sa.GetString("from"); v != "django" || sa.UserID() != "8412" || sa.ExpiryAge() != djangosession.DefaultSessionCookieAge || sa.ExpireAtBrowserClose() {
		t.Errorf("A: %v, owner %q, age %v", maps.Collect(sa.Items()), sa.UserID(), sa.ExpiryAge())
	}
	if sb := loadSession(t, e, b); sb.ExpiryAge() != 300*time.Second || sb.Has(djangosession.ExpiryKey) {
		t.Errorf("B: %v, age %v; want set_expiry(300)", maps.Collect(sb.Items()), sb.ExpiryAge())
	}
	if sc := loadSession(t, e, c); !sc.ExpireAtBrowserClose() || sc.ExpiryAge() != djangosession.DefaultSessionCookieAge {
		t.Errorf("C: browser close %v, age %v; want set_expiry(0)", sc.ExpireAtBrowserClose(), sc.ExpiryAge())
	}
	// The engine writes: an update, a logout, and new sessions.
	sa.Set("go", true)
	if err := e.Save(ctx, sa); err != nil {
		t.Fatal(err)
	}
	if err := loadSession(t, e, d).Flush(ctx); err != nil {
		t.Fatal(err)
	}
	newSession := func(set func(s *session.Session)) string {
		s, _ := e.Load(ctx, "")
		set(s)
		if err := e.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		return s.ID()
	}
	g := newSession(func(s *session.Session) {
		s.Set("lang", "dz")
		s.Set(djangosession.UserIDKey, "77")
		s.SetMaxAge(600 * time.Second)
	})
	h := newSession(func(s *session.Session) { s.Set("k", "h"); s.SetExpireAtBrowserClose() })
	i := newSession(func(s *session.Session) { s.Set("k", "i"); s.SetExpiresAt(time.Now().Add(time.Hour)) })
	owners := map[string]string{}
	if err := e.Range(ctx, func(k string, rec session.Record) bool { owners[k] = rec.UserID; return true }); err != nil {
		t.Fatal(err)
	}
	if len(owners) != 6 || owners[a] != "8412" || owners[g] != "77" || owners[b] != "" {
		t.Errorf("Range: owners %v", owners)
	}

	// Django reads what the engine wrote, then writes over it.
	res = runDjango(t, []op{
		fileOp("file_load", dir, key, op{"session_key": a}),
		fileOp("file_load", dir, key, op{"session_key": d}),
		fileOp("file_load", dir, key, op{"session_key": g}),
		fileOp("file_load", dir, key, op{"session_key": h}),
		fileOp("file_load", dir, key, op{"session_key": i}),
		fileOp("file_save", dir, key, op{"session_key": g, "obj": `{"django":2}`}),
		fileOp("file_delete", dir, key, op{"session_key": h}),
		fileOp("file_save", dir, key, op{"session_key": a, "remove": []string{"n"}, "expiry": 120}),
	})
	if want := `{"_auth_user_id":"8412","from":"django","go":true,"n":1}`; res[0].Out != want || !res[0].Exists {
		t.Errorf("Django loads A: %+v, want %s", res[0], want)
	}
	if res[1].Out != "{}" || res[1].Exists {
		t.Errorf("Django loads D, flushed by Go: %+v", res[1])
	}
	if want := `{"_auth_user_id":"77","_session_expiry":600,"lang":"dz"}`; res[2].Out != want || res[2].Age == nil || *res[2].Age != 600 {
		t.Errorf("Django loads G: %+v, want %s with age 600", res[2], want)
	}
	if res[3].Out != `{"_session_expiry":0,"k":"h"}` || !res[3].BrowserClose || res[3].Age == nil || *res[3].Age != 1209600 {
		t.Errorf("Django loads H: %+v; want a browser-close session", res[3])
	}
	// Django 3.2 cannot read an expiry time, which later releases store as
	// an isoformat() string (see SessionCodec).
	if res[4].Error != "TypeError" {
		t.Errorf("Django 3.2 loads I: %+v; want a TypeError", res[4])
	}
	for j, r := range res[5:] {
		if r.Error != "" {
			t.Errorf("Django's write %d: %+v", j, r)
		}
	}

	// The engine reads Django's writes.
	sg := loadSession(t, e, g)
	if n, _ := sg.GetInt("django"); n != 2 || !sg.Has("lang") || sg.ExpiryAge() != 600*time.Second || sg.UserID() != "77" {
		t.Errorf("G after Django: %v, age %v, owner %q", maps.Collect(sg.Items()), sg.ExpiryAge(), sg.UserID())
	}
	if s, _ := e.Load(ctx, h); s.ID() != "" {
		t.Error("H, deleted by Django, still loads")
	}
	sa = loadSession(t, e, a)
	if sa.Has("n") || !sa.Has("go") || sa.ExpiryAge() != 120*time.Second {
		t.Errorf("A after Django: %v, age %v", maps.Collect(sa.Items()), sa.ExpiryAge())
	}
}

// TestDjango_FileExpiry compares Django's file backend and FileStore on
// when a session expires, around the boundaries, with the same clock and
// the same files; then Django's clearsessions and DeleteExpired on two
// copies of one directory.
func TestDjango_FileExpiry(t *testing.T) {
	t.Parallel()
	requireDjango(t)
	const key = "django-insecure-expiry"
	const age = 3600
	now := time.Unix(1767225600, 0) // whole seconds: Python reads mtimes as floats
	clk := newClock(now)
	st := &djangosession.Settings{SecretKey: key, SessionCookieAge: age * time.Second, Now: clk.now}
	// One directory for the loads, one for Django's sweep, one for the
	// store's.
	dirs := [3]string{t.TempDir(), t.TempDir(), t.TempDir()}
	var stores [3]*djangosession.FileStore
	for i, dir := range dirs {
		fs, err := djangosession.NewFileStore(dir, st, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer fs.Close()
		stores[i] = fs
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	type verdict int
	const (
		live verdict = iota
		expired
		corrupt  // Django: an empty session; Go: ErrCorrupt
		empty    // Django: an empty session, never expired; Go: not found
		crash    // Django 3.2 raises TypeError
		laxLive  // Django: live; Go: expired (see the package documentation)
		noRemove // for sweeps only
	)
	cases := []struct {
		name   string
		data   any // map[string]any, or the file's content as a string
		mtime  time.Time
		django verdict
		goLive bool
	}{
		{"default, 2s left", map[string]any{}, now.Add(-age*time.Second + 2*time.Second), live, true},
		{"default, 1s left", map[string]any{}, now.Add(-age*time.Second + time.Second), live, true},
		{"default, 999ms left", map[string]any{}, now.Add(-age*time.Second + ms(999)), expired, false},
		{"default, 500ms left", map[string]any{}, now.Add(-age*time.Second + ms(500)), expired, false},
		{"default, 0 left", map[string]any{}, now.Add(-age * time.Second), expired, false},
		{"default, 1 day past", map[string]any{}, now.Add(-age*time.Second - 24*time.Hour), expired, false},
		{"browser close, 1s left", map[string]any{djangosession.ExpiryKey: 0}, now.Add(-age*time.Second + time.Second), live, true},
		{"browser close, 500ms left", map[string]any{djangosession.ExpiryKey: 0}, now.Add(-age*time.Second + ms(500)), expired, false},
		{"max age 300, 1s left", map[string]any{djangosession.ExpiryKey: 300}, now.Add(-299 * time.Second), live, true},
		{"max age 300, saved 301s ago", map[string]any{djangosession.ExpiryKey: 300}, now.Add(-301 * time.Second), laxLive, false},
		{"max age 300, saved 10 days ago", map[string]any{djangosession.ExpiryKey: 300}, now.Add(-240 * time.Hour), laxLive, false},
		{"max age 7200, saved 5000s ago", map[string]any{djangosession.ExpiryKey: 7200}, now.Add(-5000 * time.Second), live, true},
		{"max age -1", map[string]any{djangosession.ExpiryKey: -1}, now, expired, false},
		{"max age 0.5", map[string]any{djangosession.ExpiryKey: 0.5}, now, laxLive, false},
		{"corrupt, fresh", "garbage:data:here", now, corrupt, false},
		{"corrupt, old", "garbage:data:here", now.Add(-2 * age * time.Second), expired, false},
		{"empty, fresh", "", now, empty, false},
		{"empty, old", "", now.Add(-2 * age * time.Second), empty, false},
		{"expiry time", map[string]any{djangosession.ExpiryKey: "2026-01-01T01:00:00+00:00"}, now, crash, true},
	}
	var ops []op
	for i, c := range cases {
		k := fmt.Sprintf("expirycase%02d", i)
		for _, fs := range stores {
			data, ok := c.data.(string)
			if !ok {
				values := c.data.(map[string]any)
				values = map[string]any{"case": c.name, djangosession.ExpiryKey: values[djangosession.ExpiryKey]}
				if values[djangosession.ExpiryKey] == nil {
					delete(values, djangosession.ExpiryKey)
				}
				data = must(st.EncodeSession(values))
			}
			writeFile(t, sessionPath(fs, k), data, c.mtime)
		}
		// The engine's verdict, before Django's load removes what it finds
		// expired.
		_, err := stores[0].Load(context.Background(), k)
		if c.goLive != (err == nil) {
			t.Errorf("%s: FileStore.Load = %v; want live %v", c.name, err, c.goLive)
		}
		ops = append(ops, fileOp("file_load", dirs[0], key, op{"session_key": k, "time": float64(now.Unix()), "age": age}))
	}
	ops = append(ops, fileOp("file_clear", dirs[1], key, op{"time": float64(now.Unix()), "age": age}))
	// clear_expired stops at the first session it cannot read: sweep
	// directories without one.
	for _, dir := range dirs[1:] {
		crashing := filepath.Join(dir, "sessionid"+fmt.Sprintf("expirycase%02d", len(cases)-1))
		if err := os.Remove(crashing); err != nil {
			t.Fatal(err)
		}
	}
	res := runDjango(t, ops)

	for i, c := range cases {
		r := res[i]
		var got verdict
		switch {
		case r.Error == "TypeError":
			got = crash
		case r.Error != "":
			t.Errorf("%s: Django raised %s", c.name, r.Error)
			continue
		case r.Out == "{}" && !r.Exists:
			got = expired
		case r.Out == "{}" && c.data == "":
			got = empty
		case r.Out == "{}":
			got = corrupt
		case !c.goLive:
			got = laxLive
		default:
			got = live
		}
		if got != c.django {
			t.Errorf("%s: Django's verdict %d (%+v), want %d", c.name, got, r, c.django)
		}
	}

	// The sweeps: Django's clear_expired, and DeleteExpired on the same
	// files at the same time.
	n, err := stores[2].DeleteExpired(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	if err := json.Unmarshal([]byte(res[len(cases)].Out), &names); err != nil {
		t.Fatalf("clear_expired: %+v", res[len(cases)])
	}
	djangoLeft := slices.DeleteFunc(names, func(n string) bool { return n == ".djangosession-locks" })
	entries, _ := os.ReadDir(dirs[2])
	var goLeft []string
	for _, e := range entries {
		if e.Name() != ".djangosession-locks" {
			goLeft = append(goLeft, e.Name())
		}
	}
	// Django keeps what it reads as live, and empty files; the store only
	// what it reads as live, and fresh corrupt or empty files.
	var wantDjango, wantGo []string
	removed := 0
	for i, c := range cases[:len(cases)-1] {
		name := fmt.Sprintf("sessionidexpirycase%02d", i)
		if c.django == live || c.django == laxLive || c.django == corrupt || c.django == empty {
			wantDjango = append(wantDjango, name)
		}
		if c.goLive || c.mtime.Equal(now) && (c.django == corrupt || c.django == empty) {
			wantGo = append(wantGo, name)
		} else {
			removed++
		}
	}
	if !slices.Equal(djangoLeft, wantDjango) {
		t.Errorf("Django's clear_expired left\n%v\nwant\n%v", djangoLeft, wantDjango)
	}
	if !slices.Equal(goLeft, wantGo) || n != removed {
		t.Errorf("DeleteExpired removed %d, left\n%v\nwant %d,\n%v", n, goLeft, removed, wantGo)
	}
}

// TestDjango_SignedCookies has the engine over a CookieStore and Django's
// signed_cookies backend open each other's cookies, and refuse tampered,
// foreign and expired ones.
func TestDjango_SignedCookies(t *testing.T) {
	t.Parallel()
	requireDjango(t)
	ctx := context.Background()
	const key = "django-insecure-cookie-store"
	clk := newClock(time.Unix(int64(math.Floor(t0)), 0))
	st := &djangosession.Settings{SecretKey: key, Now: clk.now}
	e, store := newCookieEngine(t, st)

	s, _ := e.Load(ctx, "")
	s.Set("theme", "dark")
	s.Set(djangosession.UserIDKey, "42")
	if err := e.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	goCookie := s.ID()
	s, _ = e.Load(ctx, "")
	s.Set("k", "short")
	s.SetMaxAge(time.Minute)
	if err := e.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	shortCookie := s.ID()
	tampered := []byte(goCookie)
	tampered[4] ^= 1
	otherEngine, _ := newCookieEngine(t, &djangosession.Settings{SecretKey: "another-key", Now: clk.now})
	s, _ = otherEngine.Load(ctx, "")
	s.Set("theme", "dark")
	if err := otherEngine.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	foreign := s.ID()

	at := func(sec float64) float64 { return math.Floor(t0) + sec }
	res := runDjango(t, []op{
		{"op": "cookie_load", "cookie": goCookie, "key": key, "time": at(60)},
		{"op": "cookie_load", "cookie": string(tampered), "key": key, "time": at(60)},
		{"op": "cookie_load", "cookie": foreign, "key": key, "time": at(60)},
		{"op": "cookie_load", "cookie": goCookie, "key": key, "time": at(1209600)},
		{"op": "cookie_load", "cookie": goCookie, "key": key, "time": at(1209601)},
		{"op": "cookie_load", "cookie": shortCookie, "key": key, "time": at(3600)},
		{"op": "cookie_save", "obj": `{"_auth_user_id":"9","cart":[1,2]}`, "key": key, "time": at(0)},
		{"op": "cookie_save", "obj": `{"_auth_user_id":"9"}`, "key": "another-key", "time": at(0)},
	})
	if want := `{"_auth_user_id":"42","theme":"dark"}`; res[0].Out != want || res[0].Reset {
		t.Errorf("Django opens the engine's cookie: %+v, want %s", res[0], want)
	}
	for i, what := range []string{"tampered", "another key", "past SESSION_COOKIE_AGE"} {
		if r := res[[]int{1, 2, 4}[i]]; r.Out != "{}" || !r.Reset {
			t.Errorf("Django, %s cookie: %+v; want a new session", what, r)
		}
	}
	if res[3].Out == "{}" || res[3].Reset {
		t.Errorf("Django, cookie exactly SESSION_COOKIE_AGE old: %+v; want it to open", res[3])
	}
	// Django ignores a session's own expiry in a cookie; the store does not.
	if res[5].Out == "{}" {
		t.Errorf("Django, cookie past its own max age: %+v; Django 3.2 opens it", res[5])
	}

	// The engine, at the same times.
	open := func(cookie string, sec float64) error {
		clk.set(time.Unix(int64(at(sec)), 0))
		_, err := store.Load(ctx, cookie)
		return err
	}
	if err := open(goCookie, 1209600); err != nil {
		t.Errorf("the engine's cookie, exactly SESSION_COOKIE_AGE old: %v", err)
	}
	for what, err := range map[string]error{
		"tampered":                open(string(tampered), 60),
		"another key":             open(foreign, 60),
		"past SESSION_COOKIE_AGE": open(goCookie, 1209601),
		"past its own max age":    open(shortCookie, 3600),
		"Django's, another key":   open(res[7].Out, 60),
		"Django's, past its age":  open(res[6].Out, 1209601),
	} {
		if !errors.Is(err, session.ErrNotFound) {
			t.Errorf("the engine, %s cookie: %v; want ErrNotFound", what, err)
		}
	}
	clk.set(time.Unix(int64(at(60)), 0))
	ds := loadSession(t, e, res[6].Out)
	if cart, _ := ds.Get("cart"); ds.UserID() != "9" || fmt.Sprint(cart) != "[1 2]" {
		t.Errorf("the engine opens Django's cookie: %v, owner %q", maps.Collect(ds.Items()), ds.UserID())
	}
}

// TestDjango_DBData has Django's db backend decode what the engine stores
// with SessionCodec, expiry choices included, and the engine read what
// Django encodes.
func TestDjango_DBData(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	const key = "django-insecure-db-data"
	st := &djangosession.Settings{SecretKey: key}
	store := memstore.New()
	e := newDjangoEngine(t, st, store)
	expiries := map[string]func(*session.Session){
		`{"_session_expiry":300,"k":1}`:                         func(s *session.Session) { s.SetMaxAge(300 * time.Second) },
		`{"_session_expiry":0,"k":1}`:                           func(s *session.Session) { s.SetExpireAtBrowserClose() },
		`{"_session_expiry":"2030-01-02T03:04:05+00:00","k":1}`: func(s *session.Session) { s.SetExpiresAt(time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)) },
		`{"k":1}`: func(s *session.Session) {},
	}
	var ops []op
	var wants []string
	for want, set := range expiries {
		s, _ := e.Load(ctx, "")
		s.Set("k", 1)
		set(s)
		if err := e.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		rec, err := store.Load(ctx, s.ID())
		if err != nil {
			t.Fatal(err)
		}
		ops = append(ops, op{"op": "decode", "backend": "db", "data": string(rec.Data), "key": key})
		wants = append(wants, want)
	}
	fromDjango := []map[string]any{
		{djangosession.ExpiryKey: 300, "k": 1},
		{djangosession.ExpiryKey: 0, "k": 1},
		{djangosession.ExpiryKey: nil, "k": 1},
	}
	for _, v := range fromDjango {
		ops = append(ops, op{"op": "encode", "backend": "db", "obj": jsonText(t, v), "key": key})
	}
	res := runDjango(t, ops)
	for i, want := range wants {
		if res[i].Out != want {
			t.Errorf("Django decodes %s, want %s", res[i].Out, want)
		}
	}
	codec := st.SessionCodec()
	wantExp := []session.Expiry{
		{Kind: session.ExpiryMaxAge, MaxAge: 300 * time.Second},
		{Kind: session.ExpiryBrowserClose},
		{},
	}
	for i, r := range res[len(wants):] {
		values, exp, err := codec.DecodeRecord([]byte(r.Out))
		if err != nil || exp != wantExp[i] || jsonText(t, values) != `{"k":1}` {
			t.Errorf("Django's %s: %v, %+v, %v", jsonText(t, fromDjango[i]), values, exp, err)
		}
	}
}
