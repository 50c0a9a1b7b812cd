package storeconfig

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangosession"
	"github.com/sessionkv/session/sqlstore"
)

const testKey = "django-insecure-storeconfig"

// djangoEnv sets the Django engines' variables for the test.
func djangoEnv(t *testing.T, dir string) {
	t.Setenv(EnvDjangoSecretKey, testKey)
	t.Setenv(EnvDjangoSecretKeyFallbacks, "")
	t.Setenv(EnvSessionCookieAge, "")
	t.Setenv(EnvFilePath, dir)
	t.Setenv(EnvDatabaseURL, "")
}

func TestParseURL_Django(t *testing.T) {
	cwd, _ := os.Getwd()
	for _, tc := range []struct {
		in   string
		want Spec
		str  string
	}{
		{"django-db:sqlite:/var/lib/app/db.sqlite3", Spec{Engine: EngineDjangoDB, Path: "/var/lib/app/db.sqlite3", URL: "sqlite:/var/lib/app/db.sqlite3"},
			"django-db:sqlite:/var/lib/app/db.sqlite3"},
		{"Django-DB: sqlite:rel/db.sqlite3?table=my_sessions", Spec{Engine: EngineDjangoDB, Path: "rel/db.sqlite3", URL: "sqlite:rel/db.sqlite3?table=my_sessions"},
			"django-db:sqlite:" + filepath.Join(cwd, "rel/db.sqlite3") + "?table=my_sessions"},
		{"django-db:postgres://app:secret@db:5432/app?sslmode=disable", Spec{Engine: EngineDjangoDB,
			URL: "postgres://app:secret@db:5432/app?sslmode=disable"}, "django-db:postgres://app:xxxxx@db:5432/app?sslmode=disable"},
		{"django-db:mysql://app:secret@db/app", Spec{Engine: EngineDjangoDB, URL: "mysql://app:secret@db/app"},
			"django-db:mysql://app:xxxxx@db/app"},
		{"django-file:/var/lib/app/sessions", Spec{Engine: EngineDjangoFile, Path: "/var/lib/app/sessions"}, "django-file:/var/lib/app/sessions"},
		{"django-file:///var/lib/my%20app", Spec{Engine: EngineDjangoFile, Path: "/var/lib/my app"}, "django-file:/var/lib/my app"},
	} {
		got, err := ParseURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if s := got.String(); s != tc.str {
			t.Errorf("ParseURL(%q).String() = %q, want %q", tc.in, s, tc.str)
		}
		if !got.IsDjango() {
			t.Errorf("ParseURL(%q).IsDjango() = false", tc.in)
		}
		// String gives back a URL that names the same store.
		if again, err := ParseURL(got.String()); err != nil || (!strings.Contains(tc.in, "secret") && !again.SameStore(got)) {
			t.Errorf("ParseURL(%q) = %+v, %v", got.String(), again, err)
		}
	}
}

func TestParseURL_DjangoErrors(t *testing.T) {
	for _, tc := range []struct {
		in, text string
	}{
		{"django-db:", "needs an SQL database URL"},
		{"django-db: ", "needs an SQL database URL"},
		{"django-db:bolt:/x.db", "wants an SQL database URL"},
		{"django-db:django-db:sqlite:/x", "wants an SQL database URL"},
		{"django-db:sqlite:", "needs the path of a database file"},
		{"django-db:postgres://u:secret@h:port/db", "invalid port"},
		{"django-db:sqlite:x?table=no-dashes", `table name "no-dashes"`},
		{"django-file:", "needs a path, as in django-file:/var/lib/app/sessions"},
		{"django-file://otherhost/x", "local paths"},
	} {
		_, err := ParseURL(tc.in)
		if !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), tc.text) || strings.Contains(err.Error(), "secret") ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseURL(%q) = %v, want ErrBadURL mentioning %q", tc.in, err, tc.text)
		}
	}
}

