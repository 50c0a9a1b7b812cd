package storeconfig

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/internal/location"
	"github.com/sessionkv/session/sqlstore"
)

func TestParseURL(t *testing.T) {
	cwd, _ := os.Getwd()
	for _, tc := range []struct {
		in   string
		want Spec
		str  string
	}{
		{"bolt:/var/lib/app/sessions.db", Spec{Engine: "bolt", Path: "/var/lib/app/sessions.db"}, "bolt:/var/lib/app/sessions.db"},
		{"BOLT:/var/lib/app//x.db", Spec{Engine: "bolt", Path: "/var/lib/app/x.db"}, "bolt:/var/lib/app/x.db"},
		{"bolt:rel/s.db", Spec{Engine: "bolt", Path: "rel/s.db"}, "bolt:" + filepath.Join(cwd, "rel/s.db")},
		{"file:/var/lib/app/sessions", Spec{Engine: "file", Path: "/var/lib/app/sessions"}, "file:/var/lib/app/sessions"},
		{"file:///var/lib/app/my%20sessions", Spec{Engine: "file", Path: "/var/lib/app/my sessions"}, "file:/var/lib/app/my sessions"},
		{"file://localhost/srv/s", Spec{Engine: "file", Path: "/srv/s"}, "file:/srv/s"},
		{"memory:", Spec{Engine: "memory"}, "memory:"},
		{"redis://127.0.0.1:6379/0", Spec{Engine: "redis", URL: "redis://127.0.0.1:6379/0"}, "redis://127.0.0.1:6379/0"},
		{"rediss://u:secret@cache:6380/2?prefix=app:", Spec{Engine: "redis", URL: "rediss://u:secret@cache:6380/2?prefix=app:"},
			"rediss://u:xxxxx@cache:6380/2?prefix=app:"},
		{"sqlite:/var/lib/app/db.sqlite3", Spec{Engine: "db", Path: "/var/lib/app/db.sqlite3", URL: "sqlite:/var/lib/app/db.sqlite3"},
			"sqlite:/var/lib/app/db.sqlite3"},
		{"SQLite:rel/db.sqlite3?table=app_sessions", Spec{Engine: "db", Path: "rel/db.sqlite3", URL: "SQLite:rel/db.sqlite3?table=app_sessions"},
			"sqlite:" + filepath.Join(cwd, "rel/db.sqlite3") + "?table=app_sessions"},
		{"sqlite:///var/lib/my%20app/db.sqlite3", Spec{Engine: "db", Path: "/var/lib/my app/db.sqlite3", URL: "sqlite:///var/lib/my%20app/db.sqlite3"},
			"sqlite:/var/lib/my app/db.sqlite3"},
		{"postgres://app:secret@db:5432/app?sslmode=disable&password=hunter2", Spec{Engine: "db",
			URL: "postgres://app:secret@db:5432/app?sslmode=disable&password=hunter2"},
			"postgres://app:xxxxx@db:5432/app?sslmode=disable&password=xxxxx"},
		{"postgresql://db/app?table=s", Spec{Engine: "db", URL: "postgresql://db/app?table=s"}, "postgresql://db/app?table=s"},
		{"mysql://app:secret@db/app?tls=true", Spec{Engine: "db", URL: "mysql://app:secret@db/app?tls=true"},
			"mysql://app:xxxxx@db/app?tls=true"},
	} {
		got, err := ParseURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseURL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		if s := got.String(); s != tc.str {
			t.Errorf("ParseURL(%q).String() = %q, want %q", tc.in, s, tc.str)
		}
	}
}

