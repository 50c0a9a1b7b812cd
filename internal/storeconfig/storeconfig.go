// Package storeconfig opens the session store that a store URL, or the
// SESSION_ENGINE and SESSION_FILE_PATH environment variables (with
// REDIS_URL or DATABASE_URL for the engines that need them), name, so that
// the demo server and the operator tools agree on where sessions live.
// SESSION_ENGINE also takes Django's own engine names, for stores in
// Django's layout and format that a Django application shares (see
// EngineDjangoDB), with Django's SECRET_KEY and SECRET_KEY_FALLBACKS;
// SESSION_COOKIE_AGE sets how long sessions live, for every engine
// (Opened.Options).
//
// Open and FromEnv serve the demo: they create a store that does not exist
// yet. OpenSpec, given MustExist, refuses to: read-only tools never leave an
// empty database or directory behind a mistyped path.
//
// The functions of this package are safe for concurrent use; what an opened
// store can lose in a crash is documented by that store's package.
package storeconfig

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/djangosession"
	"github.com/sessionkv/session/filestore"
	"github.com/sessionkv/session/memstore"
)

// Environment variable names, as in Django's settings.
const (
	EnvEngine   = "SESSION_ENGINE"
	EnvFilePath = "SESSION_FILE_PATH"
)

// DefaultEngine is the engine used when SESSION_ENGINE is unset: the
// embedded bbolt database.
const DefaultEngine = "bolt"

// Opened is an open store and what to tell the operator about it.
type Opened struct {
	// Store is the open store; Close closes it.
	Store session.Store
	// Where says in words where sessions are kept.
	Where string
	// Spec names the opened store, its path resolved; Spec.Engine is the
	// engine name that was opened.
	Spec Spec
	// Django holds the Django settings (SECRET_KEY, SECRET_KEY_FALLBACKS,
	// SESSION_COOKIE_AGE) of a store in Django's layout, nil for the
	// others. Options applies them to an engine.
	Django *djangosession.Settings

	close     func() error  // closes what was opened for the store, if set
	cookieAge time.Duration // SESSION_COOKIE_AGE; 0 when unset
}

// Close closes the store if it has a Close method, and the connection the
// store was opened with, if any.
func (o *Opened) Close() error {
	if o.close != nil {
		return o.close()
	}
	if c, ok := o.Store.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// OpenOptions configures OpenSpec. A nil *OpenOptions means the defaults
// below.
type OpenOptions struct {
	// MustExist makes OpenSpec fail with ErrNotExist instead of creating a
	// bolt database file, a file store directory or an SQLite database
	// file that is not there, and makes an SQL store fail instead of
	// creating its table (sqlstore.Options.NoCreate). Default false:
	// create them, as the server does.
	MustExist bool
	// LockTimeout is how long to wait for another process to release a bolt
	// database before failing with boltstore.ErrLocked. Default one second.
	LockTimeout time.Duration
	// Logger receives the stores' warnings (corrupt records). Default
	// slog.Default().
	Logger *slog.Logger
	// NoSync opens a file store without its fsync per write
	// (filestore.Options.NoSync), or an SQL store without waiting for the
	// disk on each commit (sqlstore.Options.NoSync, SQLite only), for bulk
	// loads that sync the file system once at the end and can be run again
	// after a crash. Default false.
	NoSync bool
}

type opener func(s Spec, o *OpenOptions) (*Opened, error)

// engines are the stores SESSION_ENGINE can name. redis takes its server
// from REDIS_URL, db and Django's db their database from DATABASE_URL;
// cookie and Django's signed_cookies have no store URL (tools have
// nothing to open). Django's engines need SECRET_KEY.
var engines = map[string]opener{
	SchemeMemory:              openMemory,
	SchemeBolt:                openBolt,
	SchemeFile:                openFile,
	SchemeRedis:               openRedis,
	EngineDB:                  openDB,
	EngineCookie:              openCookie,
	EngineCached:              openCached,
	EngineDjangoDB:            openDjangoDB,
	EngineDjangoFile:          openDjangoFile,
	EngineDjangoSignedCookies: openDjangoSignedCookies,
}

func openMemory(Spec, *OpenOptions) (*Opened, error) {
	return &Opened{Store: memstore.New(), Where: "in process memory (lost on exit)"}, nil
}

// openBolt opens the database file s.Path, by default sessions.db in
// SESSION_FILE_PATH, else in a private sessionkv folder in the temp dir.
func openBolt(s Spec, o *OpenOptions) (*Opened, error) {
	path := s.Resolve().Path
	if o.MustExist {
		if err := checkFile(path, "a bolt database"); err != nil {
			return nil, err
		}
	}
	// An empty path goes through as it is, so that boltstore makes and
	// checks its default directory as the default.
	st, err := boltstore.Open(s.Path, &boltstore.Options{Timeout: o.LockTimeout, Logger: o.Logger})
	if errors.Is(err, boltstore.ErrLocked) {
		return nil, fmt.Errorf("%w (waited %v; is a server using it?)", boltstore.ErrLocked, o.LockTimeout)
	}
	if err != nil {
		return nil, err
	}
	return &Opened{Store: st, Where: "bbolt database " + path}, nil
}

// ExistingBoltFile returns the absolute path of the bolt database file s
// names (engine bolt, or cached: the file behind the cache) when that file
// exists and is not empty. Otherwise it fails with ErrNotExist, or with an
// error that says why the path is not a bolt database.
func (s Spec) ExistingBoltFile() (string, error) {
	if s.Engine != SchemeBolt && s.Engine != EngineCached {
		return "", fmt.Errorf("%s is not a bolt store", s)
	}
	path := s.Resolve().Path
	return path, checkFile(path, "a bolt database")
}

// checkFile fails unless path is a non-empty regular file; what says what
// it should hold ("a bolt database"). It fails with ErrNotExist when there
// is no file. An empty file fails too: bbolt and SQLite would each make it
// a new database.
func checkFile(path, what string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return ErrNotExist
	case err != nil:
		return err
	case !fi.Mode().IsRegular():
		return fmt.Errorf("%s is not a regular file", path)
	case fi.Size() == 0:
		return fmt.Errorf("%s is empty, not %s", path, what)
	}
	return nil
}

