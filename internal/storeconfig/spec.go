package storeconfig

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/internal/location"
	"github.com/sessionkv/session/internal/redact"
)

// Errors returned while naming a store. They carry no package prefix: the
// commands print them to operators as they are.
var (
	// ErrBadURL reports a store URL that cannot be parsed.
	ErrBadURL = errors.New("bad store URL")
	// ErrUnknownScheme reports a store URL whose scheme names no store.
	ErrUnknownScheme = errors.New("unknown store scheme")
	// ErrNotExist is returned by OpenSpec with MustExist for a store that
	// has no data on disk yet.
	ErrNotExist = errors.New("store does not exist")
)

// Store URL schemes. A bolt or file URL is the scheme, a colon and a local
// path ("bolt:/var/lib/app/sessions.db", "file:sessions", or the
// "file:///var/lib/app/sessions" form). The path is required: a URL names
// one store, and an operator who means the engine's default location leaves
// the URL out (SESSION_ENGINE and SESSION_FILE_PATH pick it). Redis URLs are those of
// go-redis's ParseURL ("redis://127.0.0.1:6379/0", "rediss://..." for TLS),
// plus an optional "prefix" parameter for redisstore.Options.Prefix
// ("redis://127.0.0.1:6379/0?prefix=myapp:"). SQL database URLs are
// sqlstore's ("sqlite:/var/lib/app/db.sqlite3",
// "postgres://app:PASSWORD@db:5432/app", "mysql://app:PASSWORD@db:3306/app"),
// with an optional "table" parameter; they name stores of engine EngineDB.
// The stores in Django's layout have schemes of their own: see
// SchemeDjangoDB and SchemeDjangoFile.
const (
	SchemeBolt       = "bolt"
	SchemeFile       = "file"
	SchemeMemory     = "memory"
	SchemeRedis      = "redis"
	SchemeRedisS     = "rediss"
	SchemeSQLite     = "sqlite"
	SchemePostgres   = "postgres"
	SchemePostgreSQL = "postgresql"
	SchemeMySQL      = "mysql"
)

// Schemes returns the URL schemes ParseURL accepts, sorted.
func Schemes() []string {
	return []string{SchemeBolt, SchemeDjangoDB, SchemeDjangoFile, SchemeFile, SchemeMemory, SchemeMySQL,
		SchemePostgres, SchemePostgreSQL, SchemeRedis, SchemeRedisS, SchemeSQLite}
}

// Spec names a store without opening it. The zero Spec is not valid; build
// one with ParseURL, SpecFor or EnvSpec.
type Spec struct {
	// Engine is "bolt", "file", "memory", "redis", "db" (EngineDB), or
	// one of the engines only SESSION_ENGINE names: "cookie", "cached",
	// or Django's (EngineDjangoDB, EngineDjangoFile,
	// EngineDjangoSignedCookies).
	Engine string
	// Path is the bolt database file, the file store's (or Django file
	// backend's) directory or the SQLite database file; "" means the
	// engine's default (see Resolve), and is always "" for a database
	// server.
	Path string
	// URL is the redis or SQL database URL as given, passwords included
	// (String hides them); "" for an SQLite file that Path alone names
	// (Resolve fills it in).
	URL string
}

