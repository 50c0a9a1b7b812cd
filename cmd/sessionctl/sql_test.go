package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/sqlstore"
)

// newSQLite makes an SQLite store file holding the fixture, in table (""
// for the default), and returns its path.
func newSQLite(t testing.TB, table string) (string, fixture) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	st, err := sqlstore.Open("sqlite:"+path, &sqlstore.Options{Table: table})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return path, populate(t, st)
}

func TestSQLite_EveryCommand(t *testing.T) {
	path, f := newSQLite(t, "")
	store := "sqlite:" + path

	var all lsResult
	jsonOut(t, nil, &all, "ls", "--store", store)
	if all.Count != f.live() || all.Store != store || all.Truncated {
		t.Fatalf("ls = %+v, want %d sessions", all, f.live())
	}
	for i := 1; i < len(all.Sessions); i++ {
		if all.Sessions[i-1].Key >= all.Sessions[i].Key {
			t.Errorf("not in key order: %v", all.Sessions)
		}
	}
	var alice lsResult
	jsonOut(t, nil, &alice, "ls", "--store", store, "--user", "alice")
	if alice.Count != 2 || alice.Sessions[0].UserID != "alice" || alice.Sessions[1].UserID != "alice" {
		t.Errorf("ls --user alice = %+v", alice)
	}
	var expired lsResult
	jsonOut(t, nil, &expired, "ls", "--store", store, "--expired")
	if expired.Count != f.expired {
		t.Errorf("ls --expired = %+v, want %d", expired, f.expired)
	}

	var st statsResult
	jsonOut(t, nil, &st, "stats", "--store", store)
	if st.Live != f.live() || st.Expired == nil || *st.Expired != f.expired || st.WithUser != 3 || st.Store != store {
		t.Errorf("stats = %+v", st)
	}

	var shown showResult
	jsonOut(t, nil, &shown, "show", "--store", store, "--cookie", f.ids["bob"])
	if shown.UserID != "bob" || shown.Values["name"] != "bob" || shown.Values["blob"] != "AQID" {
		t.Errorf("show = %+v", shown)
	}
	fails(t, nil, exitNotFound, "no live session", "show", "--store", store, session.StoreKey("expired0"))

	var cl clearResult
	jsonOut(t, nil, &cl, "clearsessions", "--store", store)
	if cl.Deleted != f.expired || cl.Note != "" {
		t.Errorf("clearsessions = %+v", cl)
	}
	var rv revokeResult
	jsonOut(t, nil, &rv, "revoke", "--store", store, "--user", "alice")
	if rv.Revoked != 2 || rv.Method != "index" {
		t.Errorf("revoke = %+v", rv)
	}
	jsonOut(t, nil, &st, "stats", "--store", store)
	if st.Live != f.live()-2 || *st.Expired != 0 {
		t.Errorf("after clearsessions and revoke: %+v", st)
	}

	for _, cmd := range []string{"compact", "check"} {
		fails(t, nil, exitUsage, "works on bolt stores only", cmd, "--store", store)
	}
	fails(t, nil, exitUsage, "reads bolt files only", "salvage", "--from", store, "--to", "memory:")
}

func TestSQLite_TableParameterNamesTheStore(t *testing.T) {
	path, f := newSQLite(t, "app_sessions")
	var st statsResult
	jsonOut(t, nil, &st, "stats", "--store", "sqlite:"+path+"?table=app_sessions")
	if st.Live != f.live() || st.Store != "sqlite:"+path+"?table=app_sessions" {
		t.Errorf("stats of table app_sessions = %+v", st)
	}
	// The default table is not there, and is not created.
	fails(t, nil, exitError, "no such table: sessions", "stats", "--store", "sqlite:"+path)
	if _, err := sqlstore.Open("sqlite:"+path, &sqlstore.Options{NoCreate: true}); err == nil {
		t.Error("stats created the default table")
	}
	fails(t, nil, exitUsage, "table name", "stats", "--store", "sqlite:"+path+"?table=no-dash")
}