func TestParseURL_Errors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want error
		text string
	}{
		{"mongo://db/x", ErrUnknownScheme, `"mongo"`},
		{"s3:bucket", ErrUnknownScheme, "known: bolt, django-db, django-file, file, memory, mysql, postgres, postgresql, redis, rediss, sqlite"},
		{"/var/lib/app/sessions.db", ErrBadURL, "SCHEME:PATH"},
		{"", ErrBadURL, "SCHEME:PATH"},
		{"bolt://otherhost/x.db", ErrBadURL, "local paths"},
		{"bolt:", ErrBadURL, "needs a path"},
		{"BOLT: ", ErrBadURL, "needs a path"},
		{"bolt://", ErrBadURL, "needs a path"},
		{"file:", ErrBadURL, "needs a path"},
		{"file:///x?y=1", ErrBadURL, "no query"},
		{"memory:/x", ErrBadURL, "no path"},
		{"redis://", ErrBadURL, "HOST"},
		{"redis://h:1/0?bogus=1", ErrBadURL, "bogus"},
		{"redis://u:secret@h:1/zero", ErrBadURL, "xxxxx"},
		{"sqlite:", ErrBadURL, "needs the path of a database file"},
		{"sqlite://", ErrBadURL, "needs the path of a database file"},
		{"sqlite::memory:", ErrBadURL, "needs the path of a database file"},
		{"sqlite://otherhost/x", ErrBadURL, "local file"},
		{"sqlite://u:secret@otherhost/x", ErrBadURL, "local file"},
		{"sqlite:x?table=no-dashes", ErrBadURL, `table name "no-dashes"`},
		{"postgres://", ErrBadURL, "needs a host"},
		{"postgres://u:secret@h:port/db", ErrBadURL, "invalid port"},
		{"postgres://u:secret@h/db?table=1x", ErrBadURL, `table name "1x"`},
		{"mysql://u:secret@h", ErrBadURL, "needs one database name"},
		{"user:secret@host/db", ErrUnknownScheme, `"user"`},
	} {
		_, err := ParseURL(tc.in)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) || strings.Contains(err.Error(), "secret") ||
			strings.Contains(err.Error(), "\n") {
			t.Errorf("ParseURL(%q) = %v, want %v mentioning %q", tc.in, err, tc.want, tc.text)
		}
	}
}

func TestSpecFor_MatchesWhatOpenUses(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvFilePath, dir)
	for _, tc := range []struct {
		engine, path string
		want         string
	}{
		{"", dir, "bolt:" + filepath.Join(dir, "sessions.db")},
		{"", "", "bolt:" + filepath.Join(dir, "sessions.db")}, // boltstore.DefaultPath reads the env
		{"file", dir, "file:" + dir},
		{"file", "", "file:" + dir},
		{" Memory ", dir, "memory:"},
	} {
		s, err := SpecFor(tc.engine, tc.path)
		if err != nil || s.String() != tc.want {
			t.Errorf("SpecFor(%q, %q) = %v, %v; want %s", tc.engine, tc.path, s, err, tc.want)
		}
	}
	t.Setenv(EnvEngine, "file")
	if s, err := EnvSpec(); err != nil || s.String() != "file:"+dir {
		t.Errorf("EnvSpec = %v, %v", s, err)
	}
	t.Setenv(EnvRedisURL, "")
	if s, err := SpecFor("redis", ""); err != nil || s.String() != DefaultRedisURL {
		t.Errorf("SESSION_ENGINE=redis without REDIS_URL = %v, %v; want %s", s, err, DefaultRedisURL)
	}
	t.Setenv(EnvRedisURL, "redis://10.0.0.9:6380/2")
	if s, _ := SpecFor("redis", ""); s.String() != "redis://10.0.0.9:6380/2" {
		t.Errorf("SESSION_ENGINE=redis ignores REDIS_URL: %v", s)
	}
}

func TestSpecFor_DBEngine(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvFilePath, dir)
	t.Setenv(EnvDatabaseURL, "")
	want := "sqlite:" + filepath.Join(dir, "db.sqlite3")
	for _, path := range []string{dir, ""} { // "": SESSION_FILE_PATH's
		if s, err := SpecFor("db", path); err != nil || s.String() != want {
			t.Errorf("SpecFor(db, %q) = %v, %v; want %s", path, s, err, want)
		}
	}
	// DATABASE_URL wins over SESSION_FILE_PATH.
	t.Setenv(EnvDatabaseURL, " postgres://app:hunter2@db.internal/app?table=s ")
	s, err := EnvSpecWith(t, "db")
	if err != nil || s.URL != "postgres://app:hunter2@db.internal/app?table=s" || s.String() != "postgres://app:xxxxx@db.internal/app?table=s" {
		t.Errorf("SESSION_ENGINE=db with DATABASE_URL = %+v (%s), %v", s, s, err)
	}
	t.Setenv(EnvDatabaseURL, "mysql://app:hunter2@db.internal")
	_, err = SpecFor("db", dir)
	if !errors.Is(err, ErrBadURL) || !strings.HasPrefix(err.Error(), "DATABASE_URL: ") || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("a bad DATABASE_URL: %v", err)
	}
	t.Setenv(EnvDatabaseURL, "redis://127.0.0.1:6379/0")
	if _, err := SpecFor("db", dir); !errors.Is(err, ErrBadURL) || !strings.Contains(err.Error(), "DATABASE_URL") {
		t.Errorf("DATABASE_URL naming no SQL database: %v", err)
	}
}