// ParseURL parses a store URL such as "bolt:/var/lib/app/sessions.db",
// "file:/var/lib/app/sessions", "redis://127.0.0.1:6379/0",
// "sqlite:/var/lib/app/db.sqlite3", "postgres://app@db/app", "memory:",
// or, for Django's stores, "django-db:sqlite:/var/lib/app/db.sqlite3" and
// "django-file:/var/lib/app/sessions", without opening the store. Errors
// wrap ErrBadURL or ErrUnknownScheme, fit on one line and hide passwords.
func ParseURL(raw string) (Spec, error) {
	s := strings.TrimSpace(raw)
	i := strings.IndexByte(s, ':')
	if i <= 0 {
		return Spec{}, fmt.Errorf("%w %q: want SCHEME:PATH, or SCHEME://HOST for a server (schemes: %s)",
			ErrBadURL, redact.URL(raw), strings.Join(Schemes(), ", "))
	}
	scheme, rest := strings.ToLower(s[:i]), s[i+1:]
	switch scheme {
	case SchemeBolt, SchemeFile, SchemeDjangoFile:
		path, err := localPath(raw, rest)
		if err != nil {
			return Spec{}, err
		}
		if path == "" {
			return Spec{}, fmt.Errorf("%w %q: %s: needs a path, as in %s; leave the store out to use the default location",
				ErrBadURL, raw, scheme, examplePath[scheme])
		}
		if scheme == SchemeDjangoFile {
			return Spec{Engine: EngineDjangoFile, Path: path}, nil
		}
		return Spec{Engine: scheme, Path: path}, nil
	case SchemeDjangoDB:
		return parseDjangoDB(raw, rest)
	case SchemeMemory:
		if rest != "" && rest != "//" {
			return Spec{}, fmt.Errorf("%w %q: memory takes no path", ErrBadURL, raw)
		}
		return Spec{Engine: SchemeMemory}, nil
	case SchemeRedis, SchemeRedisS:
		if u, err := url.Parse(s); err != nil || u.Host == "" {
			return Spec{}, fmt.Errorf("%w %q: want %s://[USER:PASSWORD@]HOST[:PORT][/DB][?prefix=KEYPREFIX]", ErrBadURL, redact.URL(raw), scheme)
		}
		if _, _, err := redisOptions(s); err != nil {
			return Spec{}, fmt.Errorf("%w %q: %v", ErrBadURL, redact.URL(raw), err)
		}
		return Spec{Engine: SchemeRedis, URL: s}, nil
	case SchemeSQLite, SchemePostgres, SchemePostgreSQL, SchemeMySQL:
		return parseDB(s)
	}
	return Spec{}, fmt.Errorf("%w %q in %q (known: %s)", ErrUnknownScheme, s[:i], redact.URL(raw), strings.Join(Schemes(), ", "))
}

// examplePath shows a bolt:, file: or django-file: URL with its path.
var examplePath = map[string]string{
	SchemeBolt:       "bolt:/var/lib/app/sessions.db",
	SchemeFile:       "file:/var/lib/app/sessions",
	SchemeDjangoFile: "django-file:/var/lib/app/sessions",
}

// localPath returns the path of a bolt:, file: or django-file: URL from
// what follows the colon: a path as it is, or "//" then an empty or
// "localhost" host and a percent-encoded absolute path.
func localPath(raw, rest string) (string, error) {
	if !strings.HasPrefix(rest, "//") {
		return cleanPath(rest), nil
	}
	u, err := url.Parse("x:" + rest)
	if err != nil {
		return "", fmt.Errorf("%w %q: %v", ErrBadURL, raw, errors.Unwrap(err))
	}
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("%w %q: host %q: bolt and file stores are local paths", ErrBadURL, raw, u.Host)
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w %q: no query or fragment allowed", ErrBadURL, raw)
	}
	return cleanPath(u.Path), nil
}

func cleanPath(p string) string {
	if p == "" {
		return ""
	}
	return filepath.Clean(p)
}

