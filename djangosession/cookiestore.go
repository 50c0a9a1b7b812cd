package djangosession

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sessionkv/session"
)

// ErrNotServerSide is returned by CookieStore.Save: signed_cookies
// sessions live in the cookie, and the engine seals them (session.Sealer).
var ErrNotServerSide = errors.New("djangosession: signed_cookies sessions live in the cookie; the engine seals them")

// CookieStore is Django's signed_cookies session backend (SESSION_ENGINE
// "django.contrib.sessions.backends.signed_cookies") as a session.Store
// and session.Sealer: the whole session is the cookie, the value
// Settings.EncodeCookie writes, and nothing is kept on the server. Pair it
// with an engine whose options come from Settings.CookieOptions (the
// engine's record must be the cookie itself: CookieCodec). See the package
// documentation, # Signed cookies, for what this backend gives up. Create
// it with NewCookieStore. It is safe for concurrent use.
type CookieStore struct {
	st Settings // a copy
}

var (
	_ session.Store  = (*CookieStore)(nil)
	_ session.Sealer = (*CookieStore)(nil)
)

// NewCookieStore returns the signed_cookies backend for settings, which it
// copies. It fails with ErrNoKey without a secret key.
func NewCookieStore(settings *Settings) (*CookieStore, error) {
	if settings == nil || settings.SecretKey == "" {
		return nil, ErrNoKey
	}
	return &CookieStore{st: *settings}, nil
}

// Load implements session.Store: key is the cookie value. It opens it as
// Django's signed_cookies backend does, with CookieSalt and
// SessionCookieAge as the max age, and returns Record{Data: the cookie,
// Expires, UserID: UserIDKey's value}. Expires is just after the signing
// time plus SessionCookieAge (a cookie exactly that old still opens, as in
// Django) or, when sooner, the session's own expiry (a max age counted
// from the signing time, its last save, or an expiry time), which
// Django's backend does not apply (Django ticket #19201). A cookie that is tampered with, signed with
// another key or salt, older than the max age, past its own expiry or not
// a session at all gives an error wrapping session.ErrNotFound, which
// names the reason; the engine then starts a new session, as Django does.
func (s *CookieStore) Load(ctx context.Context, key string) (session.Record, error) {
	if err := ctx.Err(); err != nil {
		return session.Record{}, err
	}
	rec, err := s.Open(key)
	if err != nil {
		return session.Record{}, fmt.Errorf("%w: %v", session.ErrNotFound, err)
	}
	return rec, nil
}

// Open returns the record of a cookie value, as Load does, with an error
// that wraps this package's (ErrBadSignature, ErrExpiredSignature,
// session.ErrCorrupt...) rather than session.ErrNotFound. A cookie past the
// session's own expiry fails with ErrExpiredSignature too.
func (s *CookieStore) Open(value string) (session.Record, error) {
	age := s.st.cookieAge()
	data, signedAt, err := s.st.Signer(CookieSalt).open(value, age)
	if err != nil {
		return session.Record{}, err
	}
	values, err := Codec{}.Decode(data)
	if err != nil {
		return session.Record{}, err
	}
	e, err := ReadExpiry(values)
	if err != nil {
		return session.Record{}, err
	}
	// Just after the max age: Django's signing accepts a cookie exactly
	// that old.
	expires := signedAt.Add(age).Add(time.Nanosecond)
	if own := e.DateAt(signedAt, age); (e.Kind == ExpiryAge || e.Kind == ExpiryAt) && own.Before(expires) {
		expires = own
	}
	if !s.st.now().Before(expires) {
		return session.Record{}, fmt.Errorf("%w: the session's own expiry, %v, has passed", ErrExpiredSignature, expires)
	}
	uid, _ := UserID(values)
	return session.Record{Data: []byte(value), Expires: expires, UserID: uid}, nil
}

// Seal implements session.Sealer: the cookie value is rec.Data as it is,
// the signed value CookieCodec wrote, and rec.Expires is not carried (Load
// works it out again). Data not signed with the store's key and CookieSalt
// fails with ErrForeignData, so that a misconfigured engine never sends a
// cookie that would not open; a value longer than maxLen fails with an
// error wrapping session.ErrCookieTooLarge, as browsers would drop it.
func (s *CookieStore) Seal(rec session.Record, maxLen int) (string, error) {
	value := string(rec.Data)
	if err := s.st.Signer(CookieSalt).checkSigned(value); err != nil {
		return "", ErrForeignData
	}
	if len(value) > maxLen {
		return "", fmt.Errorf("djangosession: signed cookie of %d bytes, %d allowed: %w", len(value), maxLen, session.ErrCookieTooLarge)
	}
	return value, nil
}

// Save implements session.Store but always fails with ErrNotServerSide:
// the engine seals sessions into the cookie through Seal.
func (s *CookieStore) Save(context.Context, string, session.Record) error { return ErrNotServerSide }

// Delete implements session.Store and does nothing, as Django's
// signed_cookies backend: a session in a cookie cannot be revoked from the
// server. The engine deletes the cookie.
func (s *CookieStore) Delete(context.Context, string) error { return nil }
