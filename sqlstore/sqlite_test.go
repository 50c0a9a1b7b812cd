package sqlstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/sqlstore"
	"github.com/sessionkv/session/storetest"
)

func TestConformance_SQLiteNoSync(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store {
		s, _ := openSQLite(t, &sqlstore.Options{NoSync: true})
		return s
	})
}

// The multi-process test: children increment one counter through
// UpdateRecord, each through a Store of its own on one file.
const (
	envChildDB     = "SQLSTORE_TEST_CHILD_DB"
	processWorkers = 3
	processIncrs   = 150
)

var counterKey = storetest.Key("counter")

// increment adds one to the counter in counterKey's record.
func increment(ctx context.Context, s *sqlstore.Store) error {
	return s.UpdateRecord(ctx, counterKey, func(cur session.Record, found bool) (session.Record, error) {
		n := 0
		if found {
			var err error
			if n, err = strconv.Atoi(string(cur.Data)); err != nil {
				return session.Record{}, err
			}
		}
		return session.Record{Data: []byte(strconv.Itoa(n + 1)), Expires: time.Now().Add(time.Hour)}, nil
	})
}

// TestMultiProcess_UpdateRecordIsAtomic: processes sharing one SQLite file
// increment one counter through UpdateRecord; none of the increments is
// lost, so each read-modify-write held the database against the others.
func TestMultiProcess_UpdateRecordIsAtomic(t *testing.T) {
	if path := os.Getenv(envChildDB); path != "" {
		s, err := sqlstore.Open("sqlite:"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		for range processIncrs {
			if err := increment(t.Context(), s); err != nil {
				t.Fatal(err)
			}
		}
		return
	}
	s, path := openSQLite(t, nil)
	children := make([]*exec.Cmd, processWorkers)
	outs := make([]strings.Builder, processWorkers)
	for i := range children {
		c := exec.Command(os.Args[0], "-test.run=^TestMultiProcess_UpdateRecordIsAtomic$", "-test.count=1")
		c.Env = append(os.Environ(), envChildDB+"="+path)
		c.Stdout, c.Stderr = &outs[i], &outs[i]
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		children[i] = c
	}
	for range processIncrs {
		if err := increment(t.Context(), s); err != nil {
			t.Fatal(err)
		}
	}
	for i, c := range children {
		if err := c.Wait(); err != nil {
			t.Fatalf("child %d: %v\n%s", i, err, outs[i].String())
		}
	}
	rec, err := s.Load(t.Context(), counterKey)
	if err != nil {
		t.Fatal(err)
	}
	if want := strconv.Itoa((processWorkers + 1) * processIncrs); string(rec.Data) != want {
		t.Fatalf("counter = %s after %d processes × %d increments; want %s", rec.Data, processWorkers+1, processIncrs, want)
	}
}

// TestOpen_SQLiteFileMode: the database and its companions are private.
func TestOpen_SQLiteFileMode(t *testing.T) {
	s, path := openSQLite(t, nil)
	mustSave(t, s, storetest.Key("x"), session.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)})
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v; want 0600", filepath.Base(p), fi.Mode().Perm())
		}
	}
}

// TestOpen_SQLiteRefusesSharedDirectory: a database in a directory others
// can write (here sticky, as /tmp is) is refused, since they could plant
// its -wal file; AllowSharedLocation accepts it.
func TestOpen_SQLiteRefusesSharedDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	url := "sqlite:" + filepath.Join(dir, "db.sqlite3")
	if s, err := sqlstore.Open(url, nil); !errors.Is(err, session.ErrUnsafeLocation) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open in a world-writable sticky directory = %v; want ErrUnsafeLocation", err)
	}
	s, err := sqlstore.Open(url, &sqlstore.Options{AllowSharedLocation: true})
	if err != nil {
		t.Fatalf("Open with AllowSharedLocation = %v", err)
	}
	s.Close()
}

