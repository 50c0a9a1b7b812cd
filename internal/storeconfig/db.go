package storeconfig

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangosession"
	"github.com/sessionkv/session/internal/location"
	"github.com/sessionkv/session/internal/redact"
	"github.com/sessionkv/session/sqlstore"
)

// EngineDB keeps sessions in a table of an SQL database (sqlstore), as
// Django's default "db" engine does: SQLite, PostgreSQL or MySQL.
const EngineDB = "db"

// EnvDatabaseURL names the database of SESSION_ENGINE=db, as a store URL
// ("sqlite:/var/lib/app/db.sqlite3", "postgres://app@db/app",
// "mysql://app@db/app"). When it is set, SESSION_FILE_PATH plays no part.
const EnvDatabaseURL = "DATABASE_URL"

// DefaultDBFileName is the SQLite file of SESSION_ENGINE=db when
// DATABASE_URL is unset: db.sqlite3 in SESSION_FILE_PATH (else in the
// default directory of the embedded stores), the file Django's settings.py
// names.
const DefaultDBFileName = "db.sqlite3"

// dbSpec is the Spec of SESSION_ENGINE=db: DATABASE_URL, else the SQLite
// file db.sqlite3 in filePath ("" for the default directory; Resolve
// fills it in).
func dbSpec(filePath string) (Spec, error) {
	if u := strings.TrimSpace(os.Getenv(EnvDatabaseURL)); u != "" {
		s, err := parseDB(u)
		if err != nil {
			return Spec{}, fmt.Errorf("%s: %w", EnvDatabaseURL, err)
		}
		return s, nil
	}
	s := Spec{Engine: EngineDB}
	if filePath != "" {
		s.Path = filepath.Join(filePath, DefaultDBFileName)
	}
	return s, nil
}

// defaultDBPath is where SESSION_ENGINE=db keeps its SQLite file when
// neither DATABASE_URL nor a path is given.
func defaultDBPath() string {
	return filepath.Join(defaultFileDir(), DefaultDBFileName)
}

