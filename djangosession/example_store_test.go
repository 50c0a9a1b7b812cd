package djangosession_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangosession"
)

// Sharing sessions with a Django application that uses the file backend:
// SESSION_ENGINE = "django.contrib.sessions.backends.file" and
// SESSION_FILE_PATH set to the same directory.
func ExampleNewFileStore() {
	dir, _ := os.MkdirTemp("", "django-sessions") // SESSION_FILE_PATH
	defer os.RemoveAll(dir)

	st := &djangosession.Settings{SecretKey: "django-insecure-0123456789"} // SECRET_KEY
	store, err := djangosession.NewFileStore(dir, st, nil)
	if err != nil {
		panic(err)
	}
	defer store.Close()
	opts := session.DefaultOptions()
	st.Options(opts)
	engine, err := session.New(store, opts)
	if err != nil {
		panic(err)
	}
	defer engine.Close()

	ctx := context.Background()
	s, _ := engine.Load(ctx, "")
	s.Set("_auth_user_id", "42") // what django.contrib.auth's login stores
	s.SetMaxAge(30 * time.Minute)
	if err := engine.Save(ctx, s); err != nil {
		panic(err)
	}

	// One file, named and written as Django's file backend does.
	data, _ := os.ReadFile(filepath.Join(dir, "sessionid"+s.ID()))
	values, _ := st.DecodeSession(string(data))
	fmt.Println(values)
	rec, _ := store.Load(ctx, s.ID())
	fmt.Println(rec.UserID)
	// Output:
	// map[_auth_user_id:42 _session_expiry:1800]
	// 42
}

// Sharing sessions with a Django application that uses the signed_cookies
// backend: the cookie is the session, signed (not encrypted) with
// SECRET_KEY.
func ExampleNewCookieStore() {
	st := &djangosession.Settings{SecretKey: "django-insecure-0123456789"}
	store, err := djangosession.NewCookieStore(st)
	if err != nil {
		panic(err)
	}
	opts := session.DefaultOptions()
	st.CookieOptions(opts)
	engine, err := session.New(store, opts)
	if err != nil {
		panic(err)
	}
	defer engine.Close()

	ctx := context.Background()
	s, _ := engine.Load(ctx, "")
	s.Set("theme", "dark")
	if err := engine.Save(ctx, s); err != nil {
		panic(err)
	}
	cookie := s.ID() // the value of the sessionid cookie
	fmt.Println(strings.Count(cookie, ":"))
	values, _ := st.DecodeCookie(cookie) // what Django reads
	fmt.Println(values)

	again, _ := engine.Load(ctx, cookie)
	fmt.Println(again.GetString("theme"))
	// Output:
	// 2
	// map[theme:dark]
	// dark true
}

// The engine's options for Django's db backend, for a store of Django's
// table such as sqlstore.DjangoStore.
func ExampleSettings_Options() {
	st := &djangosession.Settings{SecretKey: "k", SessionCookieAge: 30 * time.Minute}
	opts := session.DefaultOptions()
	st.Options(opts)
	fmt.Println(opts.CookieName, opts.CookieAge, opts.IDs.ValidID(djangosession.NewSessionKey()))

	rec, _ := st.SessionCodec().EncodeRecord(nil, map[string]any{"a": 1}, session.Expiry{Kind: session.ExpiryBrowserClose})
	values, _ := st.DecodeSession(string(rec))
	fmt.Println(values)
	// Output:
	// sessionid 30m0s true
	// map[_session_expiry:0 a:1]
}
