package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"runtime"

	"github.com/alexedwards/scs/mysqlstore"
	"github.com/alexedwards/scs/postgresstore"
	"github.com/alexedwards/scs/sqlite3store"
	"github.com/alexedwards/scs/v2"
	_ "modernc.org/sqlite" // the "sqlite" driver

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/sqlstore"
)

// sqlitePoolSize is the pool of sqlstore on SQLite, GOMAXPROCS+2
// connections, all kept idle (its default), and so of scs's sqlite3store:
// WAL readers run side by side, writers take turns for the write lock.
func sqlitePoolSize() int { return runtime.GOMAXPROCS(0) + 2 }

// sqliteDSN is the modernc.org/sqlite data source name of the file at
// path with sqlstore's durable settings, as sqlstore.Open makes it: WAL,
// synchronous=FULL (every commit on disk before it returns), a 5 s busy
// timeout, and BEGIN IMMEDIATE for transactions (scs uses none).
func sqliteDSN(path string) string {
	q := url.Values{}
	q.Set("_busy_timeout", "5000")
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_txlock", "immediate")
	return (&url.URL{Scheme: "file", Path: path, RawQuery: q.Encode()}).String()
}

// openSQLite opens sqlstore on an SQLite file of its own: durable
// (synchronous=FULL), or with Options.NoSync (synchronous=NORMAL).
func openSQLite(noSync bool) func(e *env) (session.Store, error) {
	return func(e *env) (session.Store, error) {
		dir, err := e.tempDir("sqlstore")
		if err != nil {
			return nil, err
		}
		s, err := sqlstore.Open("sqlite:"+filepath.Join(dir, "sessions.db"), &sqlstore.Options{NoSync: noSync})
		if err != nil {
			return nil, err
		}
		limitPool(s.DB(), sqlitePoolSize())
		return s, nil
	}
}

// openSQLServer opens sqlstore, through its URL as an application would,
// on a database of its own on the run's server of kind b. Closing it drops
// the database.
func openSQLServer(b backend) func(e *env) (session.Store, error) {
	return func(e *env) (session.Store, error) {
		src := e.sqlSource(b)
		if src == nil {
			return nil, b.missing()
		}
		db, drop, err := src.newDatabase(e.ctx, "sqlstore")
		if err != nil {
			return nil, err
		}
		s, err := sqlstore.Open(src.url(db), nil)
		if err != nil {
			return nil, errors.Join(err, drop())
		}
		limitPool(s.DB(), sqlPoolSize)
		return ownedSQLStore{Store: s, drop: drop}, nil
	}
}

// ownedSQLStore is an sqlstore that owns its database.
type ownedSQLStore struct {
	*sqlstore.Store
	drop func() error
}

func (s ownedSQLStore) Close() error { return errors.Join(s.Store.Close(), s.drop()) }

// The tables of scs's SQL stores, as their READMEs give them.
var (
	scsSQLite3Schema = []string{
		`CREATE TABLE sessions (
	token TEXT PRIMARY KEY,
	data BLOB NOT NULL,
	expiry REAL NOT NULL
)`,
		`CREATE INDEX sessions_expiry_idx ON sessions(expiry)`,
	}
	scsPostgresSchema = []string{
		`CREATE TABLE sessions (
	token TEXT PRIMARY KEY,
	data BYTEA NOT NULL,
	expiry TIMESTAMPTZ NOT NULL
)`,
		`CREATE INDEX sessions_expiry_idx ON sessions (expiry)`,
	}
	scsMySQLSchema = []string{
		`CREATE TABLE sessions (
	token CHAR(43) COLLATE utf8mb4_bin PRIMARY KEY,
	data BLOB NOT NULL,
	expiry TIMESTAMP(6) NOT NULL
)`,
		`CREATE INDEX sessions_expiry_idx ON sessions (expiry)`,
	}
)

