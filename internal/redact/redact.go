// Package redact hides passwords in database and Redis URLs, and in error
// messages that quote them, before they are printed or logged. Its
// functions are pure and safe for concurrent use; it keeps no state.
package redact

import (
	"fmt"
	"net/url"
	"strings"
)

// URL hides the passwords in a URL that is about to be printed: the
// one in its user information, and the values of query parameters whose
// name holds "password" (PostgreSQL takes "password" and "sslpassword"
// there).
func URL(raw string) string {
	base, query, hasQuery := strings.Cut(raw, "?")
	base = redactUser(base)
	if !hasQuery {
		return base
	}
	return base + "?" + Query(query)
}

// redactUser hides the password in the user information of base, a URL
// without its query. A URL that cannot be parsed, or that holds a user
// without the "//" before it (a mistyped URL, or a driver's data source
// name such as "app:secret@tcp(db:3306)/app"), loses everything between
// its scheme and its last "@".
func redactUser(base string) string {
	u, err := url.Parse(base)
	if err == nil && u.User != nil {
		if _, ok := u.User.Password(); ok {
			return u.Redacted()
		}
		return base
	}
	at := strings.LastIndexByte(base, '@')
	colon := strings.IndexByte(base, ':')
	if at < 0 || colon < 0 || colon > at || (err == nil && u.Opaque == "") {
		return base
	}
	start := colon + 1
	if strings.HasPrefix(base[start:], "//") {
		start += 2
	}
	return base[:start] + "xxxxx" + base[at:]
}

// Query replaces the values of the password parameters of a raw
// query with "xxxxx", leaving the rest of it as written.
func Query(query string) string {
	pairs := strings.Split(query, "&")
	for i, p := range pairs {
		if k, _, ok := strings.Cut(p, "="); ok && isPasswordParam(k) {
			pairs[i] = k + "=xxxxx"
		}
	}
	return strings.Join(pairs, "&")
}

// isPasswordParam reports whether a query parameter, its name as written,
// carries a password.
func isPasswordParam(rawKey string) bool {
	k, err := url.QueryUnescape(rawKey)
	if err != nil {
		k = rawKey
	}
	return strings.Contains(strings.ToLower(k), "password")
}

// Error returns err with its message on one line (drivers report each
// failed connection attempt on a line of its own) and with the passwords
// of the database URL raw hidden wherever the message shows them as a URL
// or a driver's data source name does (":PASSWORD@", "password=PASSWORD"),
// as written or decoded: the drivers' messages may quote the URL. errors.Is and errors.As see through the result.
func Error(err error, raw string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := msg
	if strings.ContainsAny(clean, "\r\n") {
		clean = strings.Join(strings.Fields(clean), " ")
	}
	for _, secret := range passwords(raw) {
		for _, pat := range []string{":%s@", "password=%s"} {
			clean = strings.ReplaceAll(clean, fmt.Sprintf(pat, secret), fmt.Sprintf(pat, "xxxxx"))
		}
	}
	if clean == msg {
		return err
	}
	return &scrubbedError{msg: clean, err: err}
}

// passwords returns the non-empty passwords of a database URL, each as
// written, decoded and query-encoded.
func passwords(raw string) []string {
	var out []string
	add := func(written, decoded string) {
		if decoded != "" {
			out = append(out, written, decoded, url.QueryEscape(decoded))
		}
	}
	base, query, _ := strings.Cut(raw, "?")
	if i := strings.Index(base, "://"); i >= 0 {
		auth, _, _ := strings.Cut(base[i+3:], "/") // user information and host
		if j := strings.LastIndexByte(auth, '@'); j >= 0 {
			if _, pw, ok := strings.Cut(auth[:j], ":"); ok {
				dec, err := url.PathUnescape(pw)
				if err != nil {
					dec = pw
				}
				add(pw, dec)
			}
		}
	}
	for _, p := range strings.Split(query, "&") {
		if k, v, ok := strings.Cut(p, "="); ok && isPasswordParam(k) {
			dec, err := url.QueryUnescape(v)
			if err != nil {
				dec = v
			}
			add(v, dec)
		}
	}
	return out
}

// scrubbedError is an error whose message Error cleaned.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