// SpecFor names the store that SESSION_ENGINE=engine and
// SESSION_FILE_PATH=filePath select: engine "" means DefaultEngine, and
// filePath "" the engine's default location. Engine redis takes its URL
// from REDIS_URL; engines db and EngineDjangoDB from DATABASE_URL, else
// they are the SQLite file db.sqlite3 in filePath.
func SpecFor(engine, filePath string) (Spec, error) {
	name := strings.ToLower(strings.TrimSpace(engine))
	if name == "" {
		name = DefaultEngine
	}
	if _, ok := engines[name]; !ok {
		return Spec{}, fmt.Errorf("unknown %s %q (known: %s)", EnvEngine, engine, strings.Join(Engines(), ", "))
	}
	s := Spec{Engine: name}
	switch {
	case name == SchemeRedis:
		s = redisSpec()
	case name == EngineDB || name == EngineDjangoDB:
		s, err := dbSpec(filePath)
		if err == nil {
			s.Engine = name
		}
		return s, err
	case filePath == "":
	case name == SchemeBolt || name == EngineCached:
		s.Path = filepath.Join(filePath, boltstore.DefaultFileName)
	case name == SchemeFile || name == EngineDjangoFile:
		s.Path = filePath
	}
	return s, nil
}

// EnvSpec is SpecFor of the SESSION_ENGINE and SESSION_FILE_PATH
// environment variables: the store the demo server uses.
func EnvSpec() (Spec, error) {
	return SpecFor(os.Getenv(EnvEngine), os.Getenv(EnvFilePath))
}

// Resolve returns s with an absolute Path, the engine's default location
// filled in where Path is empty. It does not touch the file system beyond
// reading the working directory.
func (s Spec) Resolve() Spec {
	switch s.Engine {
	case SchemeBolt, EngineCached:
		if s.Path == "" {
			s.Path = boltstore.DefaultPath()
		}
	case SchemeFile, EngineDjangoFile:
		if s.Path == "" {
			s.Path = defaultFileDir()
		}
	case EngineDB, EngineDjangoDB:
		if s.URL != "" && s.Path == "" {
			return s // a database server
		}
		if s.Path == "" {
			s.Path = defaultDBPath()
		}
		if s.URL == "" {
			s.URL = sqliteURL(s.Path)
		}
	default:
		return s
	}
	if abs, err := filepath.Abs(s.Path); err == nil {
		s.Path = abs
	}
	return s
}

// defaultFileDir is where filestore.New keeps sessions when given no
// directory: SESSION_FILE_PATH, else the current user's folder in the temp
// dir.
func defaultFileDir() string {
	if dir := os.Getenv(EnvFilePath); dir != "" {
		return dir
	}
	return location.DefaultDir()
}

// String returns the store's URL, its path resolved and any password
// hidden: "bolt:/var/lib/app/sessions.db", "file:/tmp/sessionkv",
// "memory:", "redis://127.0.0.1:6379/0", "sqlite:/var/lib/app/db.sqlite3",
// "postgres://app:xxxxx@db/app", "django-db:sqlite:/var/lib/app/db.sqlite3",
// "django-file:/var/lib/app/sessions"; for Django's signed_cookies, which
// has no store URL, the engine's name.
func (s Spec) String() string {
	if s.IsDjango() {
		return s.djangoString()
	}
	switch s.Engine {
	case SchemeRedis:
		return redact.URL(s.URL)
	case SchemeMemory:
		return SchemeMemory + ":"
	case EngineDB:
		return s.dbString()
	}
	return s.Engine + ":" + s.Resolve().Path
}

// SameStore reports whether s and o name the same store, so that a copy
// from one to the other would read and write the same records. Two memory
// stores are never the same: each OpenSpec makes a new one.
func (s Spec) SameStore(o Spec) bool {
	if s.Engine != o.Engine || s.Engine == SchemeMemory {
		return false
	}
	switch s.Engine {
	case SchemeRedis:
		return s.URL == o.URL
	case EngineDB, EngineDjangoDB:
		return s.sameDB(o)
	case EngineDjangoSignedCookies, EngineCookie:
		return false // no store: sessions live in the cookies
	}
	return samePath(s.Resolve().Path, o.Resolve().Path)
}

// samePath reports whether the absolute paths a and b are one file or
// directory.
func samePath(a, b string) bool {
	if a == b {
		return true
	}
	fa, errA := os.Stat(a)
	fb, errB := os.Stat(b)
	return errA == nil && errB == nil && os.SameFile(fa, fb)
}
