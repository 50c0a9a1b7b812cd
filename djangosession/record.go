package djangosession

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"time"

	"github.com/sessionkv/session"
)

// IDs is the session.IDScheme of Django's session keys: NewID is
// NewSessionKey (32 characters of [a-z0-9]), ValidID is ValidSessionKey,
// and StoreKey returns the key itself, since Django's backends store
// sessions under the raw key (the session_key column, the file name).
//
// That is the trade-off of sharing sessions with Django: with the engine's
// own scheme (session.DefaultIDs) a store holds only hashes of the IDs, so
// a leaked database, backup or directory listing holds no usable cookie;
// here every stored key is a live session cookie, exactly as it is for
// Django itself. Keep the store as private as the cookies.
var IDs session.IDScheme = djangoIDs{}

type djangoIDs struct{}

func (djangoIDs) NewID() string             { return NewSessionKey() }
func (djangoIDs) ValidID(id string) bool    { return ValidSessionKey(id) }
func (djangoIDs) StoreKey(id string) string { return id }

// SessionCodec is the engine's codec for the session_data of Django's db,
// cached_db and file backends: a session.RecordCodec whose record is the
// signed string Settings.EncodeSession writes, the expiry choice kept
// under ExpiryKey as Django keeps it, and a session.OwnerCodec whose owner
// is UserIDKey (django.contrib.auth's login). Its Encode and Decode are
// Codec's, the JSON alone.
//
// Expiry choices map to ExpiryKey as Django's set_expiry stores them:
//
//	engine (session.Expiry)         _session_expiry        Django
//	ExpiryDefault                   (no key)               set_expiry(None)
//	ExpiryMaxAge, MaxAge >= 1s      whole seconds, an int  set_expiry(300)
//	ExpiryMaxAge, MaxAge < 1s       -1                     already expired
//	ExpiryBrowserClose              0                      set_expiry(0)
//	ExpiryAt                        At.isoformat(), UTC    set_expiry(datetime)
//
// A max age is written in whole seconds, truncated, as the engine counts
// it; one under a second, which the engine treats as expired, is written
// as -1, because Django reads 0 as "expire at browser close". Reading, a
// number is a max age (fractions kept) and 0 browser close, and a string
// an ISO 8601 time (see ReadExpiry); ExpiryKey is removed from the values
// the engine sees, and on writing the engine's choice replaces whatever
// the values hold under it.
//
// An ExpiryAt is written as the isoformat() string that Django releases
// storing set_expiry(datetime) with the JSON serializer write. Django 3.2
// cannot store a datetime expiry with its JSONSerializer (its save fails
// with a TypeError) nor read the string form: its get_expiry_age returns
// the string, which its middleware and the file backend then fail to
// compare or add to a number. Do not use Session.SetExpiresAt with sessions
// that such a Django reads.
//
// Settings must be set; the codec reads it on every call and is safe for
// concurrent use as long as the Settings are not changed meanwhile.
type SessionCodec struct {
	// Settings holds the secret key and clock that sign and open.
	Settings *Settings
}

// CookieCodec is SessionCodec for Django's signed_cookies backend: its
// record is the cookie value itself, signed with CookieSalt, and decoding
// checks the signature's age against SessionCookieAge as that backend does.
// Pair it with a CookieStore. The expiry mapping and owner are
// SessionCodec's.
type CookieCodec struct {
	// Settings holds the secret key, cookie age and clock.
	Settings *Settings
}

var (
	_ session.RecordCodec = SessionCodec{}
	_ session.OwnerCodec  = SessionCodec{}
	_ session.RecordCodec = CookieCodec{}
	_ session.OwnerCodec  = CookieCodec{}
)

// SessionCodec returns the codec of the db, cached_db and file backends'
// session data for these settings.
func (c *Settings) SessionCodec() SessionCodec { return SessionCodec{Settings: c} }

// CookieCodec returns the codec of the signed_cookies backend's cookie for
// these settings.
func (c *Settings) CookieCodec() CookieCodec { return CookieCodec{Settings: c} }

// Options sets in o what sharing sessions with Django's db, cached_db or
// file backend takes: Codec (SessionCodec), IDs (Django's session keys,
// stored raw), CookieName (SessionCookieName) and CookieAge
// (SessionCookieAge). Pair it with a store in Django's layout: FileStore,
// sqlstore's DjangoStore, or any store for the session data alone.
func (c *Settings) Options(o *session.Options) {
	o.Codec = c.SessionCodec()
	o.IDs = IDs
	o.CookieName = c.cookieName()
	o.CookieAge = c.cookieAge()
}

// CookieOptions sets in o what sharing sessions with Django's
// signed_cookies backend takes: Codec (CookieCodec), CookieName and
// CookieAge. Pair it with a CookieStore.
func (c *Settings) CookieOptions(o *session.Options) {
	o.Codec = c.CookieCodec()
	o.CookieName = c.cookieName()
	o.CookieAge = c.cookieAge()
}

// Encode implements session.Codec with Codec.
func (SessionCodec) Encode(dst []byte, values map[string]any) ([]byte, error) {
	return Codec{}.Encode(dst, values)
}

// Decode implements session.Codec with Codec.
func (SessionCodec) Decode(data []byte) (map[string]any, error) { return Codec{}.Decode(data) }

// EncodeRecord implements session.RecordCodec: it appends the session data
// Django's SessionStore.encode writes for values with exp under ExpiryKey.
func (c SessionCodec) EncodeRecord(dst []byte, values map[string]any, exp session.Expiry) ([]byte, error) {
	return encodeRecord(dst, values, exp, c.Settings.Signer(SessionSalt))
}