// EnvSpecWith is EnvSpec with SESSION_ENGINE set to engine.
func EnvSpecWith(t *testing.T, engine string) (Spec, error) {
	t.Setenv(EnvEngine, engine)
	return EnvSpec()
}

func TestSpecFor_DBDefaultIsInTheEmbeddedStoresDirectory(t *testing.T) {
	t.Setenv(EnvFilePath, "")
	t.Setenv(EnvDatabaseURL, "")
	s, err := SpecFor("db", "")
	if err != nil || s.URL != "" || s.Path != "" {
		t.Fatalf("SpecFor(db) = %+v, %v; want the default, unresolved", s, err)
	}
	want := "sqlite:" + filepath.Join(location.DefaultDir(), "db.sqlite3")
	if s.String() != want || s.Resolve().URL != want {
		t.Errorf("default db store %s (URL %s), want %s", s, s.Resolve().URL, want)
	}
}

func TestSpec_SQLTarget(t *testing.T) {
	s, _ := ParseURL("mysql://app:secret@db/app?table=app_sessions")
	tg, err := s.SQLTarget()
	if err != nil || tg.Dialect != sqlstore.MySQL || tg.Table != "app_sessions" {
		t.Errorf("SQLTarget = %+v, %v", tg, err)
	}
	byPath := Spec{Engine: "db", Path: "/srv/app/db.sqlite3"} // the URL follows the path
	if tg, err := byPath.SQLTarget(); err != nil || tg.Path != byPath.Path || byPath.String() != "sqlite:/srv/app/db.sqlite3" {
		t.Errorf("%+v: SQLTarget = %+v, %v; String %s", byPath, tg, err, byPath)
	}
	b, _ := ParseURL("bolt:/x.db")
	if _, err := b.SQLTarget(); err == nil || !strings.Contains(err.Error(), "bolt:/x.db is not an SQL store") {
		t.Errorf("bolt SQLTarget: %v", err)
	}
}

func TestSQLiteURL_PathsSQLiteWouldMisread(t *testing.T) {
	dir := t.TempDir()
	for _, path := range []string{filepath.Join(dir, "a?table=x", "db.sqlite3"), filepath.Join(dir, "b#c", "db.sqlite3"), "/" + filepath.Join(dir, "db.sqlite3")} {
		s, err := ParseURL(sqliteURL(path))
		if err != nil || s.Resolve().Path != filepath.Clean(path) {
			t.Errorf("ParseURL(sqliteURL(%q)) = %+v, %v", path, s, err)
		}
		if tg, _ := s.SQLTarget(); tg.Table != "" {
			t.Errorf("%q: table %q", path, tg.Table)
		}
	}
}

func TestSameStore(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	a, _ := ParseURL("file:" + dir)
	b, _ := ParseURL("file://" + dir + "/")
	c, _ := ParseURL("file:" + link)
	d, _ := ParseURL("bolt:" + dir)
	m, _ := ParseURL("memory:")
	if !a.SameStore(b) || !a.SameStore(c) || a.SameStore(d) || m.SameStore(m) {
		t.Error("SameStore is wrong")
	}
}