func TestSpecFor_Django(t *testing.T) {
	dir := t.TempDir()
	djangoEnv(t, dir)
	for _, tc := range []struct {
		engine, path, want string
	}{
		{EngineDjangoDB, dir, "django-db:sqlite:" + filepath.Join(dir, "db.sqlite3")},
		{EngineDjangoDB, "", "django-db:sqlite:" + filepath.Join(dir, "db.sqlite3")}, // the default reads SESSION_FILE_PATH
		{EngineDjangoFile, dir, "django-file:" + dir},
		{EngineDjangoFile, "", "django-file:" + dir},
		{" " + strings.ToUpper(EngineDjangoSignedCookies), "", EngineDjangoSignedCookies},
	} {
		s, err := SpecFor(tc.engine, tc.path)
		if err != nil || s.String() != tc.want || !s.IsDjango() {
			t.Errorf("SpecFor(%q, %q) = %v, %v; want %s", tc.engine, tc.path, s, err, tc.want)
		}
	}
	t.Setenv(EnvDatabaseURL, "postgres://app:secret@db/app")
	s, err := SpecFor(EngineDjangoDB, dir)
	if err != nil || s.Engine != EngineDjangoDB || s.String() != "django-db:postgres://app:xxxxx@db/app" {
		t.Errorf("DATABASE_URL: %+v, %v", s, err)
	}
	if tg, err := s.SQLTarget(); err != nil || tg.Dialect != sqlstore.PostgreSQL || s.tableOf(tg) != sqlstore.DjangoTable {
		t.Errorf("SQLTarget = %+v, %v", tg, err)
	}
	if _, err := (Spec{Engine: EngineDjangoFile, Path: dir}).SQLTarget(); err == nil {
		t.Error("SQLTarget of a Django file store succeeded")
	}
}

func TestSameStore_Django(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "db.sqlite3")
	if err := os.WriteFile(db, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"django-db:sqlite:" + db, "django-db:sqlite://" + db, true},
		{"django-db:sqlite:" + db, "django-db:sqlite:" + db + "?table=django_session", true},
		{"django-db:sqlite:" + db, "django-db:sqlite:" + db + "?table=sessions", false},
		{"django-db:sqlite:" + db, "sqlite:" + db, false}, // the engine's own table, sessions
		{"django-db:postgres://a@db/app", "django-db:postgres://b:x@db:5432/app", true},
		{"django-file:" + dir, "django-file:" + dir + "/", true},
		{"django-file:" + dir, "file:" + dir, false},
	} {
		a, errA := ParseURL(tc.a)
		b, errB := ParseURL(tc.b)
		if errA != nil || errB != nil {
			t.Fatal(errA, errB)
		}
		if a.SameStore(b) != tc.same || b.SameStore(a) != tc.same {
			t.Errorf("SameStore(%s, %s) = %v, want %v", tc.a, tc.b, !tc.same, tc.same)
		}
	}
	c := Spec{Engine: EngineDjangoSignedCookies}
	if c.SameStore(c) {
		t.Error("signed cookies are a store")
	}
}

func TestOpen_DjangoEnginesNeedSecretKey(t *testing.T) {
	djangoEnv(t, t.TempDir())
	t.Setenv(EnvDjangoSecretKey, " ")
	for _, e := range []string{EngineDjangoDB, EngineDjangoFile, EngineDjangoSignedCookies} {
		_, err := Open(e, "")
		if !errors.Is(err, ErrNoSecretKey) || !strings.Contains(err.Error(), "SESSION_ENGINE="+e) ||
			!strings.Contains(err.Error(), "SECRET_KEY is not set") {
			t.Errorf("Open(%s) without SECRET_KEY = %v", e, err)
		}
	}
	entries, _ := os.ReadDir(os.Getenv(EnvFilePath))
	if len(entries) != 0 {
		t.Errorf("a failed open left %d entries", len(entries))
	}
}

func TestCookieAge(t *testing.T) {
	for _, tc := range []struct {
		env  string
		want time.Duration
		bad  bool
	}{
		{"", 0, false},
		{" 3600 ", time.Hour, false},
		{"1", time.Second, false},
		{"0", 0, true},
		{"-5", 0, true},
		{"1.5", 0, true},
		{"2w", 0, true},
		{"99999999999999999999", 0, true},
	} {
		t.Setenv(EnvSessionCookieAge, tc.env)
		got, err := CookieAge()
		if got != tc.want || (err != nil) != tc.bad {
			t.Errorf("SESSION_COOKIE_AGE=%q: %v, %v", tc.env, got, err)
		}
		if err != nil && (!strings.Contains(err.Error(), "SESSION_COOKIE_AGE") || !strings.Contains(err.Error(), "seconds")) {
			t.Errorf("SESSION_COOKIE_AGE=%q: unclear error %v", tc.env, err)
		}
	}
	// Every engine refuses a bad one, and applies a good one.
	t.Setenv(EnvSessionCookieAge, "soon")
	if _, err := Open("memory", ""); err == nil || !strings.Contains(err.Error(), "SESSION_COOKIE_AGE") {
		t.Errorf("Open with a bad SESSION_COOKIE_AGE = %v", err)
	}
	t.Setenv(EnvSessionCookieAge, "600")
	o, err := Open("memory", "")
	if err != nil {
		t.Fatal(err)
	}
	opts := session.DefaultOptions()
	o.Options(opts)
	if opts.CookieAge != 10*time.Minute || opts.Codec != nil || opts.IDs != nil {
		t.Errorf("Options of memory with SESSION_COOKIE_AGE=600: %+v", opts)
	}
}