// DecodeRecord implements session.RecordCodec: it reads session data as
// Settings.DecodeSession does (no max age) and takes ExpiryKey out of the
// values as the expiry choice. Errors wrap session.ErrCorrupt.
func (c SessionCodec) DecodeRecord(data []byte) (map[string]any, session.Expiry, error) {
	values, err := c.Settings.DecodeSession(string(data))
	if err != nil {
		return nil, session.Expiry{}, err
	}
	return splitExpiry(values)
}

// Owner implements session.OwnerCodec: UserID(values), or "".
func (SessionCodec) Owner(values map[string]any) string {
	id, _ := UserID(values)
	return id
}

// Encode implements session.Codec with Codec.
func (CookieCodec) Encode(dst []byte, values map[string]any) ([]byte, error) {
	return Codec{}.Encode(dst, values)
}

// Decode implements session.Codec with Codec.
func (CookieCodec) Decode(data []byte) (map[string]any, error) { return Codec{}.Decode(data) }

// EncodeRecord implements session.RecordCodec: it appends the
// signed_cookies cookie value for values with exp under ExpiryKey.
func (c CookieCodec) EncodeRecord(dst []byte, values map[string]any, exp session.Expiry) ([]byte, error) {
	return encodeRecord(dst, values, exp, c.Settings.Signer(CookieSalt))
}

// DecodeRecord implements session.RecordCodec: it opens a cookie value as
// Settings.DecodeCookie does (SessionCookieAge as the max age) and takes
// ExpiryKey out of the values as the expiry choice. Errors wrap
// session.ErrCorrupt.
func (c CookieCodec) DecodeRecord(data []byte) (map[string]any, session.Expiry, error) {
	values, err := c.Settings.DecodeCookie(string(data))
	if err != nil {
		return nil, session.Expiry{}, err
	}
	return splitExpiry(values)
}

// Owner implements session.OwnerCodec: UserID(values), or "".
func (CookieCodec) Owner(values map[string]any) string {
	id, _ := UserID(values)
	return id
}

// encodeRecord appends to dst values, with exp under ExpiryKey, signed by
// s. values itself is not changed. JSON larger than s's MaxPayload, which
// would not decode, is refused.
func encodeRecord(dst []byte, values map[string]any, exp session.Expiry, s *Signer) ([]byte, error) {
	v, err := expiryValue(exp)
	if err != nil {
		return dst, err
	}
	m := values
	if _, held := values[ExpiryKey]; held || v != nil {
		m = make(map[string]any, len(values)+1)
		maps.Copy(m, values)
		if v == nil {
			delete(m, ExpiryKey)
		} else {
			m[ExpiryKey] = v
		}
	}
	js, err := Codec{}.Encode(nil, m)
	if err != nil {
		return dst, err
	}
	if len(js) > s.maxPayload() {
		return dst, fmt.Errorf("djangosession: %d bytes of session JSON, over the %d that decoding accepts (MaxPayload)", len(js), s.maxPayload())
	}
	signed, err := s.Sign(js)
	if err != nil {
		return dst, err
	}
	return append(dst, signed...), nil
}

// expiryValue is what Django keeps under ExpiryKey for exp, nil for none;
// see SessionCodec.
func expiryValue(exp session.Expiry) (any, error) {
	switch exp.Kind {
	case session.ExpiryDefault:
		return nil, nil
	case session.ExpiryMaxAge:
		secs := int64(exp.MaxAge / time.Second)
		if secs == 0 {
			secs = -1 // expired; 0 would mean browser close
		}
		return secs, nil
	case session.ExpiryBrowserClose:
		return int64(0), nil
	case session.ExpiryAt:
		return formatISOTime(exp.At), nil
	}
	return nil, fmt.Errorf("%w: djangosession: expiry kind %d", session.ErrUnsupportedValue, exp.Kind)
}

// splitExpiry removes ExpiryKey from values and returns it as the engine's
// expiry choice.
func splitExpiry(values map[string]any) (map[string]any, session.Expiry, error) {
	e, err := ReadExpiry(values)
	if err != nil {
		return nil, session.Expiry{}, err
	}
	delete(values, ExpiryKey)
	return values, e.engine(), nil
}

// engine returns e as the engine's expiry choice.
func (e Expiry) engine() session.Expiry {
	switch e.Kind {
	case ExpiryAge:
		return session.Expiry{Kind: session.ExpiryMaxAge, MaxAge: e.Age}
	case ExpiryAt:
		return session.Expiry{Kind: session.ExpiryAt, At: e.At}
	case ExpiryBrowserClose:
		return session.Expiry{Kind: session.ExpiryBrowserClose}
	}
	return session.Expiry{}
}

// errForeignData reports record data that is not a value signed with the
// store's key and salt: the engine's codec is not the store's.
var errForeignData = errors.New("not signed with this key and salt")

// checkSigned reports whether signed carries a signature of s's key (or
// one of its fallbacks) and salt, without decoding it: a cheap check that
// a record about to be stored is what the store's Django backend reads.
func (s *Signer) checkSigned(signed string) error {
	if s.Key == "" {
		return ErrNoKey
	}
	i := strings.LastIndexByte(signed, ':')
	if i < 0 || !s.verify(signed[:i], signed[i+1:]) {
		return errForeignData
	}
	return nil
}
