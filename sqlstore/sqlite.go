package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/sessionkv/session/internal/location"
)

// sqliteCompanions are the files SQLite keeps beside a database.
var sqliteCompanions = []string{"-wal", "-shm", "-journal"}

// openSQLite checks the database file's location, creates the file if
// needed (0600, so that SQLite's companion files get that mode too) and
// opens a pool on it with the store's pragmas.
func openSQLite(t Target, o Options) (*sql.DB, error) {
	path, err := filepath.Abs(t.Path)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	if err := checkSQLiteLocation(path, o); err != nil {
		return nil, err
	}
	// SQLite follows symbolic links to the database and keeps its
	// companion files beside the file they lead to: that file, in its
	// directory, is the one to check, create and open.
	real, err := resolveLinks(path)
	if err != nil {
		return nil, err
	}
	if real != path {
		if err := checkSQLiteLocation(real, o); err != nil {
			return nil, err
		}
		path = real
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	switch {
	case err == nil:
		f.Close()
	case !errors.Is(err, fs.ErrExist):
		return nil, err
	}
	params, err := url.ParseQuery(t.dsn)
	if err != nil {
		return nil, err
	}
	setDefault := func(key, alias, value string) {
		if !params.Has(key) && (alias == "" || !params.Has(alias)) {
			params.Set(key, value)
		}
	}
	setDefault("_busy_timeout", "_timeout", strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10))
	setDefault("_journal_mode", "_journal", "WAL")
	sync := "FULL"
	if o.NoSync {
		sync = "NORMAL"
	}
	setDefault("_synchronous", "_sync", sync)
	// Writes take the write lock when they begin, so that two processes'
	// transactions never both read and then both wait to write.
	params.Set("_txlock", "immediate")
	u := url.URL{Scheme: "file", Path: path, RawQuery: params.Encode()}
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	// WAL readers run side by side; writes take one connection at a time.
	n := runtime.GOMAXPROCS(0) + 2
	db.SetMaxOpenConns(n)
	db.SetMaxIdleConns(n)
	return db, nil
}

// resolveLinks returns path with its symbolic links resolved. A missing
// file is fine (the store creates it), a link to one is not: SQLite would
// create it wherever the link points, with the umask's mode.
func resolveLinks(path string) (string, error) {
	real, err := filepath.EvalSymlinks(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return real, err
	}
	dir, err := filepath.EvalSymlinks(filepath.Dir(path))
	if err != nil {
		return "", err
	}
	real = filepath.Join(dir, filepath.Base(path))
	if fi, err := os.Lstat(real); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return "", fmt.Errorf("database %s: a symbolic link to a file that does not exist", path)
	}
	return real, nil
}

// checkSQLiteLocation applies the location rule to the database's
// directory, which must be private like a file store's (SQLite creates
// companion files there), and to the database and companion files that
// exist.
func checkSQLiteLocation(path string, o Options) error {
	judge := func(err error) error {
		return location.Judge(err, o.AllowSharedLocation, o.Logger, "sqlstore")
	}
	if err := judge(location.Check(filepath.Dir(path), location.Dir)); err != nil {
		return fmt.Errorf("database %s: %w", path, err)
	}
	for _, p := range append([]string{""}, sqliteCompanions...) {
		if err := judge(location.Check(path+p, location.File)); err != nil {
			return fmt.Errorf("database %s: %w", path, err)
		}
	}
	return nil
}
