package cachestore_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/cachestore"
)

// A cache in front of a bolt database, Django's "cached_db": reads come
// from memory, writes go to the database first.
func Example() {
	dir, err := os.MkdirTemp("", "sessions")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := boltstore.Open(filepath.Join(dir, "sessions.db"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close() // the cache does not close the store it wraps

	// One process owns a bolt file, so every write goes through this cache:
	// cached records need no TTL. MaxEntries bounds the cache.
	store, err := cachestore.New(db, &cachestore.Options{MaxEntries: 100_000, TTL: -1})
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

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

	// Served from the cache, and the database holds the same record.
	again, _ := engine.Load(ctx, s.ID())
	name, _ := again.GetString("name")
	rec, err := db.Load(ctx, session.StoreKey(s.ID()))
	fmt.Println(name, err == nil && len(rec.Data) > 0)
	// Output:
	// Sonam true
}
