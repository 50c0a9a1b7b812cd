package session_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/memstore"
)

// The seed's set/get/del views, served through the middleware.
func Example() {
	engine, err := session.New(memstore.New(), nil)
	if err != nil {
		panic(err)
	}
	defer engine.Close()

	mux := http.NewServeMux()
	mux.HandleFunc("/set/", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		s.Set("name", "Sonam")
		s.Set("lname", "rathore")
		io.WriteString(w, "Session setting up")
	})
	mux.HandleFunc("/get/", func(w http.ResponseWriter, r *http.Request) {
		s := session.FromContext(r.Context())
		name, ok := s.GetString("name")
		if !ok {
			name = "Guest"
		}
		fmt.Fprintf(w, "name=%s keys=%v", name, s.Keys())
	})
	srv := httptest.NewServer(engine.Middleware(mux))
	defer srv.Close()

	resp, _ := http.Get(srv.URL + "/set/")
	cookie := resp.Cookies()[0]
	resp.Body.Close()

	req, _ := http.NewRequest("GET", srv.URL+"/get/", nil)
	req.AddCookie(cookie)
	resp, _ = http.DefaultClient.Do(req)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(cookie.Name, cookie.HttpOnly, cookie.MaxAge)
	fmt.Println(string(body))
	// Output:
	// sessionid true 1209600
	// name=Sonam keys=[lname name]
}

// Loading and saving without the middleware, as a background job would.
func ExampleEngine_Load() {
	ctx := context.Background()
	engine, _ := session.New(memstore.New(), nil)
	defer engine.Close()

	s, _ := engine.Load(ctx, "") // no ID: a new session
	s.Set("visits", 1)
	_ = engine.Save(ctx, s) // assigns the ID
	id := s.ID()

	again, _ := engine.Load(ctx, id)
	n, _ := again.GetInt("visits")
	fmt.Println(n, again.ID() == id)

	unknown, _ := engine.Load(ctx, "never-issued")
	fmt.Printf("%q %v\n", unknown.ID(), unknown.IsEmpty())
	// Output:
	// 1 true
	// "" true
}

// CycleKey on login defeats session fixation: the data stays, the ID
// changes.
func ExampleSession_CycleKey() {
	ctx := context.Background()
	engine, _ := session.New(memstore.New(), nil)
	defer engine.Close()
	s, _ := engine.Load(ctx, "")
	s.Set("cart", []string{"book"})
	_ = engine.Save(ctx, s)
	before := s.ID()

	_ = s.CycleKey(ctx) // on login
	s.Set("user", "sonam")

	old, _ := engine.Load(ctx, before)
	cart, _ := s.Get("cart")
	fmt.Println(s.ID() != before, old.IsEmpty(), cart)
	// Output: true true [book]
}

// Structs are stored as maps of their exported fields; GetAs turns them
// back.
func ExampleGetAs() {
	type Cart struct {
		Items []string
		Total float64
	}
	ctx := context.Background()
	engine, _ := session.New(memstore.New(), nil)
	defer engine.Close()
	s, _ := engine.Load(ctx, "")
	s.Set("cart", Cart{Items: []string{"book"}, Total: 9.5})
	_ = engine.Save(ctx, s)

	again, _ := engine.Load(ctx, s.ID())
	raw, _ := again.Get("cart")
	cart, err := session.GetAs[Cart](again, "cart")
	fmt.Printf("%T\n%+v %v\n", raw, cart, err)
	// Output:
	// map[string]interface {}
	// {Items:[book] Total:9.5} <nil>
}

// Django's set_expiry, in its four forms.
func ExampleSession_SetMaxAge() {
	ctx := context.Background()
	engine, _ := session.New(memstore.New(), nil)
	defer engine.Close()
	s, _ := engine.Load(ctx, "")

	fmt.Println(s.ExpiryAge()) // the engine's CookieAge
	s.SetMaxAge(30 * time.Minute)
	fmt.Println(s.ExpiryAge())
	s.SetExpireAtBrowserClose()
	fmt.Println(s.ExpireAtBrowserClose())
	s.ResetExpiry()
	fmt.Println(s.ExpiryAge(), s.ExpireAtBrowserClose())
	// Output:
	// 336h0m0s
	// 30m0s
	// true
	// 336h0m0s false
}

// One-time messages for the next request.
func ExampleSession_AddFlash() {
	engine, _ := session.New(memstore.New(), nil)
	defer engine.Close()
	s, _ := engine.Load(context.Background(), "")
	s.AddFlash("Profile saved")
	fmt.Println(s.Flashes(), s.Flashes())
	// Output: [Profile saved] []
}
