package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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
	dir, err := e.tempDir("scs-sqlite3store")
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite", sqliteDSN(filepath.Join(dir, "sessions.db")))
	if err != nil {
		return nil, err
	}
	limitPool(db, sqlitePoolSize())
	return newSCSOnDB(e, db, scsSQLite3Schema, sqlite3store.NewWithCleanupInterval(db, 0), sessions, db.Close)
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

// newSCSOnServer opens a pool of driver on a new database of the run's
// server of kind b, with the pool limits sqlstore gets there, and runs
// scs over the store newStore makes on it. Closing the subject closes the
// pool and drops the database.
func newSCSOnServer(e *env, b backend, driver string, schema []string, newStore func(*sql.DB) scs.Store,
	sessions int) (*subject, error) {
	src := e.sqlSource(b)
	if src == nil {
		return nil, b.missing()
	}
	name, drop, err := src.newDatabase(e.ctx, "scs")
	if err != nil {
		return nil, err
	}
	dsn, err := src.dsn(driver, name)
	if err != nil {
		return nil, errors.Join(err, drop())
	}
	db, err := sql.Open(driver, dsn)
	if err != nil {
		return nil, errors.Join(err, drop())
	}
	limitPool(db, sqlPoolSize)
	release := func() error { return errors.Join(db.Close(), drop()) }
	if err := execAll(e.ctx, db, schema); err != nil {
		return nil, errors.Join(err, release())
	}
	return newSCSOnDB(e, db, nil, newStore(db), sessions, release)
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
