package djangosession_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangosession"
)

// Reading and writing the session_data column of Django's db backend
// (django_session), as Django 3.2 to 5.x writes it.
func ExampleSettings_EncodeSession() {
	st := &djangosession.Settings{
		SecretKey: "django-insecure-0123456789",
		// A fixed clock, for the example's output; leave it nil.
		Now: func() time.Time { return time.Unix(1767225600, 0) },
	}
	data, err := st.EncodeSession(map[string]any{
		"_auth_user_id": "42",
		"cart":          []any{1, 2.5, "três"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(data)

	values, err := st.DecodeSession(data)
	if err != nil {
		panic(err)
	}
	fmt.Println(values["_auth_user_id"], values["cart"])
	// Output:
	// eyJfYXV0aF91c2VyX2lkIjoiNDIiLCJjYXJ0IjpbMSwyLjUsInRyXHUwMGVhcyJdfQ:1vb66i:BkQHQXm0SW2E26VCV-G3Z_7euSXhodxk87ZfNrOF81Q
	// 42 [1 2.5 três]
}

// Rotating SECRET_KEY: sessions signed with the old key still open while it
// is listed in SecretKeyFallbacks; new ones are signed with the new key.
func ExampleSettings_DecodeSession() {
	old := &djangosession.Settings{SecretKey: "old-key"}
	data, _ := old.EncodeSession(map[string]any{"theme": "dark"})

	rotated := &djangosession.Settings{SecretKey: "new-key", SecretKeyFallbacks: []string{"old-key"}}
	values, err := rotated.DecodeSession(data)
	fmt.Println(values, err)

	_, err = (&djangosession.Settings{SecretKey: "new-key"}).DecodeSession(data)
	fmt.Println(errors.Is(err, djangosession.ErrBadSignature), errors.Is(err, session.ErrCorrupt))
	// Output:
	// map[theme:dark] <nil>
	// true true
}

// The signed_cookies backend keeps the session in the cookie; its max age is
// SESSION_COOKIE_AGE.
func ExampleSettings_DecodeCookie() {
	now := time.Unix(1767225600, 0)
	st := &djangosession.Settings{SecretKey: "k", SessionCookieAge: time.Hour, Now: func() time.Time { return now }}
	cookie, _ := st.EncodeCookie(map[string]any{"theme": "dark"})

	now = now.Add(59 * time.Minute)
	_, err := st.DecodeCookie(cookie)
	fmt.Println(err)

	now = now.Add(2 * time.Minute)
	_, err = st.DecodeCookie(cookie)
	fmt.Println(errors.Is(err, djangosession.ErrExpiredSignature))
	// Output:
	// <nil>
	// true
}

// signing.dumps and signing.loads, for other signed data.
func ExampleSigner() {
	s := &djangosession.Signer{
		Key:  "django-insecure-0123456789",
		Salt: "my.salt",
		Now:  func() time.Time { return time.Unix(1767225600, 0) },
	}
	signed, _ := s.Dumps(map[string]any{"k": "v"})
	fmt.Println(signed)

	data, err := s.Open(signed, 24*time.Hour)
	fmt.Println(string(data), err)
	// Output:
	// eyJrIjoidiJ9:1vb66i:HKfkJDuv4_b7OEPq6h9emUCUNF6qDsMIvY454pzqJ_Q
	// {"k":"v"} <nil>
}

// The JSON alone, as Django's JSONSerializer writes it.
func ExampleCodec() {
	b, err := djangosession.Codec{}.Encode(nil, map[string]any{"b": 1.0, "a": "café 😀", "n": nil})
	fmt.Println(string(b), err)

	_, err = djangosession.Codec{}.Encode(nil, map[string]any{"photo": []byte{0xff}})
	fmt.Println(err)

	m, _ := djangosession.Codec{}.Decode([]byte(`{"i":1,"f":1.0}`))
	fmt.Printf("%T %T\n", m["i"], m["f"])
	// Output:
	// {"a":"caf\u00e9 \ud83d\ude00","b":1.0,"n":null} <nil>
	// djangosession: key "photo": session: unsupported value type: []byte: Django's JSON has no bytes type; store a string (e.g. base64) instead
	// int64 float64
}

func ExampleReadExpiry() {
	modified := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, v := range []any{nil, int64(0), int64(300), "2026-05-02T12:00:00+00:00"} {
		values := map[string]any{}
		if v != nil {
			values[djangosession.ExpiryKey] = v
		}
		e, err := djangosession.ReadExpiry(values)
		if err != nil {
			panic(err)
		}
		fmt.Println(e.Kind, e.AgeAt(modified, djangosession.DefaultSessionCookieAge))
	}
	// Output:
	// default 336h0m0s
	// browser close 336h0m0s
	// age 5m0s
	// at 24h0m0s
}

func ExampleUserID() {
	values := map[string]any{
		djangosession.UserIDKey:      "42",
		djangosession.UserBackendKey: "django.contrib.auth.backends.ModelBackend",
	}
	id, ok := djangosession.UserID(values)
	fmt.Println(id, ok)
	// Output: 42 true
}

func ExampleNewSessionKey() {
	key := djangosession.NewSessionKey()
	fmt.Println(len(key), djangosession.ValidSessionKey(key))
	// Output: 32 true
}
