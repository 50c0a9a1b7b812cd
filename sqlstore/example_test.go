package sqlstore_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/sqlstore"
)

// Sessions in an SQLite file, Django's default setup (db.sqlite3). The same
// code takes a "postgres://" or "mysql://" URL for a database server.
func Example() {
	dir, err := os.MkdirTemp("", "app") // private: mode 0700
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := sqlstore.Open("sqlite:"+filepath.Join(dir, "db.sqlite3"), nil) // nil: durable commits
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // the engine never closes its store

	engine, err := session.New(store, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()

	ctx := context.Background()
	s, _ := engine.Load(ctx, "")
	s.Set("cart", []any{"book", "pen"})
	s.SetUserID("alice")
	if err := engine.Save(ctx, s); err != nil {
		log.Fatal(err)
	}

	again, _ := engine.Load(ctx, s.ID())
	cart, _ := again.Get("cart")
	fmt.Println(cart)
	n, _ := engine.DeleteUser(ctx, "alice") // log out everywhere
	fmt.Println(n)
	// Output:
	// [book pen]
	// 1
}

// A Store in a database the application already has open, in a table of
// its own name: the application keeps its pool, and closes it itself.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "app")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "app.db")+"?_txlock=immediate&_busy_timeout=5000&_journal_mode=WAL")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	store, err := sqlstore.New(db, sqlstore.SQLite, &sqlstore.Options{Table: "web_sessions"})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // before db.Close: the Store leaves db open

	fmt.Println(store)
	// Output:
	// sqlstore(sqlite, table web_sessions)
}

// The statements that create the store's table, for a migration tool.
func ExampleSchema() {
	ddl, err := sqlstore.Schema(sqlstore.PostgreSQL, "sessions")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(ddl)
	// Output:
	// CREATE TABLE IF NOT EXISTS sessions (
	//   session_key VARCHAR(255) NOT NULL PRIMARY KEY,
	//   data BYTEA NOT NULL,
	//   expires_ms BIGINT NOT NULL,
	//   user_id BYTEA NOT NULL DEFAULT '',
	//   token BIGINT NOT NULL,
	//   sweep_ms BIGINT NOT NULL
	// );
	// CREATE INDEX IF NOT EXISTS sessions_sweep ON sessions (sweep_ms);
	// CREATE INDEX IF NOT EXISTS sessions_user ON sessions (user_id) WHERE user_id <> '';
}

// The statements that bring a table of the earlier shape, indexed on
// expires_ms and without sweep_ms, to Schema's.
func ExampleUpgrade() {
	ddl, err := sqlstore.Upgrade(sqlstore.PostgreSQL, "sessions")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(ddl)
	// Output:
	// ALTER TABLE sessions ADD COLUMN sweep_ms BIGINT NOT NULL DEFAULT 0;
	// UPDATE sessions SET sweep_ms = expires_ms - expires_ms % 60000;
	// CREATE INDEX sessions_sweep ON sessions (sweep_ms);
	// DROP INDEX sessions_expires;
}
