package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangointerop"
	"github.com/sessionkv/session/djangosession"
	"github.com/sessionkv/session/internal/storeconfig"
)

// The tests in this file work on stores in Django's layout and format:
// first on sessions Go wrote in them, then on sessions Django itself wrote
// (package djangointerop), which Django then reads back.

const djangoKey = "django-insecure-sessionctl-tests"

// djangoStore is a store in Django's layout and the sessions written in
// it.
type djangoStore struct {
	url string            // the store URL
	dir string            // SESSION_FILE_PATH
	ids map[string]string // session name -> session key (the cookie)
}

// djangoWriter writes the sessions of djangoFixture: a side that saves
// sessions in Django's format, the engine or Django itself.
type djangoWriter interface {
	// login saves a session of user uid and returns its cookie.
	login(t *testing.T, uid string) string
	// set saves the seed's name and lname and returns the cookie.
	set(t *testing.T) string
	// stale saves a session whose last save was SESSION_COOKIE_AGE and
	// a minute ago, and returns its cookie.
	stale(t *testing.T) string
}

// djangoFixture fills s: sessions of users 42 and 7, an anonymous one,
// and an expired one, not yet swept.
func djangoFixture(t *testing.T, s *djangoStore, w djangoWriter) {
	s.ids = map[string]string{"u42": w.login(t, "42"), "u7": w.login(t, "7"), "anon": w.set(t), "stale": w.stale(t)}
	if strings.HasPrefix(s.url, "django-file:") {
		// Django's file backend dates a session by its file.
		old := time.Now().Add(-time.Hour - time.Minute)
		if err := os.Chtimes(filepath.Join(s.dir, "sessionid"+s.ids["stale"]), old, old); err != nil {
			t.Fatal(err)
		}
	}
}

// goWriter saves sessions through an engine with Django's options, as the
// demo does.
type goWriter struct{ url string }

