package sqlstore_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/sqlstore"
	"github.com/sessionkv/session/storetest"
)

// openSQLite opens a store on a fresh SQLite file, closed by t.Cleanup.
func openSQLite(t testing.TB, opts *sqlstore.Options) (*sqlstore.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	s, err := sqlstore.Open("sqlite:"+path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

func TestConformance_SQLite(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store {
		s, _ := openSQLite(t, nil)
		return s
	})
}

// mustSave saves rec under key or fails t.
func mustSave(t testing.TB, s session.Store, key string, rec session.Record) {
	t.Helper()
	if err := s.Save(context.Background(), key, rec); err != nil {
		t.Fatalf("Save: %v", err)
	}
}
