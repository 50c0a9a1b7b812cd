package boltstore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"go.etcd.io/bbolt"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
)

// A bbolt file behind an engine, sessionkv's embedded default. With an
// empty path, Open uses sessions.db in $SESSION_FILE_PATH, or in the
// current user's private directory of the temp dir.
func Example() {
	dir, err := os.MkdirTemp("", "sessions") // private: mode 0700
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := boltstore.Open(filepath.Join(dir, "sessions.db"), nil) // nil: durable commits
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
	mine, _ := engine.UserSessions(ctx, "alice")
	fmt.Println(len(mine))
	// Output:
	// [book pen]
	// 1
}

// A Store in buckets of a database the application already has open: it
// keeps its own data beside the sessions, and closes the database itself.
func ExampleNew() {
	dir, err := os.MkdirTemp("", "app")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	db, err := bbolt.Open(filepath.Join(dir, "app.db"), 0o600, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	store, err := boltstore.New(db, &boltstore.Options{Bucket: "web-sessions"})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close() // before db.Close: deferred calls run last-in first-out

	engine, err := session.New(store, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()
	ctx := context.Background()
	s, _ := engine.Load(ctx, "")
	s.Set("theme", "dark")
	fmt.Println(engine.Save(ctx, s))

	// The application's own buckets and the sessions' share the file.
	err = db.View(func(tx *bbolt.Tx) error {
		fmt.Println(tx.Bucket([]byte("web-sessions")).Stats().KeyN)
		return nil
	})
	if err != nil {
		log.Fatal(err)
	}
	// Output:
	// <nil>
	// 1
}
