package bench

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session/sqlstore"
	"github.com/sessionkv/session/sqlstore/sqltest"
)

// TestMain stops the test binary's shared PostgreSQL and MariaDB servers,
// and removes sqltest's templates, once the tests are done.
func TestMain(m *testing.M) { sqltest.Main(m) }

// sharedServer returns the test binary's shared server of kind b, starting
// it on first use; it skips t, or fails it as sqltest does when the
// environment requires the server, when it is not installed.
func sharedServer(t *testing.T, b backend) *sqltest.Server {
	t.Helper()
	if b == postgresBackend {
		return sqltest.SharedPostgres(t)
	}
	return sqltest.SharedMySQL(t)
}

// sharedURLs returns the URLs of the test binary's shared PostgreSQL and
// MariaDB servers, started side by side, "" for one that is not installed
// unless the environment requires it: t fails then.
func sharedURLs(t *testing.T) (postgres, mysql string) {
	t.Helper()
	t.Run("servers", func(t *testing.T) {
		for _, s := range []struct {
			b   backend
			url *string
		}{{postgresBackend, &postgres}, {mysqlBackend, &mysql}} {
			t.Run(string(s.b), func(t *testing.T) {
				t.Parallel()
				*s.url = sharedServer(t, s.b).URL("")
			})
		}
	})
	return postgres, mysql
}

// checkNoDatabasesLeft fails t if the server at rawURL holds databases of
// the suite's.
func checkNoDatabasesLeft(t *testing.T, rawURL string) {
	t.Helper()
	kind := postgresKind
	q := `SELECT COUNT(*) FROM pg_database WHERE datname LIKE 'sessionbench%'`
	if strings.HasPrefix(rawURL, "mysql:") {
		kind = mysqlKind
		q = `SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name LIKE 'sessionbench%'`
	}
	src := newSQLSource(kind, rawURL)
	defer src.close()
	if err := src.ready(t.Context()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := src.admin.QueryRowContext(t.Context(), q).Scan(&n); err != nil || n != 0 {
		t.Errorf("%s: %d databases of the suite's left (%v)", kind.name, n, err)
	}
}

// TestSQLSource_LaunchesItsServer gets a server of each kind as a run
// without a URL does: launched on first use, described, stopped by close.
func TestSQLSource_LaunchesItsServer(t *testing.T) {
	for _, k := range []*sqlKind{postgresKind, mysqlKind} {
		t.Run(k.name, func(t *testing.T) {
			t.Parallel()
			if k == postgresKind {
				sqltest.RequirePostgres(t)
			} else {
				sqltest.RequireMySQL(t)
			}
			src := newSQLSource(k, "")
			defer src.close()
			if err := src.ready(t.Context()); err != nil {
				t.Fatal(err)
			}
			srv := src.started
			if srv == nil || !strings.Contains(src.describe(), "started by the suite on "+srv.Addr()) {
				t.Fatalf("describe() = %q", src.describe())
			}
			if err := src.close(); err != nil {
				t.Fatal(err)
			}
			if c, err := net.DialTimeout("tcp", srv.Addr(), time.Second); err == nil {
				c.Close()
				t.Errorf("%s still accepts connections after close", srv.Addr())
			}
		})
	}
}

// TestSQLite_SameSettingsForBoth checks that scs's sqlite3store gets what
// sqlstore's durable setting gives its own database: the pragmas and the
// pool.
func TestSQLite_SameSettingsForBoth(t *testing.T) {
	e := testEnv(t)
	st, err := openSQLite(false)(e)
	if err != nil {
		t.Fatal(err)
	}
	defer closeStore(st)
	ours := st.(*sqlstore.Store).DB()
	theirs, err := sql.Open("sqlite", sqliteDSN(filepath.Join(t.TempDir(), "scs.db")))
	if err != nil {
		t.Fatal(err)
	}
	defer theirs.Close()
	limitPool(theirs, sqlitePoolSize())
	for _, pragma := range []string{"journal_mode", "synchronous", "busy_timeout"} {
		var a, b string
		if err := ours.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&a); err != nil {
			t.Fatal(err)
		}
		if err := theirs.QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&b); err != nil {
			t.Fatal(err)
		}
		if a != b {
			t.Errorf("PRAGMA %s: sqlstore %q, scs %q", pragma, a, b)
		}
	}
	if a, b := ours.Stats().MaxOpenConnections, theirs.Stats().MaxOpenConnections; a != b || a != sqlitePoolSize() {
		t.Errorf("pools of %d and %d connections", a, b)
	}
	// The durable setting: synchronous=FULL is 2.
	var sync int
	if err := ours.QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Errorf("synchronous = %d, %v", sync, err)
	}
}

