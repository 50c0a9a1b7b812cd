package cookiestore_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/cookiestore"
)

func Example() {
	// In production: 32+ random bytes from a secret store; to rotate, pass
	// the new secret first and the old one after it.
	secret := []byte("an example secret of at least 32 bytes!")
	store, err := cookiestore.New(secret)
	if err != nil {
		panic(err)
	}
	engine, err := session.New(store, nil)
	if err != nil {
		panic(err)
	}
	defer engine.Close()

	h := engine.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		session.FromContext(r.Context()).Set("name", "Sonam")
	}))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
	c := rec.Result().Cookies()[0]
	fmt.Println(c.Name, c.HttpOnly, len(c.Value) > 40)
	// Output: sessionid true true
}
