package sqlstore

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionkv/session/internal/redact"
)

// ErrBadURL is returned by Open and ParseURL for a URL they cannot use.
var ErrBadURL = errors.New("sqlstore: bad database URL")

// Target is a parsed database URL: what Open connects to.
type Target struct {
	// Dialect is the engine the URL names.
	Dialect Dialect
	// Path is the SQLite database file ("" for the server engines).
	Path string
	// Table is the URL's "table" parameter ("" when absent), which
	// overrides Options.Table.
	Table string

	driver string // database/sql driver name
	dsn    string // the driver's data source name
	mysql  *mysql.Config
}

// String returns the URL with its passwords replaced by "xxxxx" and its
// driver parameters left out, naming the database and the table.
func (t Target) String() string {
	var s string
	switch t.Dialect {
	case SQLite:
		s = "sqlite:" + t.Path
	case MySQL:
		s = "mysql://"
		if t.mysql.User != "" {
			s += url.User(t.mysql.User).String()
			if t.mysql.Passwd != "" {
				s += ":xxxxx"
			}
			s += "@"
		}
		s += t.mysql.Addr + "/" + t.mysql.DBName
	default:
		s, _, _ = strings.Cut(redact.URL(t.dsn), "?")
	}
	if t.Table != "" {
		s += "?table=" + t.Table
	}
	return s
}

// Redact returns raw, a database URL, with its passwords (in the user
// information, and "password" parameters) replaced by "xxxxx", for
// messages that name it.
func Redact(raw string) string { return redact.URL(raw) }

// ParseURL parses a database URL without connecting:
//
//   - sqlite:PATH or sqlite:///ABSOLUTE/PATH, with parameters for
//     modernc.org/sqlite ("_pragma=...", "_busy_timeout=...") after "?";
//     SQLite's own URI parameters ("mode", "cache", "nolock",
//     "immutable", "vfs"...), which would keep the database in memory or
//     drop its locks, are refused;
//   - postgres://USER:PASSWORD@HOST:PORT/DB?PARAMS (or postgresql://),
//     with pgx's parameters ("sslmode", "search_path", "connect_timeout");
//   - mysql://USER:PASSWORD@HOST:PORT/DB?PARAMS, with the parameters of
//     github.com/go-sql-driver/mysql ("tls", "timeout", "readTimeout");
//     the driver runs the ones it does not know as SQL SET statements,
//     so a parameter named like a password is refused.
//
// The one parameter the store itself takes is "table" (Options.Table);
// every other one, but for those refused above, goes to the driver as it
// is.
func ParseURL(raw string) (Target, error) {
	scheme, rest, ok := strings.Cut(raw, ":")
	if !ok || scheme == "" {
		return Target{}, fmt.Errorf("%w %q: want sqlite:PATH, postgres://HOST/DB or mysql://HOST/DB", ErrBadURL, Redact(raw))
	}
	switch strings.ToLower(scheme) {
	case "sqlite":
		return parseSQLite(raw, rest)
	case "postgres", "postgresql":
		return parsePostgres(raw)
	case "mysql":
		return parseMySQL(raw)
	}
	return Target{}, fmt.Errorf("%w %q: unknown scheme %q (known: sqlite, postgres, postgresql, mysql)", ErrBadURL, Redact(raw), scheme)
}

