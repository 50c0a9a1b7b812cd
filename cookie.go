package session

import (
	"net/http"
	"net/textproto"
	"strings"
	"time"
)

// maxCookieLen is what browsers keep of a cookie's name and value.
const maxCookieLen = 4096

// baseCookie returns the session cookie carrying value, with the scope and
// flags of the engine's options and no expiry.
func (e *Engine) baseCookie(value string) *http.Cookie {
	return &http.Cookie{
		Name:     e.opts.CookieName,
		Value:    value,
		Path:     e.opts.CookiePath,
		Domain:   e.opts.CookieDomain,
		Secure:   e.opts.CookieSecure,
		HttpOnly: e.opts.CookieHTTPOnly,
		SameSite: e.opts.CookieSameSite,
	}
}

// sessionCookie returns the cookie that hands id to the browser: a
// browser-session cookie, or one that lasts age from now (Max-Age and
// Expires, as Django sets both).
func (e *Engine) sessionCookie(id string, browserClose bool, age time.Duration, now time.Time) *http.Cookie {
	c := e.baseCookie(id)
	if !browserClose {
		c.MaxAge = int(age / time.Second)
		c.Expires = now.Add(age).UTC()
	}
	return c
}

// deletionCookie matches the session cookie's scope, with Max-Age=0 and an
// Expires in 1970, as Django's delete_cookie.
func (e *Engine) deletionCookie() *http.Cookie {
	c := e.baseCookie("")
	c.MaxAge = -1
	c.Expires = time.Unix(0, 0).UTC()
	return c
}

// addVaryCookie adds "Cookie" to the Vary header unless it is already there.
func addVaryCookie(h http.Header) {
	for _, v := range h[textproto.CanonicalMIMEHeaderKey("Vary")] {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, "Cookie") {
				return
			}
		}
	}
	h.Add("Vary", "Cookie")
}