// TestSQLite_WorksWhileAServerHasItOpen: unlike a bbolt file, an SQLite
// database is shared by processes, so the commands need no maintenance
// window.
func TestSQLite_WorksWhileAServerHasItOpen(t *testing.T) {
	path, f := newSQLite(t, "")
	held, err := sqlstore.Open("sqlite:"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	store := "sqlite:" + path
	var st statsResult
	jsonOut(t, nil, &st, "stats", "--store", store, "--lock-wait", "100ms")
	var rv revokeResult
	jsonOut(t, nil, &rv, "revoke", "--store", store, "--user", "bob")
	if st.Live != f.live() || rv.Revoked != 1 {
		t.Errorf("stats %+v, revoke %+v", st, rv)
	}
	if _, err := held.Load(t.Context(), f.key("bob")); err == nil {
		t.Error("the server still sees the revoked session")
	}
}

func TestMigrate_BoltToSQLiteToFile(t *testing.T) {
	src, f := newBolt(t)
	db := filepath.Join(t.TempDir(), "db.sqlite3")
	dir := filepath.Join(t.TempDir(), "files")
	want := migrateResult{From: "bolt:" + src, To: "sqlite:" + db, Copied: f.live(), Verified: f.live(), OK: true}
	for run := 1; run <= 2; run++ { // the second run changes nothing
		var res migrateResult
		jsonOut(t, nil, &res, "migrate", "--from", "bolt:"+src, "--to", "sqlite:"+db)
		if fmt.Sprint(res) != fmt.Sprint(want) {
			t.Fatalf("run %d: bolt to sqlite = %+v, want %+v", run, res, want)
		}
		var st statsResult
		jsonOut(t, nil, &st, "stats", "--store", "sqlite:"+db)
		if st.Live != f.live() || *st.Stored != f.live() {
			t.Fatalf("run %d: target holds %+v", run, st)
		}
	}
	if fi, err := os.Stat(db); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("migrate made %v, %v", fi, err)
	}
	var res migrateResult
	jsonOut(t, nil, &res, "migrate", "--from", "sqlite:"+db, "--to", "file:"+dir)
	if !res.OK || res.Copied != f.live() || res.Verified != f.live() || res.From != "sqlite:"+db {
		t.Fatalf("sqlite to file: %+v", res)
	}
	// Values, owners and expiry settings survive both copies (the SQL
	// table keeps expiry times to the millisecond), and the user indexes
	// of the SQLite and file stores work.
	for name, id := range f.ids {
		var a, b showResult
		jsonOut(t, nil, &a, "show", "--store", "bolt:"+src, "--cookie", id)
		jsonOut(t, nil, &b, "show", "--store", "file:"+dir, "--cookie", id)
		a.ExpiresInSeconds, b.ExpiresInSeconds = 0, 0
		a.Expires = a.Expires.Truncate(time.Millisecond)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s changed:\n%+v\n%+v", name, a, b)
		}
	}
	for _, store := range []string{"sqlite:" + db, "file:" + dir} {
		var rv revokeResult
		jsonOut(t, nil, &rv, "revoke", "--store", store, "--user", "alice")
		if rv.Revoked != 2 {
			t.Errorf("%s: revoke after migrate: %+v", store, rv)
		}
	}
	// Another table of one database is another store; the same table
	// spelt otherwise is not.
	jsonOut(t, nil, &res, "migrate", "--from", "sqlite:"+db, "--to", "sqlite:"+db+"?table=copy")
	if !res.OK || res.Copied != f.live()-2 {
		t.Errorf("sqlite to another table: %+v", res)
	}
	fails(t, nil, exitUsage, "same store", "migrate", "--from", "sqlite:"+db, "--to", "sqlite://"+db+"?table=sessions")
}

func TestMigrate_IntoAnExistingDatabaseAddsTheTable(t *testing.T) {
	src, f := newBolt(t)
	path, _ := newSQLite(t, "django_like")
	var res migrateResult
	jsonOut(t, nil, &res, "migrate", "--from", "bolt:"+src, "--to", "sqlite:"+path)
	if !res.OK || res.Copied != f.live() {
		t.Fatalf("migrate = %+v", res)
	}
	var other statsResult
	jsonOut(t, nil, &other, "stats", "--store", "sqlite:"+path+"?table=django_like")
	if other.Live != f.live() || *other.Expired != f.expired {
		t.Errorf("the database's other table changed: %+v", other)
	}
}

