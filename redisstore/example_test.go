package redisstore_test

import (
	"fmt"
	"log"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/redisstore"
)

// ExampleNew keeps the sessions of a web app in a standalone Redis.
func ExampleNew() {
	client := redis.NewClient(&redis.Options{
		Addr: "localhost:6379",
		// Let go-redis apply request deadlines to its network I/O.
		ContextTimeoutEnabled: true,
	})
	defer client.Close() // the store does not close the client

	store, err := redisstore.New(client, &redisstore.Options{Prefix: "myapp:sessions:"})
	if err != nil {
		log.Fatal(err)
	}
	engine, err := session.New(store, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		n, _ := s.GetInt("visits")
		s.Set("visits", n+1)
		fmt.Fprintf(w, "visit %d\n", n+1)
	})
	log.Fatal(http.ListenAndServe("localhost:8080", engine.Middleware(mux)))
}

// ExampleNew_cluster uses a Redis Cluster: records spread over all
// primaries, and the store maintains the per-user index across slots.
func ExampleNew_cluster() {
	client := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:                 []string{"10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"},
		ContextTimeoutEnabled: true,
	})
	defer client.Close()

	store, err := redisstore.New(client, nil) // keys start with "sessionkv:"
	if err != nil {
		log.Fatal(err)
	}
	engine, err := session.New(store, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer engine.Close()
	_ = engine // use engine.Middleware as in the previous example
}