// TestOpen_SQLiteRefusesPlantedWAL: a -wal file that another user owns
// beside the database is refused: SQLite would replay what it holds.
func TestOpen_SQLiteRefusesPlantedWAL(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to plant a file owned by another user")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "db.sqlite3")
	if err := os.WriteFile(path+"-wal", []byte("planted"), 0o666); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path+"-wal", 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if s, err := sqlstore.Open("sqlite:"+path, nil); !errors.Is(err, session.ErrUnsafeLocation) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open beside a planted -wal = %v; want ErrUnsafeLocation", err)
	}
}

// TestOpen_NotADatabase: a file that is not an SQLite database is a clear
// error at Open, not a panic nor a store that fails later.
func TestOpen_NotADatabase(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	if err := os.WriteFile(path, []byte(strings.Repeat("not a database ", 500)), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.Open("sqlite:"+path, nil)
	if err == nil {
		s.Close()
		t.Fatal("Open of a file that is not a database succeeded")
	}
	if !strings.Contains(err.Error(), "not a database") {
		t.Errorf("Open = %v; want it to say the file is not a database", err)
	}
}

// TestOpen_NoCreate: with NoCreate, a missing table is an error that says
// how to create it; once Schema's statements have run, Open works.
func TestOpen_NoCreate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	url := "sqlite:" + path + "?table=app_sessions"
	_, err := sqlstore.Open(url, &sqlstore.Options{NoCreate: true})
	if !errors.Is(err, sqlstore.ErrNoTable) || !strings.Contains(err.Error(), "Schema") {
		t.Fatalf("Open with NoCreate and no table = %v; want ErrNoTable, pointing at Schema", err)
	}
	ddl, err := sqlstore.Schema(sqlstore.SQLite, "app_sessions")
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlstore.Open("sqlite:"+path, nil) // creates "sessions", not app_sessions
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(ddl); err != nil {
		t.Fatalf("running Schema's statements: %v", err)
	}
	s.Close()
	s, err = sqlstore.Open(url, &sqlstore.Options{NoCreate: true})
	if err != nil {
		t.Fatalf("Open with NoCreate after the schema = %v", err)
	}
	defer s.Close()
	if s.Table() != "app_sessions" {
		t.Errorf("Table = %q; want the URL's app_sessions", s.Table())
	}
	mustSave(t, s, storetest.Key("a"), session.Record{Data: []byte("a"), Expires: time.Now().Add(time.Hour)})
}

// TestNew_SharedDB: stores in two tables of one *sql.DB the application
// owns; Close leaves the database open.
func TestNew_SharedDB(t *testing.T) {
	s, _ := openSQLite(t, nil)
	other, err := sqlstore.New(s.DB(), sqlstore.SQLite, &sqlstore.Options{Table: "other"})
	if err != nil {
		t.Fatal(err)
	}
	k := storetest.Key("k")
	mustSave(t, other, k, session.Record{Data: []byte("other"), Expires: time.Now().Add(time.Hour)})
	if _, err := s.Load(t.Context(), k); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("a record of table other loads from sessions: %v", err)
	}
	if err := other.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.DB().Ping(); err != nil {
		t.Errorf("the database is closed by a store New made: %v", err)
	}
	if _, err := other.Load(t.Context(), k); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Load after Close = %v; want ErrClosed", err)
	}
}

