package session

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"
)

var cookieHeaders = [][]string{
	nil,
	{""},
	{"sessionid=abc"},
	{"a=1; sessionid=abc; b=2"},
	{"sessionid=first", "sessionid=second"},
	{`sessionid="quoted"`},
	{`sessionid="`},
	{`sessionid=""`},
	{"sessionid=bad;value"},
	{"sessionid=bad\\value; sessionid=good"},
	{"sessionid=sp ace"},
	{"  sessionid = padded  ; x=y"},
	{"sessionid"},
	{"sessionid="},
	{"SessionID=case"},
	{";;; sessionid=after-empties ;"},
	{"sessionid=ok\x7f"},
	{"sessionid=tab\there"},
	{"x=" + strings.Repeat(";", 3000) + "sessionid=too-many"},
	{"a=b", "sessionid=second-line"},
}

// TestRequestCookie_AgreesWithNetHTTP checks the middleware's cookie reader
// against http.Request.Cookie, which it replaces to save allocations.
func TestRequestCookie_AgreesWithNetHTTP(t *testing.T) {
	for _, lines := range cookieHeaders {
		checkRequestCookie(t, lines)
	}
}

func FuzzRequestCookie(f *testing.F) {
	for _, lines := range cookieHeaders {
		f.Add(strings.Join(lines, "\n"))
	}
	f.Fuzz(func(t *testing.T, header string) {
		checkRequestCookie(t, strings.Split(header, "\n"))
	})
}

func checkRequestCookie(t *testing.T, lines []string) {
	t.Helper()
	r := &http.Request{Header: http.Header{}}
	if lines != nil {
		r.Header["Cookie"] = lines
	}
	want, err := r.Cookie("sessionid")
	got, ok := requestCookie(r.Header, "sessionid")
	if ok != (err == nil) || ok && got != want.Value {
		t.Fatalf("%q: requestCookie = %q, %v; net/http: %v, %v", lines, got, ok, want, err)
	}
}

// TestSessionCookieLine_AgreesWithNetHTTP checks the Set-Cookie line the
// engine builds against what http.Cookie writes for the same cookie.
func TestSessionCookieLine_AgreesWithNetHTTP(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 500, time.FixedZone("X", 3600))
	for _, edit := range []func(*Options){
		nil,
		func(o *Options) { o.CookieDomain = ".example.com"; o.CookieSecure = true },
		func(o *Options) { o.CookiePath = "/app"; o.CookieSameSite = http.SameSiteStrictMode },
		func(o *Options) {
			o.CookieSameSite, o.CookieSecure, o.CookieHTTPOnly = http.SameSiteNoneMode, true, false
		},
		func(o *Options) { o.CookieSameSite = http.SameSiteDefaultMode; o.CookieName = "sid" },
	} {
		e := newEnv(t, edit).engine
		for _, id := range []string{DefaultIDs.NewID(), "with space", `q"uote`, "a,b", strings.Repeat("v", 300)} {
			for _, age := range []time.Duration{time.Hour, 1500 * time.Millisecond, 500 * time.Millisecond, 14 * 24 * time.Hour} {
				for _, browserClose := range []bool{false, true} {
					want := e.sessionCookie(id, browserClose, age, now).String()
					if got := e.sessionCookieLine(id, browserClose, age, now); got != want {
						t.Errorf("got  %s\nwant %s", got, want)
					}
				}
			}
		}
	}
}

func TestStoreKey_IsHexSHA256(t *testing.T) {
	for _, id := range []string{"", "x", DefaultIDs.NewID(), strings.Repeat("y", 64), strings.Repeat("z", 65)} {
		sum := sha256.Sum256([]byte(id))
		if got, want := StoreKey(id), hex.EncodeToString(sum[:]); got != want {
			t.Errorf("StoreKey(%d bytes) = %s, want %s", len(id), got, want)
		}
	}
}