func TestEnvDefault_DBEngine(t *testing.T) {
	dir := t.TempDir()
	st, err := sqlstore.Open("sqlite:"+filepath.Join(dir, "db.sqlite3"), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := populate(t, st)
	st.Close()
	env := map[string]string{"SESSION_ENGINE": "db", "SESSION_FILE_PATH": dir, "DATABASE_URL": ""}
	var res statsResult
	jsonOut(t, env, &res, "stats")
	if res.Live != f.live() || res.Store != "sqlite:"+filepath.Join(dir, "db.sqlite3") {
		t.Errorf("SESSION_ENGINE=db stats = %+v", res)
	}
	other, g := newSQLite(t, "")
	env["DATABASE_URL"] = "sqlite:" + other
	var rv revokeResult
	jsonOut(t, env, &rv, "revoke", "--user", "alice")
	if rv.Revoked != 2 || rv.Store != "sqlite:"+other {
		t.Errorf("DATABASE_URL revoke = %+v", rv)
	}
	var mig migrateResult
	jsonOut(t, env, &mig, "migrate", "--to", "bolt:"+filepath.Join(t.TempDir(), "s.db"))
	if !mig.OK || mig.Copied != g.live()-2 || mig.From != "sqlite:"+other {
		t.Errorf("migrate from DATABASE_URL = %+v", mig)
	}
	env["DATABASE_URL"] = "sqlite:" + filepath.Join(dir, "missing.sqlite3")
	fails(t, env, exitError, "store does not exist", "ls")
	env["DATABASE_URL"] = "mysql://app:hunter2@db"
	if r := fails(t, env, exitUsage, "DATABASE_URL: bad store URL", "ls"); strings.Contains(r.stderr, "hunter2") {
		t.Errorf("the password is printed: %s", r.stderr)
	}
}

// TestServerURLs_PasswordsAreNeverPrinted runs every command that opens a
// store against database servers that do not answer: the errors are one
// line and hold no password, whatever the URL's spelling.
func TestServerURLs_PasswordsAreNeverPrinted(t *testing.T) {
	bolt, _ := newBolt(t)
	for _, url := range []string{
		"postgres://app:hunter2@127.0.0.1:1/app?connect_timeout=2",
		"postgresql://127.0.0.1:1/app?user=app&password=hunter2&connect_timeout=2",
		"mysql://app:hunter2@127.0.0.1:1/app?timeout=2s",
	} {
		for _, args := range [][]string{
			{"ls", "--store", url}, {"stats", "--store", url}, {"clearsessions", "--store", url},
			{"revoke", "--store", url, "--user", "u"}, {"show", "--store", url, strings.Repeat("a", 64)},
			{"migrate", "--from", url, "--to", "memory:"}, {"migrate", "--from", "bolt:" + bolt, "--to", url},
		} {
			r := fails(t, nil, exitError, "refused", args...)
			if strings.Contains(r.stderr, "hunter2") {
				t.Errorf("sessionctl %s printed the password: %s", strings.Join(args, " "), r.stderr)
			}
		}
		for _, args := range [][]string{{"compact", "--store", url}, {"check", "--store", url}} {
			if r := fails(t, nil, exitUsage, "works on bolt stores only", args...); strings.Contains(r.stderr, "hunter2") {
				t.Errorf("sessionctl %s printed the password: %s", strings.Join(args, " "), r.stderr)
			}
		}
		var res schemaResult
		jsonOut(t, nil, &res, "schema", "--store", url)
		if strings.Contains(res.Store, "hunter2") || !strings.Contains(res.Store, "xxxxx") {
			t.Errorf("schema --json prints store %q", res.Store)
		}
	}
}

func TestSchema_PrintsTheDDLWithoutConnecting(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		dialect sqlstore.Dialect
		table   string
		want    string
	}{
		{[]string{"--store", "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite3")}, sqlstore.SQLite, "sessions",
			"CREATE TABLE IF NOT EXISTS sessions (\n  session_key TEXT"},
		{[]string{"--store", "postgres://app@127.0.0.1:1/app?table=app_s"}, sqlstore.PostgreSQL, "app_s",
			"CREATE INDEX IF NOT EXISTS app_s_user ON app_s (user_id) WHERE user_id <> ''"},
		{[]string{"--store", "mysql://app@127.0.0.1:1/app"}, sqlstore.MySQL, "sessions", ") ENGINE=InnoDB;"},
		{[]string{"--dialect", "PostgreSQL", "--table", "t1"}, sqlstore.PostgreSQL, "t1", "CREATE TABLE IF NOT EXISTS t1 ("},
		{[]string{"--dialect", "mysql"}, sqlstore.MySQL, "sessions", "KEY sessions_sweep (sweep_ms)"},
	} {
		out := ok(t, nil, append([]string{"schema"}, tc.args...)...)
		want, err := sqlstore.Schema(tc.dialect, tc.table)
		if err != nil || out != want || !strings.Contains(out, tc.want) {
			t.Errorf("schema %v printed:\n%s\nwant:\n%s", tc.args, out, want)
		}
		var res schemaResult
		jsonOut(t, nil, &res, append([]string{"schema"}, tc.args...)...)
		if res.SQL != out || res.Dialect != tc.dialect.String() || res.Table != tc.table {
			t.Errorf("schema %v --json = %+v", tc.args, res)
		}
	}
	sqlite := filepath.Join(t.TempDir(), "db.sqlite3")
	ok(t, nil, "schema", "--store", "sqlite:"+sqlite)
	if _, err := os.Stat(sqlite); !os.IsNotExist(err) {
		t.Errorf("schema created the database: %v", err)
	}
	env := map[string]string{"SESSION_ENGINE": "db", "SESSION_FILE_PATH": t.TempDir(), "DATABASE_URL": "mysql://app@db/app?table=from_env"}
	if out := ok(t, env, "schema"); !strings.Contains(out, "CREATE TABLE IF NOT EXISTS from_env") {
		t.Errorf("schema from DATABASE_URL:\n%s", out)
	}
	for _, tc := range []struct {
		args    []string
		dialect sqlstore.Dialect
		table   string
	}{
		{[]string{"--upgrade", "--store", "postgres://app@127.0.0.1:1/app?table=app_s"}, sqlstore.PostgreSQL, "app_s"},
		{[]string{"--upgrade", "--dialect", "mysql"}, sqlstore.MySQL, "sessions"},
	} {
		out := ok(t, nil, append([]string{"schema"}, tc.args...)...)
		want, err := sqlstore.Upgrade(tc.dialect, tc.table)
		if err != nil || out != want || !strings.Contains(out, "ADD COLUMN sweep_ms") {
			t.Errorf("schema %v printed:\n%s\nwant:\n%s", tc.args, out, want)
		}
	}
	for _, tc := range []struct {
		want string
		env  map[string]string
		args []string
	}{
		{"works on SQL stores only", nil, []string{"--store", "bolt:/x.db"}},
		{"works on SQL stores only", map[string]string{"SESSION_ENGINE": "file"}, nil},
		{"not both", nil, []string{"--store", "sqlite:/x", "--dialect", "sqlite"}},
		{"--table goes with --dialect", nil, []string{"--store", "sqlite:/x", "--table", "t"}},
		{`--dialect "oracle"`, nil, []string{"--dialect", "oracle"}},
		{`table name "1x"`, nil, []string{"--dialect", "sqlite", "--table", "1x"}},
		{"needs one database name", nil, []string{"--store", "mysql://app@db"}},
		{"no earlier shape", nil, []string{"--upgrade", "--store", "django-db:sqlite:/x.sqlite3"}},
	} {
		fails(t, tc.env, exitUsage, tc.want, append([]string{"schema"}, tc.args...)...)
	}
}