func TestSchema(t *testing.T) {
	for _, d := range []sqlstore.Dialect{sqlstore.SQLite, sqlstore.PostgreSQL, sqlstore.MySQL} {
		ddl, err := sqlstore.Schema(d, "")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(ddl, "CREATE TABLE IF NOT EXISTS sessions") || !strings.HasSuffix(ddl, ";\n") {
			t.Errorf("Schema(%v):\n%s", d, ddl)
		}
	}
	for _, bad := range []string{"1x", "a-b", "x; DROP TABLE users", strings.Repeat("x", 49), `"q"`} {
		if _, err := sqlstore.Schema(sqlstore.PostgreSQL, bad); err == nil {
			t.Errorf("Schema accepted table name %q", bad)
		}
		if _, err := sqlstore.Open("sqlite:"+filepath.Join(t.TempDir(), "x.db"), &sqlstore.Options{Table: bad}); err == nil {
			t.Errorf("Open accepted table name %q", bad)
		}
	}
}

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url     string
		dialect sqlstore.Dialect
		path    string
		table   string
		shown   string
	}{
		{"sqlite:/var/lib/app/db.sqlite3", sqlstore.SQLite, "/var/lib/app/db.sqlite3", "", "sqlite:/var/lib/app/db.sqlite3"},
		{"sqlite:db.sqlite3?table=s&_pragma=cache_size(-2000)", sqlstore.SQLite, "db.sqlite3", "s", "sqlite:db.sqlite3?table=s"},
		{"sqlite:///var/lib/app/db.sqlite3", sqlstore.SQLite, "/var/lib/app/db.sqlite3", "", "sqlite:/var/lib/app/db.sqlite3"},
		{"postgres://app:s3cret@db:5432/app?sslmode=disable&table=t", sqlstore.PostgreSQL, "", "t", "postgres://app:xxxxx@db:5432/app?table=t"},
		{"postgresql://app@db/app", sqlstore.PostgreSQL, "", "", "postgresql://app@db/app"},
		{"mysql://app:s3cret@db/app?tls=skip-verify", sqlstore.MySQL, "", "", "mysql://app:xxxxx@db:3306/app"},
		{"mysql://db/app", sqlstore.MySQL, "", "", "mysql://db:3306/app"},
		{"postgres://db/app?password=s3cret", sqlstore.PostgreSQL, "", "", "postgres://db/app"},
	} {
		got, err := sqlstore.ParseURL(tc.url)
		if err != nil {
			t.Errorf("ParseURL(%q) = %v", tc.url, err)
			continue
		}
		if got.Dialect != tc.dialect || got.Path != tc.path || got.Table != tc.table || got.String() != tc.shown {
			t.Errorf("ParseURL(%q) = %v %q %q %q; want %v %q %q %q", tc.url, got.Dialect, got.Path, got.Table, got.String(), tc.dialect, tc.path, tc.table, tc.shown)
		}
	}
	for _, bad := range []string{"", "sqlite:", "sqlite::memory:", "sqlite://otherhost/x.db", "postgres:///nohost", "mysql://app@db", "mysql://app@db/a/b", "oracle://x", "db.sqlite3", "sqlite3:x.db", "mariadb://db/app", "sqlite://u:s3cret@/x.db", "mysql://app@db/app?tls=nonsense-profile"} {
		if _, err := sqlstore.ParseURL(bad); !errors.Is(err, sqlstore.ErrBadURL) {
			t.Errorf("ParseURL(%q) = %v; want ErrBadURL", bad, err)
		}
	}
	for _, bad := range []string{"mysql://app:s3cret@db/app?tls=nonsense-profile", "sqlite://u:s3cret@host/x.db", "sqlite://u:s3cret@/x.db"} {
		_, err := sqlstore.ParseURL(bad)
		if err == nil || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("the error for %q shows its password: %v", bad, err)
		}
	}
}

// TestGroupCommit_ManyWriters: concurrent writers on SQLite all land, and
// none waits for a timer (the test's deadline would notice).
func TestGroupCommit_ManyWriters(t *testing.T) {
	s, _ := openSQLite(t, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	errs := make(chan error, 64)
	for i := range 64 {
		go func() {
			var err error
			for j := range 10 {
				if err = s.Save(ctx, storetest.Key(fmt.Sprint(i, "-", j)), session.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)}); err != nil {
					break
				}
			}
			errs <- err
		}()
	}
	for range 64 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.Count(ctx); err != nil || n != 640 {
		t.Fatalf("Count = %d, %v; want 640", n, err)
	}
}