func parseSQLite(raw, rest string) (Target, error) {
	path, query, _ := strings.Cut(rest, "?")
	if strings.HasPrefix(path, "//") {
		u, err := url.Parse("x:" + path)
		if err != nil {
			return Target{}, fmt.Errorf("%w %q: %v", ErrBadURL, Redact(raw), errors.Unwrap(err))
		}
		if u.User != nil || u.Host != "" && u.Host != "localhost" {
			return Target{}, fmt.Errorf("%w %q: host %q: an SQLite database is a local file", ErrBadURL, Redact(raw), u.Host)
		}
		path = u.Path
	}
	if path == "" || strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
		return Target{}, fmt.Errorf("%w %q: needs the path of a database file, as in sqlite:/var/lib/app/db.sqlite3", ErrBadURL, Redact(raw))
	}
	params, err := url.ParseQuery(query)
	if err != nil {
		return Target{}, fmt.Errorf("%w %q: %v", ErrBadURL, Redact(raw), err)
	}
	t := Target{Dialect: SQLite, Path: path, Table: params.Get("table"), driver: "sqlite"}
	params.Del("table")
	for name := range params {
		// The driver's parameters start with "_"; the others are SQLite's
		// own URI parameters, which open the file another way than the
		// store's promises assume: in memory (mode, vfs), read-only
		// (mode, immutable), without locks (nolock, immutable), with a
		// shared cache (cache).
		if !strings.HasPrefix(name, "_") {
			return Target{}, fmt.Errorf("%w %q: parameter %q: the store takes table and the driver's parameters (_pragma, _busy_timeout...), not SQLite's URI parameters", ErrBadURL, Redact(raw), name)
		}
	}
	t.dsn = params.Encode() // completed by openSQLite, once the path is checked
	return t, nil
}

func parsePostgres(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("%w %q: %v", ErrBadURL, Redact(raw), errors.Unwrap(err))
	}
	if u.Opaque != "" {
		// A key=value connection string after the scheme: not quoted, since
		// its password would show.
		return Target{}, fmt.Errorf("%w %q: not a URL (a key=value connection string?); want postgres://USER:PASSWORD@HOST:PORT/DB", ErrBadURL, u.Scheme+":...")
	}
	if u.Host == "" && u.Query().Get("host") == "" {
		return Target{}, fmt.Errorf("%w %q: needs a host, as in postgres://app@127.0.0.1:5432/app", ErrBadURL, Redact(raw))
	}
	q := u.Query()
	t := Target{Dialect: PostgreSQL, Table: q.Get("table"), driver: "pgx"}
	q.Del("table")
	u.RawQuery = q.Encode()
	t.dsn = u.String()
	return t, nil
}

func parseMySQL(raw string) (Target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return Target{}, fmt.Errorf("%w %q: %v", ErrBadURL, Redact(raw), errors.Unwrap(err))
	}
	if u.Host == "" {
		return Target{}, fmt.Errorf("%w %q: needs a host, as in mysql://app@127.0.0.1:3306/app", ErrBadURL, Redact(raw))
	}
	db := strings.TrimPrefix(u.Path, "/")
	if db == "" || strings.Contains(db, "/") {
		return Target{}, fmt.Errorf("%w %q: needs one database name after the host, as in mysql://app@127.0.0.1:3306/app", ErrBadURL, Redact(raw))
	}
	q := u.Query()
	for name := range q {
		// The driver runs a parameter it does not know as "SET name =
		// value": the server's error would quote a password given so, and
		// MySQL 8 would take "SET password = '...'" as a new password.
		if strings.Contains(strings.ToLower(name), "password") {
			return Target{}, fmt.Errorf("%w %q: parameter %q: the driver would run it as an SQL SET; put the password in the user information, as in mysql://app:PASSWORD@127.0.0.1:3306/app", ErrBadURL, Redact(raw), name)
		}
	}
	t := Target{Dialect: MySQL, Table: q.Get("table"), driver: "mysql"}
	q.Del("table")
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
	b.WriteString("tcp(" + addr + ")/" + db)
	if len(q) > 0 {
		b.WriteString("?" + q.Encode())
	}
	cfg, err := mysql.ParseDSN(b.String())
	if err != nil {
		return Target{}, fmt.Errorf("%w %q: %v", ErrBadURL, Redact(raw), redact.Error(err, raw))
	}
	// UPDATE must report the rows it matched, not only those it changed:
	// the compare-and-set reads its outcome from that count.
	cfg.ClientFoundRows = true
	t.mysql = cfg
	return t, nil
}
