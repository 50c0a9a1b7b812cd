package storeconfig

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/sqlstore"
)

func TestOpen_DBEngineIsSQLiteInSessionFilePath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv(EnvEngine, "db")
	t.Setenv(EnvFilePath, dir)
	t.Setenv(EnvDatabaseURL, "")
	o, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "db.sqlite3")
	st, ok := o.Store.(*sqlstore.Store)
	if !ok || st.Dialect() != sqlstore.SQLite || st.Table() != "sessions" || o.Spec.Engine != "db" ||
		o.Spec.String() != "sqlite:"+path || o.Where != "table sessions of the SQLite database "+path {
		t.Errorf("SESSION_ENGINE=db: %T %+v (%s)", o.Store, o, o.Spec)
	}
	ctx := context.Background()
	rec := session.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour), UserID: "u"}
	if err := o.Store.Save(ctx, session.StoreKey("a"), rec); err != nil {
		t.Fatal(err)
	}
	o.Close()
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("db.sqlite3 in SESSION_FILE_PATH: %v, %v", fi, err)
	}

	// DATABASE_URL names another file and table; SESSION_FILE_PATH is not
	// used.
	other := filepath.Join(t.TempDir(), "app.sqlite3")
	t.Setenv(EnvDatabaseURL, "sqlite:"+other+"?table=app_sessions")
	o, err = FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if st := o.Store.(*sqlstore.Store); st.Table() != "app_sessions" || !strings.Contains(o.Where, other) {
		t.Errorf("DATABASE_URL: table %s, %q", st.Table(), o.Where)
	}
	if _, err := o.Store.Load(ctx, session.StoreKey("a")); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("DATABASE_URL's store sees SESSION_FILE_PATH's session: %v", err)
	}
}

func TestOpen_DBDefaultDirectoryIsPrivate(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv(EnvFilePath, "")
	t.Setenv(EnvDatabaseURL, "")
	o, err := Open("db", "")
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
	dir := filepath.Dir(o.Spec.Path)
	if filepath.Dir(dir) != tmp || o.Spec.Path != filepath.Join(dir, "db.sqlite3") {
		t.Errorf("default SQLite file %s, want one in a directory of %s", o.Spec.Path, tmp)
	}
	if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("default directory %s: %v, %v", dir, fi, err)
	}
	// A default directory that someone else made first, as a link, is
	// refused.
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(t.TempDir(), dir); err != nil {
		t.Fatal(err)
	}
	if _, err := Open("db", ""); !errors.Is(err, session.ErrUnsafeLocation) {
		t.Errorf("default directory replaced by a link: %v", err)
	}
}

func TestOpenSpec_MustExistCreatesNoTable(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db.sqlite3")
	st, err := sqlstore.Open("sqlite:"+path, &sqlstore.Options{Table: "mine"})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	s, _ := ParseURL("sqlite:" + path) // table sessions: not there
	if _, err := OpenSpec(s, &OpenOptions{MustExist: true}); err == nil || !strings.Contains(err.Error(), "sessions") ||
		!strings.HasPrefix(err.Error(), "sqlite:"+path+": ") {
		t.Errorf("OpenSpec(MustExist) on a database without the table = %v", err)
	}
	if _, err := sqlstore.Open("sqlite:"+path, &sqlstore.Options{NoCreate: true}); err == nil {
		t.Error("OpenSpec(MustExist) created the table")
	}
	s, _ = ParseURL("sqlite:" + path + "?table=mine")
	o, err := OpenSpec(s, &OpenOptions{MustExist: true})
	if err != nil {
		t.Fatal(err)
	}
	o.Close()
}

// TestOpenSpec_UnreachableServerIsOneLineWithoutPassword: the drivers put
// each connection attempt on a line of its own, and URLs with passwords in
// them reach the messages.
func TestOpenSpec_UnreachableServerIsOneLineWithoutPassword(t *testing.T) {
	for _, url := range []string{
		"postgres://app:hunter2@127.0.0.1:1/app?connect_timeout=2&password=hunter2",
		"postgresql://app:hunter2@127.0.0.1:1/app?connect_timeout=2&sslmode=disable",
		"mysql://app:hunter2@127.0.0.1:1/app?timeout=2s",
	} {
		s, err := ParseURL(url)
		if err != nil {
			t.Fatal(err)
		}
		for _, mustExist := range []bool{false, true} {
			_, err := OpenSpec(s, &OpenOptions{MustExist: mustExist})
			if err == nil || strings.ContainsAny(err.Error(), "\r\n") || strings.Contains(err.Error(), "hunter2") ||
				!strings.Contains(err.Error(), "refused") || !strings.HasPrefix(err.Error(), s.String()+": ") {
				t.Errorf("OpenSpec(%s) = %q", s, err)
			}
		}
	}
}