func TestSameStore_SQL(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "db.sqlite3")
	if err := os.WriteFile(db, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"sqlite:" + db, "sqlite://" + db, true},
		{"sqlite:" + db, "sqlite:" + filepath.Join(link, "db.sqlite3"), true},
		{"sqlite:" + db, "sqlite:" + db + "?table=sessions&_pragma=busy_timeout(100)", true},
		{"sqlite:" + db, "sqlite:" + db + "?table=other", false},
		{"sqlite:" + db, "sqlite:" + filepath.Join(dir, "other.sqlite3"), false},
		{"postgres://a:x@DB.internal/app", "postgresql://b:y@db.internal:5432/app?sslmode=require", true},
		{"postgres://db/app", "postgres://db/other", false},
		{"postgres://db/app", "postgres://db:5433/app", false},
		{"postgres://db/app", "postgres://db/app?table=t", false},
		{"mysql://u@db/app", "mysql://v:p@db:3306/app", true},
		{"mysql://u@db/app", "postgres://u@db/app", false},
		{"sqlite:" + db, "bolt:" + db, false},
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
}

func TestOpenSpec_MustExistCreatesNothing(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o600)
	for _, tc := range []struct {
		url  string
		want string
	}{
		{"bolt:" + filepath.Join(dir, "missing.db"), "store does not exist"},
		{"bolt:" + filepath.Join(dir, "sub", "missing.db"), "store does not exist"},
		{"bolt:" + dir, "not a regular file"},
		{"bolt:" + empty, "empty, not a bolt database"},
		{"file:" + filepath.Join(dir, "missing"), "store does not exist"},
		{"file:" + empty, "not a directory"},
		{"sqlite:" + filepath.Join(dir, "missing.sqlite3"), "store does not exist"},
		{"sqlite:" + filepath.Join(dir, "sub", "missing.sqlite3"), "store does not exist"},
		{"sqlite:" + dir, "not a regular file"},
		{"sqlite:" + empty, "empty, not an SQLite database"},
	} {
		s, err := ParseURL(tc.url)
		if err != nil {
			t.Fatal(err)
		}
		_, err = OpenSpec(s, &OpenOptions{MustExist: true})
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), s.String()+": ") {
			t.Errorf("OpenSpec(%s) = %v, want %q", tc.url, err, tc.want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("MustExist left %d entries in %s", len(entries), dir)
	}
	if fi, _ := os.Stat(empty); fi.Size() != 0 {
		t.Error("the empty file was made a database")
	}
}

func TestOpenSpec_OpensAndReportsWhere(t *testing.T) {
	dir := t.TempDir()
	for _, url := range []string{"bolt:" + filepath.Join(dir, "s.db"), "file:" + filepath.Join(dir, "files"), "memory:",
		"sqlite:" + filepath.Join(dir, "db.sqlite3"), "sqlite:" + filepath.Join(dir, "db.sqlite3") + "?table=other"} {
		s, _ := ParseURL(url)
		o, err := OpenSpec(s, nil)
		if err != nil {
			t.Fatalf("OpenSpec(%s): %v", url, err)
		}
		if o.Spec.String() != url || o.Spec.Engine != s.Engine || o.Where == "" {
			t.Errorf("OpenSpec(%s) = %+v", url, o)
		}
		if err := o.Close(); err != nil {
			t.Error(err)
		}
		// Now it exists.
		o, err = OpenSpec(s, &OpenOptions{MustExist: true})
		if err != nil {
			t.Fatalf("OpenSpec(%s) again: %v", url, err)
		}
		o.Close()
	}
}

func TestOpenSpec_LockedBoltFailsWithinTheTimeout(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	held, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	s, _ := ParseURL("bolt:" + path)
	start := time.Now()
	_, err = OpenSpec(s, &OpenOptions{MustExist: true, LockTimeout: 100 * time.Millisecond})
	if !errors.Is(err, boltstore.ErrLocked) || !strings.Contains(err.Error(), "locked by another process") ||
		!strings.Contains(err.Error(), path) {
		t.Errorf("OpenSpec(locked) = %v", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestOpenSpec_UnreachableRedis(t *testing.T) {
	s, err := ParseURL("redis://127.0.0.1:1/0")
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenSpec(s, nil)
	if err == nil || !strings.Contains(err.Error(), "cannot reach Redis") {
		t.Errorf("OpenSpec(unreachable) = %v", err)
	}
}
