package sqltest_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkv/session/sqlstore/sqltest"
)

func TestMain(m *testing.M) { sqltest.Main(m) }

// kinds are the two servers, with what the tests need to know of each.
var kinds = []struct {
	name      string
	start     func(testing.TB) *sqltest.Server
	shared    func(testing.TB) *sqltest.Server
	require   func(testing.TB)
	launch    func() (*sqltest.Server, error)
	urlPrefix string
	countDB   string // counts the databases named %s
}{
	{"postgres", sqltest.StartPostgres, sqltest.SharedPostgres, sqltest.RequirePostgres, sqltest.LaunchPostgres,
		"postgres://postgres@127.0.0.1:", "SELECT count(*) FROM pg_database WHERE datname = '%s'"},
	{"mysql", sqltest.StartMySQL, sqltest.SharedMySQL, sqltest.RequireMySQL, sqltest.LaunchMySQL,
		"mysql://root@127.0.0.1:", "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = '%s'"},
}

func ctx(t *testing.T) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustExec(t *testing.T, db *sql.DB, stmt string) {
	t.Helper()
	if _, err := db.ExecContext(ctx(t), stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
}

func queryInt(t *testing.T, db *sql.DB, query string) int {
	t.Helper()
	var n int
	if err := db.QueryRowContext(ctx(t), query).Scan(&n); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

// TestStart starts a server of each kind, checks its addresses, and
// stores and reads a row in a database of its own.
func TestStart(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			begin := time.Now()
			s := k.start(t)
			t.Logf("%s started in %v", k.name, time.Since(begin).Round(time.Millisecond))

			host, _, err := net.SplitHostPort(s.Addr())
			if err != nil || host != "127.0.0.1" {
				t.Errorf("Addr() = %q, want 127.0.0.1:port", s.Addr())
			}
			if got, want := s.URL("db"), fmt.Sprintf("%s%d/db", k.urlPrefix, s.Port()); !strings.HasPrefix(got, want) {
				t.Errorf("URL(db) = %q, want prefix %q", got, want)
			}
			if got := s.DSN("db"); k.name == "mysql" && got != fmt.Sprintf("root@tcp(%s)/db", s.Addr()) {
				t.Errorf("DSN(db) = %q", got)
			}
			if _, err := os.Stat(filepath.Join(s.Dir(), "data")); err != nil {
				t.Error(err)
			}

			db := s.Open(t, s.CreateDatabase(t))
			mustExec(t, db, "CREATE TABLE kv (k VARCHAR(64) PRIMARY KEY, v INTEGER NOT NULL)")
			mustExec(t, db, "INSERT INTO kv (k, v) VALUES ('a', 1), ('b', 2)")
			if n := queryInt(t, db, "SELECT SUM(v) FROM kv"); n != 3 {
				t.Errorf("sum = %d, want 3", n)
			}
			if !strings.Contains(s.Log(), "ready") {
				t.Errorf("the server's log does not say it is ready:\n%s", s.Log())
			}
		})
	}
}

// TestKillRestart kills a server while a connection pool is open on it,
// then restarts it: committed rows survive (the settings are durable), and
// the same pool works again. Stop and Restart do the same cleanly.
func TestKillRestart(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			s := k.start(t)
			db := s.Open(t, s.CreateDatabase(t))
			mustExec(t, db, "CREATE TABLE kv (k VARCHAR(64) PRIMARY KEY, v INTEGER NOT NULL)")
			mustExec(t, db, "INSERT INTO kv (k, v) VALUES ('a', 1)")
			port := s.Port()

			s.Kill()
			s.Kill() // a no-op
			c, cancel := context.WithTimeout(t.Context(), 2*time.Second)
			if err := db.PingContext(c); err == nil {
				t.Error("Ping succeeded after Kill")
			}
			cancel()
			if runtime.GOOS == "linux" {
				checkNoZombies(t)
			}

			begin := time.Now()
			s.Restart()
			t.Logf("%s restarted after Kill in %v", k.name, time.Since(begin).Round(time.Millisecond))
			if s.Port() != port {
				t.Errorf("port %d after Restart, was %d", s.Port(), port)
			}
			if n := queryInt(t, db, "SELECT SUM(v) FROM kv"); n != 1 {
				t.Errorf("sum = %d after Kill and Restart, want 1", n)
			}
			mustExec(t, db, "INSERT INTO kv (k, v) VALUES ('b', 2)")

			begin = time.Now()
			s.Stop()
			t.Logf("%s stopped in %v", k.name, time.Since(begin).Round(time.Millisecond))
			s.Restart()
			// PostgreSQL's fast shutdown tells each client why it is
			// disconnected, and pgx reports that message (SQLSTATE 57P01)
			// as the result of the next query on the connection, rather
			// than as a bad connection that database/sql would replace.
			db.SetMaxIdleConns(0)
			if n := queryInt(t, db, "SELECT SUM(v) FROM kv"); n != 3 {
				t.Errorf("sum = %d after Stop and Restart, want 3", n)
			}
			// A database made after a restart works too.
			db2 := s.Open(t, s.CreateDatabase(t))
			mustExec(t, db2, "CREATE TABLE t (x INTEGER)")

			s.Kill() // and Cleanup copes with a killed server
		})
	}
}

