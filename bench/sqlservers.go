package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver

	"github.com/sessionkv/session/sqlstore"
	"github.com/sessionkv/session/sqlstore/sqltest"
)

// A backend is a server that some contenders need. The run provides it or
// they are not measured.
type backend string

const (
	noBackend       backend = ""
	redisBackend    backend = "redis"
	postgresBackend backend = "postgres"
	mysqlBackend    backend = "mysql"
)

// Without their server, the contenders that need one are not measured;
// these errors, as the reasons given, say why.
var (
	errNoPostgres = errors.New("no PostgreSQL server")
	errNoMySQL    = errors.New("no MariaDB server")
)

// missing returns the error that means the run has no server of kind b.
func (b backend) missing() error {
	switch b {
	case redisBackend:
		return errNoRedis
	case postgresBackend:
		return errNoPostgres
	case mysqlBackend:
		return errNoMySQL
	}
	return nil
}

// sqlPoolSize is the most connections each contender on a database server
// may open, and keep idle, whatever its library: as many as the most
// clients of a case, so that no client waits for a connection and none is
// closed and opened again between requests.
const sqlPoolSize = 64

// limitPool gives a pool the limits every contender on the same engine
// gets.
func limitPool(db *sql.DB, n int) {
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	db.SetConnMaxIdleTime(0)
	db.SetConnMaxLifetime(0)
}

// sqlKind is what differs between PostgreSQL and MariaDB (or MySQL) for
// the suite.
type sqlKind struct {
	name    string // for messages
	backend backend
	schemes []string // of the URLs the plan may give
	driver  string   // database/sql driver of the admin connection
	launch  func() (*sqltest.Server, error)
	// version and settings are queries: the server's version, and its
	// durability settings in one line.
	version, settings string
	create, drop      func(db string) string
}

var postgresKind = &sqlKind{
	name: "PostgreSQL", backend: postgresBackend, schemes: []string{"postgres", "postgresql"},
	driver: "pgx", launch: sqltest.LaunchPostgres,
	version:  `SHOW server_version`,
	settings: `SELECT 'fsync=' || current_setting('fsync') || ', synchronous_commit=' || current_setting('synchronous_commit')`,
	create:   func(db string) string { return `CREATE DATABASE "` + db + `"` },
	// FORCE: the backends of a pool just closed may not have exited yet.
	drop: func(db string) string { return `DROP DATABASE IF EXISTS "` + db + `" WITH (FORCE)` },
}

var mysqlKind = &sqlKind{
	name: "MariaDB", backend: mysqlBackend, schemes: []string{"mysql", "mariadb"},
	driver: "mysql", launch: sqltest.LaunchMySQL,
	version:  `SELECT VERSION()`,
	settings: `SELECT CONCAT('innodb_flush_log_at_trx_commit=', @@innodb_flush_log_at_trx_commit)`,
	create:   func(db string) string { return "CREATE DATABASE `" + db + "` CHARACTER SET utf8mb4" },
	drop:     func(db string) string { return "DROP DATABASE IF EXISTS `" + db + "`" },
}

// sqlOpTimeout bounds one administrative statement of the suite's.
const sqlOpTimeout = 30 * time.Second

// sqlSource gives the run's contenders of one engine their server: the one
// at the URL the plan names or, without one, a server the suite launches
// (sqltest) on first use and stops in close. Each store gets a database of
// its own on it, made by newDatabase and dropped when the store closes.
// Its methods are safe for concurrent use.
type sqlSource struct {
	kind  *sqlKind
	given string // Plan.PostgresURL or Plan.MySQLURL

	mu      sync.Mutex
	tried   bool
	err     error
	base    *url.URL // the server's URL; its path names the admin database
	admin   *sql.DB
	desc    string
	started *sqltest.Server
	seq     int
}

func newSQLSource(kind *sqlKind, given string) *sqlSource {
	return &sqlSource{kind: kind, given: given}
}

// ready connects to the server, launching it the first time if needed. It
// returns an error wrapping the kind's missing error when there is no
// server to use; every later call returns the same result.
func (s *sqlSource) ready(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tried {
		return s.err
	}
	s.tried = true
	s.err = s.connect(ctx)
	return s.err
}

