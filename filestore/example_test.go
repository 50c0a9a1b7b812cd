package filestore_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/filestore"
)

// A file store behind an engine. With an empty directory, New uses
// $SESSION_FILE_PATH, or the current user's "sessionkv-UID" directory in
// the temp dir.
func Example() {
	dir, err := os.MkdirTemp("", "sessions")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := filestore.New(dir, nil) // nil: durable writes, default logger
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
	s.Set("name", "Sonam")
	if err := engine.Save(ctx, s); err != nil {
		log.Fatal(err)
	}

	// Another process opening the same directory sees the session.
	other, _ := filestore.New(dir, nil)
	defer other.Close()
	rec, err := other.Load(ctx, session.StoreKey(s.ID()))
	fmt.Println(err == nil, len(rec.Data) > 0)

	again, _ := engine.Load(ctx, s.ID())
	name, _ := again.GetString("name")
	fmt.Println(name)
	// Output:
	// true true
	// Sonam
}