func TestSQL_UsageErrorsAndMissingStores(t *testing.T) {
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"needs the path of a database file", []string{"ls", "--store", "sqlite:"}},
		{"local file", []string{"ls", "--store", "sqlite://otherhost/x"}},
		{"needs a host", []string{"stats", "--store", "postgres://"}},
		{"needs one database name", []string{"migrate", "--from", "bolt:/x.db", "--to", "mysql://db"}},
	} {
		fails(t, nil, exitUsage, tc.want, tc.args...)
	}
	dir := t.TempDir()
	missing := filepath.Join(dir, "nope", "db.sqlite3")
	for _, cmd := range [][]string{{"ls"}, {"stats"}, {"show", strings.Repeat("a", 64)}, {"clearsessions"}, {"revoke", "--user", "u"}} {
		fails(t, nil, exitError, "store does not exist", append(cmd, "--store", "sqlite:"+missing)...)
	}
	fails(t, nil, exitError, "store does not exist", "migrate", "--from", "sqlite:"+missing, "--to", "memory:")
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("commands on a missing SQLite store created %v", entries)
	}
}

func TestSQLite_HostileValuesAreEscaped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	st, err := sqlstore.Open("sqlite:"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, uid := range hostileUserIDs {
		rec := session.Record{Data: []byte{0x80}, Expires: time.Now().Add(time.Hour), UserID: uid}
		if err := st.Save(t.Context(), session.StoreKey(fmt.Sprint(i)), rec); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	store := "sqlite:" + path
	for _, args := range [][]string{{"ls", "--store", store}, {"ls", "--json", "--store", store}, {"stats", "--store", store}} {
		r := sessionctl(t, nil, args...)
		if r.code != 0 || hasRawControl(r.stdout) || hasRawControl(r.stderr) {
			t.Errorf("sessionctl %v: exit %d\nstdout %q\nstderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
	var res lsResult
	if err := json.Unmarshal([]byte(ok(t, nil, "ls", "--json", "--store", store)), &res); err != nil || res.Count != len(hostileUserIDs) {
		t.Errorf("ls --json: %+v, %v", res, err)
	}
}