// connect is ready's first call, with s.mu held.
func (s *sqlSource) connect(ctx context.Context) error {
	k := s.kind
	raw := s.given
	if raw == "" {
		srv, err := k.launch()
		if errors.Is(err, sqltest.ErrNotInstalled) {
			return fmt.Errorf("%w: %v", k.backend.missing(), err)
		}
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		s.started = srv
		raw = srv.URL("")
	}
	u, err := parseServerURL(k, raw)
	if err != nil {
		return err
	}
	s.base = u
	dsn, err := s.dsn(k.driver, "")
	if err != nil {
		return err
	}
	if s.admin, err = sql.Open(k.driver, dsn); err != nil {
		return fmt.Errorf("bench: %s: %w", k.name, err)
	}
	s.admin.SetMaxOpenConns(2)
	ctx, cancel := context.WithTimeout(ctx, sqlOpTimeout)
	defer cancel()
	var version, settings string
	if err := s.admin.QueryRowContext(ctx, k.version).Scan(&version); err != nil {
		return fmt.Errorf("bench: %s at %s: %w", k.name, sqlstore.Redact(raw), err)
	}
	if err := s.admin.QueryRowContext(ctx, k.settings).Scan(&settings); err != nil {
		return fmt.Errorf("bench: %s at %s: %w", k.name, sqlstore.Redact(raw), err)
	}
	version, _, _ = strings.Cut(version, " ")
	if s.started != nil {
		s.desc = fmt.Sprintf("%s %s started by the suite on %s (%s)", k.name, version, s.started.Addr(), settings)
	} else {
		s.desc = fmt.Sprintf("%s %s at %s (%s)", k.name, version, sqlstore.Redact(raw), settings)
	}
	return nil
}

// parseServerURL checks a server URL of kind k.
func parseServerURL(k *sqlKind, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || !slices.Contains(k.schemes, u.Scheme) {
		return nil, fmt.Errorf("bench: %s URL %q: want %s://USER@HOST:PORT/DB", k.name, sqlstore.Redact(raw), k.schemes[0])
	}
	return u, nil
}

// url returns the URL of database db on the server, in sqlstore's form.
func (s *sqlSource) url(db string) string {
	u := *s.base
	u.Path, u.RawPath = "/"+db, ""
	return u.String()
}

// dsn returns the data source name of database db ("": the admin one) for
// a database/sql driver: the URL for pgx, go-sql-driver/mysql's own form
// for mysql, with parseTime=true as scs's mysqlstore needs.
func (s *sqlSource) dsn(driver, db string) (string, error) {
	u := *s.base
	if db != "" {
		u.Path = "/" + db
	}
	if driver != "mysql" {
		return u.String(), nil
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "3306")
	}
	var b strings.Builder
	if u.User != nil {
		b.WriteString(u.User.Username())
		if p, ok := u.User.Password(); ok {
			b.WriteString(":" + p)
		}
		b.WriteString("@")
	}
	b.WriteString("tcp(" + addr + ")/" + strings.TrimPrefix(u.Path, "/"))
	if u.RawQuery != "" {
		b.WriteString("?" + u.RawQuery)
	}
	cfg, err := mysql.ParseDSN(b.String())
	if err != nil {
		return "", fmt.Errorf("bench: MariaDB URL %s: %w", sqlstore.Redact(s.url(db)), err)
	}
	cfg.ParseTime = true
	// Affected rows count the rows found, as on PostgreSQL and as
	// sqlstore's own connections do: the MariaDB floor checks that its
	// UPDATE found the row, which a concurrent request on the same session
	// may already have set to the same bytes. scs's mysqlstore reads no
	// such count.
	cfg.ClientFoundRows = true
	return cfg.FormatDSN(), nil
}

// newDatabase creates a database of its own for one store, named after
// the process and name, and returns its name and a function that drops
// it.
func (s *sqlSource) newDatabase(ctx context.Context, name string) (string, func() error, error) {
	if err := s.ready(ctx); err != nil {
		return "", nil, err
	}
	s.mu.Lock()
	s.seq++
	db := fmt.Sprintf("sessionbench_%d_%s_%d", os.Getpid(), name, s.seq)
	s.mu.Unlock()
	if err := s.exec(ctx, s.kind.create(db)); err != nil {
		return "", nil, fmt.Errorf("bench: %s: create database %s: %w", s.kind.name, db, err)
	}
	drop := func() error {
		if err := s.exec(context.WithoutCancel(ctx), s.kind.drop(db)); err != nil {
			return fmt.Errorf("bench: %s: drop database %s: %w", s.kind.name, db, err)
		}
		return nil
	}
	return db, drop, nil
}

func (s *sqlSource) exec(ctx context.Context, stmt string) error {
	ctx, cancel := context.WithTimeout(ctx, sqlOpTimeout)
	defer cancel()
	_, err := s.admin.ExecContext(ctx, stmt)
	return err
}

// describe says which server the cases used, "" if none.
func (s *sqlSource) describe() string {
	if s == nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.desc
}

// close closes the admin connection and stops the server the source
// launched, if any.
func (s *sqlSource) close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.admin != nil {
		errs = append(errs, s.admin.Close())
		s.admin = nil
	}
	if s.started != nil {
		errs = append(errs, s.started.Close())
		s.started = nil
	}
	return errors.Join(errs...)
}
