package memstore_test

import (
	"context"
	"fmt"
	"log"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/memstore"
)

// Sessions in process memory, for tests and for servers that can lose them
// on restart (Django's cache backend without persistence).
func Example() {
	store := memstore.New()
	defer store.Close()
	engine, err := session.New(store, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()

	ctx := context.Background()
	s, _ := engine.Load(ctx, "")
	s.Set("visits", 1)
	if err := engine.Save(ctx, s); err != nil {
		log.Fatal(err)
	}
	n, _ := store.Count(ctx)
	fmt.Println(n)

	again, _ := engine.Load(ctx, s.ID())
	visits, _ := again.GetInt("visits")
	fmt.Println(visits)
	// Output:
	// 1
	// 1
}