// TestRun_WithoutSQLServers runs the SQL server cases where PostgreSQL and
// MariaDB are not installed: they are reported as not measured, and the
// run succeeds.
func TestRun_WithoutSQLServers(t *testing.T) {
	for _, k := range []*sqlKind{postgresKind, mysqlKind} {
		saved := k.launch
		k.launch = func() (*sqltest.Server, error) {
			return nil, fmt.Errorf("sqltest: %s %w: no programs", k.name, sqltest.ErrNotInstalled)
		}
		defer func() { k.launch = saved }()
	}
	plan, err := PlanFor(Smoke)
	if err != nil {
		t.Fatal(err)
	}
	plan.TempDir = t.TempDir()
	plan.Filter = regexpMust(t, `^(cycle|store)/(sessionkv-sqlstore-(postgres|mariadb)|scs-(postgres|mysql)store|floor)(/|$)`)
	res, err := Run(t.Context(), plan, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cases) != len(plan.Concurrency) || res.Postgres != "" || res.MySQL != "" {
		t.Errorf("%d cases, PostgreSQL %q, MariaDB %q", len(res.Cases), res.Postgres, res.MySQL)
	}
	want := []Skip{{"sessionkv-sqlstore-postgres", "no PostgreSQL server"}, {"sessionkv-sqlstore-mariadb", "no MariaDB server"},
		{"scs-postgresstore", "no PostgreSQL server"}, {"scs-mysqlstore", "no MariaDB server"}}
	if !slices.Equal(res.Skipped, want) {
		t.Errorf("skipped = %v, want %v", res.Skipped, want)
	}
	n := 0
	for _, v := range res.Verdicts {
		if strings.Contains(v.Peer, "scs-postgresstore") || strings.Contains(v.Peer, "scs-mysqlstore") {
			n++
			if v.Status != NotMeasured || !strings.HasPrefix(v.Note, "no ") {
				t.Errorf("verdict %+v", v)
			}
		}
	}
	if n != 4 {
		t.Errorf("%d verdicts on the server stores, want 4", n)
	}
	var report bytes.Buffer
	WriteReport(&report, res, nil)
	if !strings.Contains(report.String(), "`scs-mysqlstore` (no MariaDB server)") {
		t.Errorf("report:\n%s", report.String())
	}
}

// TestRun_UnreachableSQLServer checks that a given server that does not
// answer fails the run rather than being reported as not measured.
func TestRun_UnreachableSQLServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	for _, plan := range []Plan{
		{PostgresURL: "postgres://bench@127.0.0.1:1/postgres?connect_timeout=5", Filter: regexpMust(t, `^cycle/scs-postgresstore/c=1$`)},
		{MySQLURL: "mysql://bench@127.0.0.1:1/mysql?timeout=5s", Filter: regexpMust(t, `^cycle/scs-mysqlstore/c=1$`)},
	} {
		plan.Mode, plan.Rounds, plan.RoundTime, plan.Sessions = Smoke, 1, time.Millisecond, 1
		plan.Concurrency, plan.TempDir = []int{1}, t.TempDir()
		if _, err := Run(ctx, plan, testWriter{t}); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
			t.Errorf("%+v: err = %v", plan, err)
		}
	}
}

func TestSQLSource_DSN(t *testing.T) {
	src := newSQLSource(mysqlKind, "")
	var err error
	if src.base, err = url.Parse("mysql://app:p%40ss@db.internal/app?tls=skip-verify&timeout=5s"); err != nil {
		t.Fatal(err)
	}
	dsn, err := src.dsn("mysql", "other")
	if err != nil {
		t.Fatal(err)
	}
	if want := "app:p@ss@tcp(db.internal:3306)/other?clientFoundRows=true&parseTime=true&timeout=5s&tls=skip-verify"; dsn != want {
		t.Errorf("dsn = %q, want %q", dsn, want)
	}
	if got, want := src.url("other"), "mysql://app:p%40ss@db.internal/other?tls=skip-verify&timeout=5s"; got != want {
		t.Errorf("url = %q, want %q", got, want)
	}
	pg := newSQLSource(postgresKind, "")
	pg.base, _ = url.Parse("postgres://app@db:5433/postgres?sslmode=disable")
	if dsn, _ := pg.dsn("pgx", "x"); dsn != "postgres://app@db:5433/x?sslmode=disable" {
		t.Errorf("pgx dsn = %q", dsn)
	}
	for _, bad := range []string{"mysql:///x", "postgres://h/x", "http://h/x"} {
		if _, err := parseServerURL(mysqlKind, bad); err == nil {
			t.Errorf("parseServerURL(%q) did not fail", bad)
		}
	}
}

// TestSQLFloors_ConcurrentRequestsOnOneSession: the server floors answer
// every request when many run at once on one session. Two requests that
// read the same row write the same bytes back; MariaDB counted the second
// UPDATE's row as unchanged, and the floor failed the case at 64 clients.
func TestSQLFloors_ConcurrentRequestsOnOneSession(t *testing.T) {
	postgres, mysql := sharedURLs(t)
	for _, c := range contenders() {
		if c.name != "floor-postgres" && c.name != "floor-mariadb" {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			e := testEnv(t)
			e.postgres, e.mysql = newSQLSource(postgresKind, postgres), newSQLSource(mysqlKind, mysql)
			t.Cleanup(func() { e.postgres.close(); e.mysql.close() })
			requireServer(t, e, c.server)
			s, err := c.new(e, 1)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := s.close(); err != nil {
					t.Error(err)
				}
			}()
			if err := spread(640, 64, cycleOp(t.Context(), s, 1)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