func execAll(ctx context.Context, db *sql.DB, stmts []string) error {
	ctx, cancel := context.WithTimeout(ctx, sqlOpTimeout)
	defer cancel()
	for _, stmt := range stmts {
		if _, err := db.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	return nil
}

// newSCSSQLite3store runs scs's LoadAndSave middleware over its
// sqlite3store, on modernc.org/sqlite with sqlstore's durable settings and
// pool, without its cleanup goroutine.
func newSCSSQLite3store(e *env, sessions int) (*subject, error) {
	db, err := openSQLiteFile(e, "scs-sqlite3store")
	if err != nil {
		return nil, err
	}
	return newSCSOnDB(e, db, scsSQLite3Schema, sqlite3store.NewWithCleanupInterval(db, 0), sessions, db.Close)
}

// openSQLiteFile opens a pool on a new SQLite file in a directory of its
// own named for name, with sqlstore's durable settings and pool.
func openSQLiteFile(e *env, name string) (*sql.DB, error) {
	dir, err := e.tempDir(name)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", sqliteDSN(filepath.Join(dir, "sessions.db")))
	if err != nil {
		return nil, err
	}
	limitPool(db, sqlitePoolSize())
	return db, nil
}

// newSCSPostgresstore runs scs's LoadAndSave middleware over its
// postgresstore, on pgx's database/sql driver (sqlstore's), on a database
// of its own on the run's PostgreSQL server, without its cleanup goroutine.
func newSCSPostgresstore(e *env, sessions int) (*subject, error) {
	return newSCSOnServer(e, postgresBackend, "pgx", scsPostgresSchema, func(db *sql.DB) scs.Store {
		return postgresstore.NewWithCleanupInterval(db, 0)
	}, sessions)
}

// newSCSMySQLstore runs scs's LoadAndSave middleware over its mysqlstore,
// on go-sql-driver/mysql with parseTime=true (as its README says), on a
// database of its own on the run's MariaDB server, without its cleanup
// goroutine.
func newSCSMySQLstore(e *env, sessions int) (*subject, error) {
	return newSCSOnServer(e, mysqlBackend, "mysql", scsMySQLSchema, func(db *sql.DB) scs.Store {
		return mysqlstore.NewWithCleanupInterval(db, 0)
	}, sessions)
}

// newSCSOnServer runs scs over the store newStore makes on a pool of
// driver on a new database of the run's server of kind b (openOnServer).
// Closing the subject closes the pool and drops the database.
func newSCSOnServer(e *env, b backend, driver string, schema []string, newStore func(*sql.DB) scs.Store,
	sessions int) (*subject, error) {
	db, release, err := openOnServer(e, b, driver, "scs")
	if err != nil {
		return nil, err
	}
	return newSCSOnDB(e, db, schema, newStore(db), sessions, release)
}

// openOnServer opens a pool of driver, with the pool limits sqlstore gets
// there, on a new database, named from prefix, of the run's server of kind
// b. release closes the pool and drops the database.
func openOnServer(e *env, b backend, driver, prefix string) (db *sql.DB, release func() error, err error) {
	src := e.sqlSource(b)
	if src == nil {
		return nil, nil, b.missing()
	}
	name, drop, err := src.newDatabase(e.ctx, prefix)
	if err != nil {
		return nil, nil, err
	}
	dsn, err := src.dsn(driver, name)
	if err != nil {
		return nil, nil, errors.Join(err, drop())
	}
	if db, err = sql.Open(driver, dsn); err != nil {
		return nil, nil, errors.Join(err, drop())
	}
	limitPool(db, sqlPoolSize)
	return db, func() error { return errors.Join(db.Close(), drop()) }, nil
}

// newSCSOnDB creates schema on db and runs scs over store; the subject's
// close calls release, as does a failure.
func newSCSOnDB(e *env, db *sql.DB, schema []string, store scs.Store, sessions int, release func() error) (*subject, error) {
	if err := execAll(e.ctx, db, schema); err != nil {
		return nil, errors.Join(err, release())
	}
	s, err := newSCS(store, e.data.set, sessions, release)
	if err != nil {
		return nil, errors.Join(err, release())
	}
	return s, nil
}

// The tables of the SQL floors: a key and the session's bytes, nothing
// else.
var (
	floorSQLiteSchema   = []string{`CREATE TABLE sessions (token TEXT PRIMARY KEY, data BLOB NOT NULL)`}
	floorPostgresSchema = []string{`CREATE TABLE sessions (token TEXT PRIMARY KEY, data BYTEA NOT NULL)`}
	floorMySQLSchema    = []string{`CREATE TABLE sessions (token VARCHAR(64) COLLATE utf8mb4_bin PRIMARY KEY, data BLOB NOT NULL)`}
)

// newSQLiteFloor is the SQLite floor (see newSQLFloor) on a file of its
// own with sqlstore's durable settings and pool.
func newSQLiteFloor(e *env, sessions int) (*subject, error) {
	db, err := openSQLiteFile(e, "floor-sqlite")
	if err != nil {
		return nil, err
	}
	return newSQLFloor(e, db, floorSQLiteSchema, "?", sessions, db.Close)
}

// newServerFloor returns the floor (see newSQLFloor) of the run's server
// of kind b, on a database of its own reached through driver
// (openOnServer).
func newServerFloor(b backend, driver string, schema []string, placeholder string) func(*env, int) (*subject, error) {
	return func(e *env, sessions int) (*subject, error) {
		db, release, err := openOnServer(e, b, driver, "floor")
		if err != nil {
			return nil, err
		}
		return newSQLFloor(e, db, schema, placeholder, sessions, release)
	}
}

// newSQLFloor is what a durable request cycle on an SQL database costs at
// least: the harness, then the session's row read by its primary key and
// written back with one byte changed, two prepared statements and one
// commit, with no session library, no decoding and no encoding. The table
// holds sessions rows of the env's session encoded as sessionkv stores it.
// placeholder is how the statements' parameters are written: "?", or "$"
// for $1, $2.
func newSQLFloor(e *env, db *sql.DB, schema []string, placeholder string, sessions int,
	release func() error) (*subject, error) {
	arg := func(n int) string {
		if placeholder == "$" {
			return fmt.Sprintf("$%d", n)
		}
		return "?"
	}
	fail := func(err error) (*subject, error) {
		return nil, errors.Join(fmt.Errorf("bench: sql floor: %w", err), release())
	}
	if err := execAll(e.ctx, db, schema); err != nil {
		return fail(err)
	}
	data, err := session.MsgpackCodec{}.Encode(nil, e.data.set)
	if err != nil {
		return fail(err)
	}
	insert := fmt.Sprintf(`INSERT INTO sessions (token, data) VALUES (%s, %s)`, arg(1), arg(2))
	for j := range sessions {
		if _, err := db.ExecContext(e.ctx, insert, sessionID(j), data); err != nil {
			return fail(err)
		}
	}
	sel, err := db.PrepareContext(e.ctx, fmt.Sprintf(`SELECT data FROM sessions WHERE token = %s`, arg(1)))
	if err != nil {
		return fail(err)
	}
	upd, err := db.PrepareContext(e.ctx, fmt.Sprintf(`UPDATE sessions SET data = %s WHERE token = %s`, arg(1), arg(2)))
	if err != nil {
		return fail(errors.Join(err, sel.Close()))
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie("sessionid")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var got []byte
		if err := sel.QueryRowContext(r.Context(), c.Value).Scan(&got); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		got[len(got)-1] ^= 1 // a changed row: MySQL skips writing an unchanged one
		res, err := upd.ExecContext(r.Context(), got, c.Value)
		if err == nil {
			if n, _ := res.RowsAffected(); n != 1 {
				err = fmt.Errorf("%d rows updated, want 1", n)
			}
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	return &subject{
		handler: h,
		cookie:  floorCookie,
		close:   func() error { return errors.Join(sel.Close(), upd.Close(), release()) },
	}, nil
}