// openFile opens the file store in s.Path, by default SESSION_FILE_PATH,
// else a private sessionkv folder in the temp dir.
func openFile(s Spec, o *OpenOptions) (*Opened, error) {
	if o.MustExist {
		if err := checkDir(s.Resolve().Path); err != nil {
			return nil, err
		}
	}
	// An empty path goes through as it is, so that filestore applies its
	// ownership checks to the shared default directory.
	st, err := filestore.New(s.Path, &filestore.Options{Logger: o.Logger, NoSync: o.NoSync})
	if err != nil {
		return nil, err
	}
	return &Opened{Store: st, Where: "one file per session under " + st.Dir()}, nil
}

// Engines returns the engine names Open accepts, sorted.
func Engines() []string {
	names := make([]string, 0, len(engines))
	for n := range engines {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// FromEnv opens the store named by SESSION_ENGINE (default DefaultEngine)
// with SESSION_FILE_PATH.
func FromEnv() (*Opened, error) {
	return Open(os.Getenv(EnvEngine), os.Getenv(EnvFilePath))
}

// Open opens the named engine ("" means DefaultEngine). filePath is the
// directory for file-backed engines ("" means the engine's default). A
// store that does not exist is created.
func Open(engine, filePath string) (*Opened, error) {
	s, err := SpecFor(engine, filePath)
	if err != nil {
		return nil, err
	}
	o, err := open(s, nil)
	if err != nil {
		if s.String() == s.Engine { // no URL of its own to add
			return nil, fmt.Errorf("%s=%s: %w", EnvEngine, s.Engine, err)
		}
		return nil, fmt.Errorf("%s=%s (%s): %w", EnvEngine, s.Engine, s, err)
	}
	return o, nil
}

// OpenSpec opens the store s names. Errors name the store by its URL and
// fit on one line; they wrap ErrNotExist or boltstore.ErrLocked where those
// apply.
func OpenSpec(s Spec, opts *OpenOptions) (*Opened, error) {
	o, err := open(s, opts)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s, err)
	}
	return o, nil
}

func open(s Spec, opts *OpenOptions) (*Opened, error) {
	var o OpenOptions
	if opts != nil {
		o = *opts
	}
	if o.LockTimeout <= 0 {
		o.LockTimeout = time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	fn, ok := engines[s.Engine]
	if !ok {
		return nil, fmt.Errorf("%w %q (known: %s)", ErrUnknownScheme, s.Engine, strings.Join(Schemes(), ", "))
	}
	age, err := CookieAge()
	if err != nil {
		return nil, err
	}
	opened, err := fn(s, &o)
	if err != nil {
		return nil, err
	}
	opened.Spec = s.Resolve()
	opened.cookieAge = age
	switch st := opened.Store.(type) {
	case *filestore.Store:
		opened.Spec.Path = st.Dir()
	case *djangosession.FileStore:
		opened.Spec.Path = st.Dir()
	}
	return opened, nil
}