func (g goWriter) engine(t *testing.T, now func() time.Time) *session.Engine {
	t.Helper()
	spec, err := storeconfig.ParseURL(g.url)
	if err != nil {
		t.Fatal(err)
	}
	o, err := storeconfig.OpenSpec(spec, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	opts := session.DefaultOptions()
	o.Options(opts)
	opts.SweepInterval = -1
	if now != nil {
		opts.Now = now
	}
	e, err := session.New(o.Store, opts)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (g goWriter) save(t *testing.T, now func() time.Time, values map[string]any) string {
	t.Helper()
	ctx := context.Background()
	e := g.engine(t, now)
	defer e.Close()
	s, _ := e.Load(ctx, "")
	s.Update(values)
	if err := e.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	return s.ID()
}

func (g goWriter) login(t *testing.T, uid string) string {
	return g.save(t, nil, map[string]any{djangosession.UserIDKey: uid, "count": 1})
}

func (g goWriter) set(t *testing.T) string {
	return g.save(t, nil, map[string]any{"name": "Sonam", "lname": "rathore"})
}

func (g goWriter) stale(t *testing.T) string {
	then := time.Now().Add(-time.Hour - time.Minute)
	return g.save(t, func() time.Time { return then }, map[string]any{"count": 1})
}

// djangoSide is Django itself, as a djangoWriter.
type djangoSide struct{ d *djangointerop.Django }

func (d djangoSide) cookie(t *testing.T, r djangointerop.Request) string {
	t.Helper()
	res := d.d.Do(t, r)[0]
	if res.Status != 200 || res.Cookie == nil {
		t.Fatalf("Django GET %s: %+v", r.Path, res)
	}
	return res.Cookie.Value
}

func (d djangoSide) login(t *testing.T, uid string) string {
	return d.cookie(t, djangointerop.Request{Path: "/login/?uid=" + uid})
}

func (d djangoSide) set(t *testing.T) string {
	return d.cookie(t, djangointerop.Request{Path: "/set/"})
}

func (d djangoSide) stale(t *testing.T) string {
	return d.cookie(t, djangointerop.Request{Path: "/count/", Time: time.Now().Add(-time.Hour - time.Minute)})
}

// djangoEnv is the environment of sessionctl for Django's stores: their
// SECRET_KEY, and SESSION_COOKIE_AGE of an hour.
func djangoEnv(key string) map[string]string {
	return map[string]string{"SECRET_KEY": key, "SECRET_KEY_FALLBACKS": "", "SESSION_COOKIE_AGE": "3600", "DATABASE_URL": ""}
}

// checkDjangoTools runs every command that reads or changes sessions on
// s, whose sessions djangoFixture wrote.
func checkDjangoTools(t *testing.T, s *djangoStore) {
	env := djangoEnv(djangoKey)
	var all lsResult
	jsonOut(t, env, &all, "ls", "--store", s.url)
	users := map[string]string{}
	for _, r := range all.Sessions {
		users[r.Key] = r.UserID
	}
	if all.Count != 3 || users[s.ids["u42"]] != "42" || users[s.ids["u7"]] != "7" || users[s.ids["anon"]] != "" {
		t.Errorf("ls = %+v; want the live sessions %v, with their owners", all, s.ids)
	}
	var u42 lsResult
	jsonOut(t, env, &u42, "ls", "--store", s.url, "--user", "42")
	if u42.Count != 1 || u42.Sessions[0].Key != s.ids["u42"] {
		t.Errorf("ls --user 42 = %+v", u42)
	}
	var expired lsResult
	jsonOut(t, env, &expired, "ls", "--store", s.url, "--expired")
	if expired.Count != 1 || expired.Sessions[0].Key != s.ids["stale"] {
		t.Errorf("ls --expired = %+v", expired)
	}
	var st statsResult
	jsonOut(t, env, &st, "stats", "--store", s.url)
	if st.Live != 3 || st.WithUser != 2 || st.Expired == nil || *st.Expired != 1 || st.Size.Max == 0 {
		t.Errorf("stats = %+v", st)
	}

	var byKey, byCookie showResult
	jsonOut(t, env, &byKey, "show", "--store", s.url, s.ids["anon"])
	jsonOut(t, env, &byCookie, "show", "--store", s.url, "--cookie", s.ids["anon"])
	if byKey.Key != s.ids["anon"] || byKey.Values["name"] != "Sonam" || byKey.Values["lname"] != "rathore" ||
		byKey.ExpiresInSeconds <= 3500 || byKey.ExpiresInSeconds > 3600 || byKey.DecodeError != "" {
		t.Errorf("show KEY = %+v", byKey)
	}
	if byKey.Values == nil || byCookie.Key != byKey.Key || byCookie.Values["name"] != "Sonam" {
		t.Errorf("show --cookie = %+v", byCookie)
	}
	var owned showResult
	jsonOut(t, env, &owned, "show", "--store", s.url, s.ids["u42"])
	if owned.UserID != "42" || owned.Values[djangosession.UserIDKey] != "42" {
		t.Errorf("show of user 42's session = %+v", owned)
	}
	fails(t, env, exitUsage, "--codec does not apply to Django", "show", "--store", s.url, "--codec", "json", s.ids["anon"])
	fails(t, env, exitUsage, "not a Django session key", "show", "--store", s.url, session.StoreKey("x"))
	fails(t, env, exitNotFound, "no live session", "show", "--store", s.url, s.ids["stale"])
	fails(t, djangoEnv(""), exitUsage, "SECRET_KEY is not set", "show", "--store", s.url, s.ids["anon"])
	// Another key: the session is there, but does not decode (the file
	// store reads each file's expiry from its data, so its load fails;
	// the table's load works, and show prints what it could not decode).
	r := sessionctl(t, djangoEnv("another key"), "show", "--store", s.url, s.ids["anon"])
	if r.code != exitError || !strings.Contains(r.stderr, "bad signature") || strings.Count(r.stderr, "\n") != 1 ||
		(strings.HasPrefix(s.url, "django-db:") && !strings.Contains(r.stdout, `"decode_error"`)) {
		t.Errorf("show with another SECRET_KEY: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}

	var rev revokeResult
	jsonOut(t, env, &rev, "revoke", "--store", s.url, "--user", "42")
	if rev.Revoked != 1 || rev.Method != "scan" {
		t.Errorf("revoke --user 42 = %+v", rev)
	}
	var cl clearResult
	jsonOut(t, env, &cl, "clearsessions", "--store", s.url)
	if cl.Deleted != 1 {
		t.Errorf("clearsessions = %+v", cl)
	}
	jsonOut(t, env, &all, "ls", "--store", s.url)
	if all.Count != 2 {
		t.Errorf("after revoke and clearsessions, ls = %+v", all)
	}
	jsonOut(t, env, &expired, "ls", "--store", s.url, "--expired")
	if expired.Count != 0 {
		t.Errorf("after clearsessions, ls --expired = %+v", expired)
	}
}

// TestDjangoStores_EveryCommand runs the commands on Django's stores
// filled by the engine, as the demo fills them; it needs no Django.
func TestDjangoStores_EveryCommand(t *testing.T) {
	for _, kind := range []string{"db", "file"} {
		t.Run(kind, func(t *testing.T) {
			t.Setenv("SECRET_KEY", djangoKey)
			t.Setenv("SESSION_COOKIE_AGE", "3600")
			dir := t.TempDir()
			s := &djangoStore{url: "django-file:" + dir, dir: dir}
			if kind == "db" {
				s.url = "django-db:sqlite:" + filepath.Join(dir, "db.sqlite3")
			}
			djangoFixture(t, s, goWriter{s.url})
			checkDjangoTools(t, s)
		})
	}
}

// TestDjango_ToolsOnDjangosSessions runs the commands on sessions Django
// wrote, and migrates them between Django's file and db backends, where
// Django reads them.
func TestDjango_ToolsOnDjangosSessions(t *testing.T) {
	djangointerop.Require(t)
	t.Parallel()
	for _, kind := range []string{"db", "file"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			cfg := djangointerop.Config{Engine: kind, SecretKey: djangoKey, FilePath: dir, CookieAge: time.Hour}
			s := &djangoStore{url: "django-file:" + dir, dir: dir}
			if kind == "db" {
				path := filepath.Join(dir, "db.sqlite3")
				cfg.DatabaseURL, cfg.Migrate = "sqlite:"+path, true
				s.url = "django-db:sqlite:" + path
			}
			d := djangointerop.Start(t, cfg)
			djangoFixture(t, s, djangoSide{d})
			checkDjangoTools(t, s)
			if page := d.Get(t, "/get/", s.ids["u42"]).Body; !strings.Contains(page, "Guest Guest") || strings.Contains(page, "count") {
				t.Errorf("Django's /get/ of the revoked session:\n%s", page)
			}
			if page := d.Get(t, "/get/", s.ids["anon"]).Body; !strings.Contains(page, "Sonam rathore") {
				t.Errorf("Django's /get/ after the tools ran:\n%s", page)
			}

			// Migrate to the other backend; Django reads the sessions
			// there.
			other := t.TempDir()
			to := djangointerop.Config{Engine: "db", SecretKey: djangoKey, CookieAge: time.Hour,
				DatabaseURL: "sqlite:" + filepath.Join(other, "db.sqlite3")}
			toURL := "django-db:" + to.DatabaseURL
			if kind == "db" {
				to = djangointerop.Config{Engine: "file", SecretKey: djangoKey, CookieAge: time.Hour, FilePath: other}
				toURL = "django-file:" + other
			}
			// u7, anon, and the session Django's /get/ made for the
			// revoked u42's cookie.
			var res migrateResult
			jsonOut(t, djangoEnv(djangoKey), &res, "migrate", "--from", s.url, "--to", toURL)
			if res.Copied != 3 || !res.OK {
				t.Errorf("migrate = %+v", res)
			}
			to.Migrate = to.Engine == "db"
			d2 := djangointerop.Start(t, to)
			if page := d2.Get(t, "/get/", s.ids["anon"]).Body; !strings.Contains(page, "Sonam rathore") {
				t.Errorf("Django's %s backend after migrate:\n%s", to.Engine, page)
			}
			if all := d2.Get(t, "/getall/", s.ids["u7"]).Body; !strings.Contains(all, `"_auth_user_id": ["str", "7"]`) {
				t.Errorf("Django's %s backend after migrate reads %s", to.Engine, all)
			}
		})
	}
}

// TestDjango_SignedCookies: show opens Django's signed cookie; nothing
// else has a store to work on.
func TestDjango_SignedCookies(t *testing.T) {
	djangointerop.Require(t)
	t.Parallel()
	d := djangointerop.Start(t, djangointerop.Config{Engine: "signed_cookies", SecretKey: djangoKey, CookieAge: time.Hour})
	cookie := djangoSide{d}.login(t, "42")
	env := djangoEnv(djangoKey)
	env["SESSION_ENGINE"] = storeconfig.EngineDjangoSignedCookies
	var res showResult
	jsonOut(t, env, &res, "show", "--cookie", cookie)
	if res.UserID != "42" || res.Values[djangosession.UserIDKey] != "42" || res.ExpiresInSeconds <= 3500 {
		t.Errorf("show --cookie = %+v", res)
	}
	fails(t, env, exitUsage, "no store key", "show", djangosession.NewSessionKey())
	fails(t, env, exitNotFound, "no live session", "show", "--cookie", cookie[:len(cookie)-2]+"xx")
	other := djangoEnv("another key")
	other["SESSION_ENGINE"] = env["SESSION_ENGINE"]
	fails(t, other, exitNotFound, "bad signature", "show", "--cookie", cookie)
	for _, args := range [][]string{{"ls"}, {"stats"}, {"revoke", "--user", "42"}} {
		fails(t, env, exitError, "sessions live in the visitors' cookies", args...)
	}
	var cl clearResult
	jsonOut(t, env, &cl, "clearsessions")
	if cl.Deleted != 0 || !strings.Contains(cl.Note, "cookies") {
		t.Errorf("clearsessions = %+v", cl)
	}
	fails(t, env, exitUsage, "no store to copy", "migrate", "--to", "memory:")
}

func TestDjango_MigrateBetweenFormatsIsRefused(t *testing.T) {
	dir := t.TempDir()
	env := djangoEnv(djangoKey)
	for _, tc := range [][2]string{
		{"django-file:" + dir, "bolt:" + filepath.Join(dir, "s.db")},
		{"sqlite:" + filepath.Join(dir, "db.sqlite3"), "django-db:sqlite:" + filepath.Join(dir, "db.sqlite3")},
		{"file:" + dir, "django-file:" + dir},
	} {
		fails(t, env, exitUsage, "formats differ", "migrate", "--from", tc[0], "--to", tc[1])
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused migrate left %d entries", len(entries))
	}
}

func TestDjango_Schema(t *testing.T) {
	out := ok(t, nil, "schema", "--store", "django-db:postgres://app:hunter2@db.internal/app")
	if !strings.Contains(out, `CREATE TABLE IF NOT EXISTS "django_session"`) || !strings.Contains(out, "expire_date") {
		t.Errorf("schema of django-db:\n%s", out)
	}
	var res schemaResult
	jsonOut(t, nil, &res, "schema", "--store", "django-db:sqlite:/srv/app/db.sqlite3?table=my_sessions")
	if res.Table != "my_sessions" || res.Dialect != "sqlite" || !strings.Contains(res.SQL, "my_sessions") || res.Store != "django-db:sqlite:/srv/app/db.sqlite3?table=my_sessions" {
		t.Errorf("schema --json = %+v", res)
	}
}

func TestDjangoShowKey(t *testing.T) {
	db, _ := storeconfig.ParseURL("django-db:sqlite:/x/db.sqlite3")
	sc := storeconfig.Spec{Engine: storeconfig.EngineDjangoSignedCookies}
	key := djangosession.NewSessionKey()
	for _, tc := range []struct {
		spec   storeconfig.Spec
		pos    []string
		cookie string
		want   string
		err    string
	}{
		{db, []string{key}, "", key, ""},
		{db, nil, key, key, ""},
		{db, nil, "", "", "missing KEY"},
		{db, []string{key}, key, "", "not both"},
		{db, []string{key, key}, "", "", "unexpected"},
		{db, []string{session.StoreKey("x")}, "", "", "not a Django session key"},
		{db, nil, "../../etc/passwd", "", "not a Django session key"},
		{sc, nil, "eyJ...:1x:sig", "eyJ...:1x:sig", ""},
		{sc, []string{key}, "", "", "no store key"},
		{sc, nil, "", "", "missing --cookie"},
	} {
		got, err := djangoShowKey(tc.spec, tc.pos, tc.cookie)
		if got != tc.want || (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("djangoShowKey(%s, %q, %q) = %q, %v; want %q, %q", tc.spec, tc.pos, tc.cookie, got, err, tc.want, tc.err)
		}
	}
}