func TestDjangoSettings(t *testing.T) {
	djangoEnv(t, t.TempDir())
	t.Setenv(EnvDjangoSecretKeyFallbacks, " old-1 ,,old 2,")
	t.Setenv(EnvSessionCookieAge, "60")
	st, err := DjangoSettings()
	if err != nil {
		t.Fatal(err)
	}
	if st.SecretKey != testKey || strings.Join(st.SecretKeyFallbacks, "|") != "old-1|old 2" || st.SessionCookieAge != time.Minute ||
		st.SessionCookieName != "" {
		t.Errorf("DjangoSettings = %+v", st)
	}
}

// TestOpen_DjangoEngines opens each Django engine, and checks that an
// engine with Opened.Options writes what Django's backend reads, where
// that backend reads it.
func TestOpen_DjangoEngines(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	djangoEnv(t, dir)
	t.Setenv(EnvSessionCookieAge, "3600")
	t.Setenv(EnvDjangoSecretKeyFallbacks, "old")
	want := &djangosession.Settings{SecretKey: testKey, SecretKeyFallbacks: []string{"old"}, SessionCookieAge: time.Hour}

	for _, tc := range []struct {
		engine string
		where  string
		check  func(t *testing.T, o *Opened, id string)
	}{
		{EngineDjangoDB, "Django's table django_session of the SQLite database " + filepath.Join(dir, "db.sqlite3"),
			func(t *testing.T, o *Opened, id string) {
				var data string
				err := o.Store.(*sqlstore.DjangoStore).DB().QueryRowContext(ctx,
					"SELECT session_data FROM django_session WHERE session_key = ?", id).Scan(&data)
				if err != nil {
					t.Fatal(err)
				}
				checkDjangoData(t, want, data)
			}},
		{EngineDjangoFile, "Django's file backend: one file per session under " + dir + " (sessionid<key>)",
			func(t *testing.T, o *Opened, id string) {
				data, err := os.ReadFile(filepath.Join(dir, "sessionid"+id))
				if err != nil {
					t.Fatal(err)
				}
				checkDjangoData(t, want, string(data))
			}},
		{EngineDjangoSignedCookies, "signed with SECRET_KEY",
			func(t *testing.T, o *Opened, id string) {
				values, err := want.DecodeCookie(id)
				if err != nil || values["name"] != "Sonam" {
					t.Errorf("the cookie %q: %v, %v", id, values, err)
				}
			}},
	} {
		t.Run(tc.engine[strings.LastIndexByte(tc.engine, '.')+1:], func(t *testing.T) {
			t.Setenv(EnvEngine, tc.engine)
			o, err := FromEnv()
			if err != nil {
				t.Fatal(err)
			}
			defer o.Close()
			if o.Spec.Engine != tc.engine || !strings.Contains(o.Where, tc.where) || o.Django == nil ||
				o.Django.SecretKey != testKey || o.Django.SessionCookieAge != time.Hour {
				t.Errorf("FromEnv = %+v (%s)", o, o.Where)
			}
			opts := session.DefaultOptions()
			o.Options(opts)
			if opts.CookieName != "sessionid" || opts.CookieAge != time.Hour {
				t.Errorf("Options: cookie %q, age %v", opts.CookieName, opts.CookieAge)
			}
			if tc.engine == EngineDjangoSignedCookies {
				if _, ok := opts.Codec.(djangosession.CookieCodec); !ok {
					t.Errorf("Options: codec %T", opts.Codec)
				}
			} else if _, ok := opts.Codec.(djangosession.SessionCodec); !ok || opts.IDs != djangosession.IDs {
				t.Errorf("Options: codec %T, IDs %v", opts.Codec, opts.IDs)
			}
			opts.SweepInterval = -1
			e, err := session.New(o.Store, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			s, _ := e.Load(ctx, "")
			s.Set("name", "Sonam")
			if err := e.Save(ctx, s); err != nil {
				t.Fatal(err)
			}
			if tc.engine != EngineDjangoSignedCookies && !djangosession.ValidSessionKey(s.ID()) {
				t.Errorf("session ID %q is not a Django session key", s.ID())
			}
			tc.check(t, o, s.ID())

			// A session signed with the fallback key opens; the engine
			// signs it again with SECRET_KEY when it saves.
			old := &djangosession.Settings{SecretKey: "old"}
			id := s.ID()
			if tc.engine == EngineDjangoSignedCookies {
				id, _ = old.EncodeCookie(map[string]any{"name": "Old"})
			} else {
				data, _ := old.EncodeSession(map[string]any{"name": "Old"})
				if err := o.Store.Save(ctx, id, session.Record{Data: []byte(data), Expires: time.Now().Add(time.Hour)}); err != nil {
					t.Fatal(err)
				}
			}
			s, err = e.Load(ctx, id)
			if err != nil || s.ID() != id {
				t.Fatalf("a session of the fallback key: %v, %q", err, s.ID())
			}
			if v, _ := s.GetString("name"); v != "Old" {
				t.Errorf("name = %q", v)
			}
		})
	}
}

// checkDjangoData checks that data is session data Django reads with st.
func checkDjangoData(t *testing.T, st *djangosession.Settings, data string) {
	t.Helper()
	values, err := st.DecodeSession(data)
	if err != nil || values["name"] != "Sonam" {
		t.Errorf("session data %q: %v, %v", data, values, err)
	}
}

func TestOpenSpec_DjangoMustExist(t *testing.T) {
	dir := t.TempDir()
	djangoEnv(t, dir)
	for _, url := range []string{
		"django-db:sqlite:" + filepath.Join(dir, "missing.sqlite3"),
		"django-file:" + filepath.Join(dir, "missing"),
	} {
		s, _ := ParseURL(url)
		if _, err := OpenSpec(s, &OpenOptions{MustExist: true}); !errors.Is(err, ErrNotExist) || !strings.HasPrefix(err.Error(), url+": ") {
			t.Errorf("OpenSpec(%s, MustExist) = %v", url, err)
		}
	}
	// An SQLite file without Django's table is not a Django store.
	db := filepath.Join(dir, "db.sqlite3")
	st, err := sqlstore.Open("sqlite:"+db, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	s, _ := ParseURL("django-db:sqlite:" + db)
	if _, err := OpenSpec(s, &OpenOptions{MustExist: true}); err == nil || !strings.Contains(err.Error(), "django_session") {
		t.Errorf("OpenSpec(MustExist) on a database without django_session = %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("MustExist left %d entries", len(entries))
	}
	// Opened without MustExist, both are made, and then open.
	for _, url := range []string{"django-db:sqlite:" + db, "django-file:" + filepath.Join(dir, "files")} {
		s, _ := ParseURL(url)
		for _, mustExist := range []bool{false, true} {
			o, err := OpenSpec(s, &OpenOptions{MustExist: mustExist})
			if err != nil {
				t.Fatalf("OpenSpec(%s, %v): %v", url, mustExist, err)
			}
			if o.Spec.String() != url || o.Django == nil {
				t.Errorf("OpenSpec(%s) = %+v", url, o)
			}
			o.Close()
		}
	}
}

func TestOpen_DjangoFileDefaultDirectoryIsPrivate(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	djangoEnv(t, "")
	o, err := Open(EngineDjangoFile, "")
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	if filepath.Dir(o.Spec.Path) != tmp {
		t.Errorf("default directory %s, want one in %s", o.Spec.Path, tmp)
	}
	if fi, err := os.Lstat(o.Spec.Path); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("default directory %s: %v, %v", o.Spec.Path, fi, err)
	}
	if err := os.RemoveAll(o.Spec.Path); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), o.Spec.Path); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(EngineDjangoFile, ""); !errors.Is(err, session.ErrUnsafeLocation) {
		t.Errorf("default directory replaced by a link: %v", err)
	}
}
