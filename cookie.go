package session

import (
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
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

// cookieAttrs are the session cookie's fixed attributes as http.Cookie
// renders them, worked out once so that a response's Set-Cookie line takes
// one allocation: scope ("; Path=…; Domain=…") goes before the expiry,
// flags ("; HttpOnly; Secure; SameSite=…") after it. expires keeps the
// last Expires attribute formatted, which changes once a second.
type cookieAttrs struct {
	scope, flags string
	expires      atomic.Pointer[formattedExpiry]
}

// formattedExpiry is an Expires attribute and the Unix second it names.
type formattedExpiry struct {
	sec  int64
	attr string // "; Expires=Mon, 02 Jan 2006 15:04:05 GMT"
}

// expiresAttr returns the Expires attribute of t, a UTC time.
func (c *cookieAttrs) expiresAttr(t time.Time) string {
	sec := t.Unix()
	if f := c.expires.Load(); f != nil && f.sec == sec {
		return f.attr
	}
	f := &formattedExpiry{sec: sec, attr: "; Expires=" + t.Format(http.TimeFormat)}
	c.expires.Store(f)
	return f.attr
}

func (e *Engine) newCookieAttrs() *cookieAttrs {
	c := e.baseCookie("v")
	scope := &http.Cookie{Name: "n", Value: "v", Path: c.Path, Domain: c.Domain}
	flags := &http.Cookie{Name: "n", Value: "v", Secure: c.Secure, HttpOnly: c.HttpOnly, SameSite: c.SameSite}
	return &cookieAttrs{scope: scope.String()[len("n=v"):], flags: flags.String()[len("n=v"):]}
}

// sessionCookieLine returns e.sessionCookie(id, browserClose, age,
// now).String(), built directly.
func (e *Engine) sessionCookieLine(id string, browserClose bool, age time.Duration, now time.Time) string {
	expires := now.Add(age).UTC()
	if !plainCookieValue(id) || (!browserClose && (expires.Year() < 1601 || age < time.Second)) {
		return e.sessionCookie(id, browserClose, age, now).String()
	}
	var buf [256]byte
	b := append(buf[:0], e.opts.CookieName...)
	b = append(b, '=')
	b = append(b, id...)
	b = append(b, e.cookie.scope...)
	if !browserClose {
		b = append(b, e.cookie.expiresAttr(expires)...)
		b = append(b, "; Max-Age="...)
		b = strconv.AppendInt(b, int64(age/time.Second), 10)
	}
	b = append(b, e.cookie.flags...)
	return string(b)
}

// plainCookieValue reports whether http.Cookie writes v as it is: no byte
// it drops, nothing it quotes.
func plainCookieValue(v string) bool {
	for i := range len(v) {
		if c := v[i]; !validCookieValueByte(c) || c == ' ' || c == ',' {
			return false
		}
	}
	return true
}

// validCookieValueByte is net/http's test of a cookie value's bytes.
func validCookieValueByte(b byte) bool {
	return 0x20 <= b && b < 0x7f && b != '"' && b != ';' && b != '\\'
}

// maxRequestCookies is net/http's limit on the cookies of a request (the
// default of GODEBUG httpcookiemaxnum): past it, it reads none.
const maxRequestCookies = 3000

// requestCookie returns the value of the first cookie called name in h, as
// http.Request.Cookie does, without allocating. name must be a valid
// cookie name.
func requestCookie(h http.Header, name string) (string, bool) {
	lines := h["Cookie"]
	if len(lines) == 0 {
		return "", false
	}
	n := 0
	for _, line := range lines {
		n += strings.Count(line, ";") + 1
	}
	if n > maxRequestCookies {
		return "", false
	}
	for _, line := range lines {
		line = textproto.TrimString(line)
		var part string
		for len(line) > 0 {
			part, line, _ = strings.Cut(line, ";")
			part = textproto.TrimString(part)
			k, v, _ := strings.Cut(part, "=")
			if textproto.TrimString(k) != name {
				continue
			}
			if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if validCookieValue(v) {
				return v, true
			}
		}
	}
	return "", false
}

func validCookieValue(v string) bool {
	for i := range len(v) {
		if !validCookieValueByte(v[i]) {
			return false
		}
	}
	return true
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

// spareHeaders is room for one value each of the Vary and Set-Cookie
// headers a commit adds; nil is no room.
type spareHeaders struct {
	vary, setCookie [1]string
}

// addHeader adds v to h's values of the canonical key k, in spare when k
// has none yet and spare is not nil (the handler may still append: the
// slice is full, so append copies it).
func addHeader(h http.Header, k, v string, spare *[1]string) {
	if spare != nil && len(h[k]) == 0 {
		spare[0] = v
		h[k] = spare[:]
		return
	}
	h[k] = append(h[k], v)
}

// addVaryCookie adds "Cookie" to the Vary header unless it is already
// there, in room if it is the first value and room is not nil.
func addVaryCookie(h http.Header, room *[1]string) {
	for _, v := range h["Vary"] {
		for _, f := range strings.Split(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, "Cookie") {
				return
			}
		}
	}
	addHeader(h, "Vary", "Cookie", room)
}