// sqliteURL returns the sqlite: URL of the database file path. A path that
// sqlstore would read otherwise (one holding "?", or starting with "//")
// is made absolute and percent-encoded in the sqlite:/// form.
func sqliteURL(path string) string {
	if !strings.Contains(path, "?") && !strings.HasPrefix(path, "//") {
		return SchemeSQLite + ":" + path
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return (&url.URL{Scheme: SchemeSQLite, Path: path}).String()
}

// parseDB parses the URL of an SQL database, s, as sqlstore does, and
// checks its table name. Errors wrap ErrBadURL, hide passwords and read as
// ParseURL's others do: sqlstore's prefix gives way to ours.
func parseDB(s string) (Spec, error) {
	t, err := sqlstore.ParseURL(s)
	if err == nil {
		_, err = sqlstore.Schema(t.Dialect, t.Table) // checks the table name
	}
	if err != nil {
		msg := strings.TrimPrefix(redact.Error(err, s).Error(), sqlstore.ErrBadURL.Error()+" ")
		msg = strings.TrimPrefix(msg, "sqlstore: ")
		if !strings.HasPrefix(msg, `"`) {
			msg = fmt.Sprintf("%q: %s", redact.URL(s), msg)
		}
		return Spec{}, fmt.Errorf("%w %s", ErrBadURL, msg)
	}
	return Spec{Engine: EngineDB, URL: s, Path: t.Path}, nil
}

// target parses the database URL of a db Spec, its default filled in.
func (s Spec) target() (sqlstore.Target, error) {
	return sqlstore.ParseURL(s.Resolve().URL)
}

// dialectName is how Where names a database engine.
var dialectName = map[sqlstore.Dialect]string{
	sqlstore.SQLite:     "SQLite",
	sqlstore.PostgreSQL: "PostgreSQL",
	sqlstore.MySQL:      "MySQL",
}

// openDB opens the SQL store s names. MustExist opens an SQLite file only
// if it is there, and never creates the table (sqlstore.Options.NoCreate):
// the store must already have one.
func openDB(s Spec, o *OpenOptions) (*Opened, error) { return openSQL(s, o, nil) }

// sqlTable is what openSQL needs of an sqlstore Store or DjangoStore.
type sqlTable interface {
	session.Store
	Table() string
}

// openSQL opens the table s names: the engine's own (sqlstore.Open), or,
// with Django settings, Django's (sqlstore.OpenDjango).
func openSQL(s Spec, o *OpenOptions, django *djangosession.Settings) (*Opened, error) {
	isDefault := s.Path == "" && s.URL == "" && os.Getenv(EnvFilePath) == ""
	s = s.Resolve()
	t, err := s.target()
	if err != nil {
		return nil, redact.Error(err, s.URL)
	}
	if t.Dialect == sqlstore.SQLite {
		if o.MustExist {
			if err := checkFile(s.Path, "an SQLite database"); err != nil {
				return nil, err
			}
		} else if isDefault {
			// The default directory sits in the shared temp dir: make it
			// as boltstore makes its own, refusing one another user made.
			err := location.MakeDefaultDir(filepath.Dir(s.Path))
			if err := location.Judge(err, false, o.Logger, "sqlstore"); err != nil {
				return nil, err
			}
		}
	}
	so := &sqlstore.Options{NoCreate: o.MustExist, NoSync: o.NoSync, Logger: o.Logger}
	var st sqlTable
	whose := ""
	if django != nil {
		st, err = sqlstore.OpenDjango(s.URL, so)
		whose = "Django's "
	} else {
		st, err = sqlstore.Open(s.URL, so)
	}
	if err != nil {
		return nil, redact.Error(err, s.URL)
	}
	where := redact.URL(s.URL)
	if t.Dialect == sqlstore.SQLite {
		where = s.Path
	}
	return &Opened{
		Store:  st,
		Where:  fmt.Sprintf("%stable %s of the %s database %s", whose, st.Table(), dialectName[t.Dialect], where),
		Django: django,
	}, nil
}

// SQLTarget returns the parsed database URL of the SQL store s names
// (engine db or Django's db, its default filled in), whose Dialect and
// Table give the store's schema (sqlstore.Schema, or sqlstore.DjangoSchema
// when IsDjango). It does not connect to the database. Other stores fail.
func (s Spec) SQLTarget() (sqlstore.Target, error) {
	if !s.isSQL() {
		return sqlstore.Target{}, fmt.Errorf("%s is not an SQL store", s)
	}
	t, err := s.target()
	if err != nil {
		return t, redact.Error(err, s.URL)
	}
	return t, nil
}

// dbString is String for a db Spec: the SQLite file's absolute path, or
// the server's URL with its passwords hidden.
func (s Spec) dbString() string {
	s = s.Resolve()
	if s.Path == "" {
		return redact.URL(s.URL)
	}
	out := SchemeSQLite + ":" + s.Path
	if _, query, ok := strings.Cut(s.URL, "?"); ok {
		out += "?" + redact.Query(query)
	}
	return out
}

// sameDB is SameStore for two db Specs: the same table in the same SQLite
// file, or on the same server and database.
func (s Spec) sameDB(o Spec) bool {
	a, errA := s.target()
	b, errB := o.target()
	if errA != nil || errB != nil || a.Dialect != b.Dialect || s.tableOf(a) != o.tableOf(b) {
		return false
	}
	if a.Dialect == sqlstore.SQLite {
		return samePath(s.Resolve().Path, o.Resolve().Path)
	}
	return serverOf(s.URL) == serverOf(o.URL)
}

// tableOf returns the table the store of s, whose Target is t, uses.
func (s Spec) tableOf(t sqlstore.Target) string {
	switch {
	case t.Table != "":
		return t.Table
	case s.Engine == EngineDjangoDB:
		return sqlstore.DjangoTable
	}
	return sqlstore.DefaultTable
}

// serverOf returns the host, port and database a PostgreSQL or MySQL URL
// names, its default port filled in, whoever logs in and however.
func serverOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" {
		host = u.Query().Get("host") // PostgreSQL: a Unix socket's directory
	}
	if port == "" {
		port = "5432"
		if strings.EqualFold(u.Scheme, SchemeMySQL) {
			port = "3306"
		}
	}
	return net.JoinHostPort(host, port) + u.Path
}