// checkNoZombies fails t if this process has child processes that exited
// and were not waited for.
func checkNoZombies(t *testing.T) {
	t.Helper()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	me := fmt.Sprint(os.Getpid())
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		rest := string(b[strings.LastIndexByte(string(b), ')')+1:])
		f := strings.Fields(rest)
		if len(f) > 1 && f[0] == "Z" && f[1] == me {
			t.Errorf("zombie child: %s", b)
		}
	}
}

// TestPause freezes a server: pings time out until it resumes.
func TestPause(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGSTOP")
	}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			s := k.start(t)
			db := s.Open(t, "")
			s.Pause(t)
			c, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
			err := db.PingContext(c)
			cancel()
			if err == nil {
				t.Error("Ping of a paused server succeeded")
			}
			s.Resume()
			if err := db.PingContext(ctx(t)); err != nil {
				t.Errorf("Ping after Resume: %v", err)
			}
			// A database's Cleanup does not wait for a paused server.
			begin := time.Now()
			t.Run("left paused", func(t *testing.T) {
				s.NewDatabase(t)
				s.Pause(t)
			})
			if d := time.Since(begin); d > 5*time.Second {
				t.Errorf("a test that left the server paused took %v", d)
			}
			s.Resume()
		})
	}
}

// TestNewDatabase gives parallel tests databases of their own on the
// shared server: same table names, separate rows; Cleanup drops them.
func TestNewDatabase(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			s := k.shared(t)
			var mu sync.Mutex
			var names []string
			t.Run("group", func(t *testing.T) {
				for i := range 6 {
					t.Run(fmt.Sprint(i), func(t *testing.T) {
						t.Parallel()
						u := s.NewDatabase(t)
						parsed, err := url.Parse(u)
						if err != nil || !strings.HasPrefix(u, k.urlPrefix) {
							t.Fatalf("NewDatabase returned %q (%v)", u, err)
						}
						name := strings.TrimPrefix(parsed.Path, "/")
						mu.Lock()
						names = append(names, name)
						mu.Unlock()
						db := s.Open(t, name)
						mustExec(t, db, "CREATE TABLE kv (k VARCHAR(64) PRIMARY KEY, v INTEGER NOT NULL)")
						mustExec(t, db, fmt.Sprintf("INSERT INTO kv (k, v) VALUES ('only', %d)", i))
						time.Sleep(50 * time.Millisecond) // let the others write theirs
						if n := queryInt(t, db, "SELECT COUNT(*) FROM kv"); n != 1 {
							t.Errorf("%d rows, want 1", n)
						}
						if v := queryInt(t, db, "SELECT v FROM kv"); v != i {
							t.Errorf("v = %d, want %d", v, i)
						}
					})
				}
			})
			admin := s.Open(t, "")
			seen := map[string]bool{}
			for _, name := range names {
				if seen[name] {
					t.Errorf("database %s given twice", name)
				}
				seen[name] = true
				if n := queryInt(t, admin, fmt.Sprintf(k.countDB, name)); n != 0 {
					t.Errorf("database %s still there after its test", name)
				}
			}
			if len(names) != 6 {
				t.Errorf("%d databases, want 6", len(names))
			}
		})
	}
}

// TestShared checks that every test gets the same shared server, and that
// it refuses to be killed.
func TestShared(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			first := k.shared(t)
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(func() {
					if s := k.shared(t); s != first {
						t.Errorf("another shared server: %s, then %s", first.Addr(), s.Addr())
					}
				})
			}
			wg.Wait()
			for method, call := range map[string]func(){"Kill": first.Kill, "Close": func() { _ = first.Close() }} {
				func() {
					defer func() {
						if recover() == nil {
							t.Errorf("%s of a shared server did not panic", method)
						}
					}()
					call()
				}()
			}
			if err := first.Open(t, "").PingContext(ctx(t)); err != nil {
				t.Errorf("the shared server after the refused calls: %v", err)
			}
		})
	}
}

// TestLaunch starts a server of each kind without a test to own it: it
// works, survives a Kill and Restart, and Close stops it and removes its
// directory.
func TestLaunch(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			k.require(t)
			s, err := k.launch()
			if err != nil {
				t.Fatal(err)
			}
			closed := false
			defer func() {
				if !closed {
					s.Close()
				}
			}()
			db := s.Open(t, s.CreateDatabase(t))
			mustExec(t, db, "CREATE TABLE kv (k VARCHAR(64) PRIMARY KEY, v INTEGER NOT NULL)")
			mustExec(t, db, "INSERT INTO kv (k, v) VALUES ('a', 1)")
			s.Kill()
			s.Restart()
			db.SetMaxIdleConns(0)
			if n := queryInt(t, db, "SELECT SUM(v) FROM kv"); n != 1 {
				t.Errorf("sum = %d after Kill and Restart, want 1", n)
			}
			db.Close()

			addr, dir := s.Addr(), s.Dir()
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			closed = true
			if err := s.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				t.Errorf("%s still accepts connections after Close", addr)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("the server's directory after Close: %v", err)
			}
		})
	}
}

// TestLaunch_NotInstalled checks the error of a launch without the
// server's programs.
func TestLaunch_NotInstalled(t *testing.T) {
	err := sqltest.LaunchMissing()
	if !errors.Is(err, sqltest.ErrNotInstalled) || !strings.Contains(err.Error(), "nosqld is nowhere") ||
		!strings.Contains(err.Error(), "nosql-server") {
		t.Errorf("err = %v", err)
	}
}
