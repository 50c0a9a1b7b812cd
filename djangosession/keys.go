package djangosession

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/sessionkv/session"
)

// SessionKeyChars are the characters of the session keys Django issues
// (VALID_KEY_CHARS): lowercase ASCII letters and digits, so that keys are
// safe as file names on case-insensitive file systems.
const SessionKeyChars = "abcdefghijklmnopqrstuvwxyz0123456789"

// SessionKeyLen is the length of the session keys Django issues.
const SessionKeyLen = 32

// NewSessionKey returns a new session key as Django's
// SessionBase._get_new_session_key makes them: 32 characters drawn
// uniformly from SessionKeyChars with crypto/rand (get_random_string), about
// 165 bits of entropy. Unlike Django it does not check that the key is
// unused; at that entropy a collision does not happen.
func NewSessionKey() string {
	var key [SessionKeyLen]byte
	var buf [48]byte
	n := 0
	for n < len(key) {
		// crypto/rand.Read never fails; on a broken system it crashes the
		// program rather than return predictable bytes.
		_, _ = rand.Read(buf[:])
		for _, b := range buf {
			// Rejection sampling: 252 = 7*36, so b%36 is uniform below it.
			if b < 252 && n < len(key) {
				key[n] = SessionKeyChars[b%36]
				n++
			}
		}
	}
	return string(key[:])
}

// ValidSessionKey reports whether key has the shape of the keys Django
// issues: exactly 32 characters of SessionKeyChars. Django itself is
// laxer: SessionBase._validate_session_key accepts any key of at least 8
// characters (the db backend's column holds 40), and the file backend
// additionally requires SessionKeyChars; a key Django did not issue can
// only come from application code that chose it.
func ValidSessionKey(key string) bool {
	if len(key) != SessionKeyLen {
		return false
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// Keys that Django itself keeps in the session dict.
const (
	// ExpiryKey holds the custom expiry set_expiry chose; see ReadExpiry.
	ExpiryKey = "_session_expiry"
	// UserIDKey holds the logged-in user's primary key, as a string
	// (django.contrib.auth's SESSION_KEY); see UserID.
	UserIDKey = "_auth_user_id"
	// UserBackendKey holds the dotted path of the authentication backend
	// that logged the user in (BACKEND_SESSION_KEY).
	UserBackendKey = "_auth_user_backend"
	// UserHashKey holds the user's session auth hash, an HMAC of the
	// password hash, which invalidates the session when the password
	// changes (HASH_SESSION_KEY).
	UserHashKey = "_auth_user_hash"
)

// UserID returns the logged-in user's primary key from decoded session
// values, and whether there is one. Django's login stores
// pk.value_to_string(user), a string; older releases stored integer primary
// keys as numbers, which UserID returns in decimal.
func UserID(values map[string]any) (string, bool) {
	switch v := values[UserIDKey].(type) {
	case string:
		return v, true
	case int64:
		return strconv.FormatInt(v, 10), true
	case uint64:
		return strconv.FormatUint(v, 10), true
	}
	return "", false
}

// ExpiryKind is the kind of custom expiry a session has.
type ExpiryKind int

// The kinds of expiry, after Django's set_expiry(value).
const (
	// ExpiryDefault: no custom expiry (set_expiry(None), or never called);
	// the session follows SESSION_COOKIE_AGE and
	// SESSION_EXPIRE_AT_BROWSER_CLOSE.
	ExpiryDefault ExpiryKind = iota
	// ExpiryAge: set_expiry(seconds), stored as a number; the session
	// expires Age after its last save.
	ExpiryAge
	// ExpiryAt: set_expiry(datetime or timedelta), stored as the datetime's
	// isoformat() string; the session expires at At. (Django releases
	// before the string form, 3.2 among them, cannot store a datetime with
	// the JSON serializer: saving fails with a TypeError.)
	ExpiryAt
	// ExpiryBrowserClose: set_expiry(0); the cookie lasts until the browser
	// closes, the stored session SESSION_COOKIE_AGE.
	ExpiryBrowserClose
)

// String returns the kind's name: "default", "age", "at" or
// "browser close".
func (k ExpiryKind) String() string {
	switch k {
	case ExpiryDefault:
		return "default"
	case ExpiryAge:
		return "age"
	case ExpiryAt:
		return "at"
	case ExpiryBrowserClose:
		return "browser close"
	}
	return "ExpiryKind(" + strconv.Itoa(int(k)) + ")"
}

// Expiry is a session's custom expiry, as Django keeps it under ExpiryKey.
type Expiry struct {
	// Kind says which of the other fields applies.
	Kind ExpiryKind
	// Age is the inactivity timeout of ExpiryAge (negative or zero-length
	// ages are already expired, except that 0 is ExpiryBrowserClose).
	Age time.Duration
	// At is the expiry time of ExpiryAt, in UTC.
	At time.Time
}

// ReadExpiry returns the expiry stored under ExpiryKey in decoded session
// values. A number is an age in seconds (0: browser close), a string an
// ISO 8601 time as Python's datetime.isoformat writes it (a time without a
// UTC offset, which Django writes when USE_TZ is False, is read as UTC).
// Anything else gives an error wrapping session.ErrCorrupt.
func ReadExpiry(values map[string]any) (Expiry, error) {
	v, ok := values[ExpiryKey]
	if !ok || v == nil {
		return Expiry{}, nil
	}
	var secs float64
	switch x := v.(type) {
	case int64:
		secs = float64(x)
	case uint64:
		secs = float64(x)
	case float64:
		secs = x
	case string:
		t, err := parseISOTime(x)
		if err != nil {
			return Expiry{}, fmt.Errorf("%w: djangosession: %s %q: %v", session.ErrCorrupt, ExpiryKey, x, err)
		}
		return Expiry{Kind: ExpiryAt, At: t}, nil
	default:
		return Expiry{}, fmt.Errorf("%w: djangosession: %s of type %T", session.ErrCorrupt, ExpiryKey, v)
	}
	ns := secs * float64(time.Second)
	var age time.Duration
	switch {
	case secs == 0:
		return Expiry{Kind: ExpiryBrowserClose}, nil
	case math.IsNaN(secs):
		return Expiry{}, fmt.Errorf("%w: djangosession: %s is NaN", session.ErrCorrupt, ExpiryKey)
	case ns >= math.MaxInt64: // 2^63, as a float64
		age = math.MaxInt64
	case ns <= math.MinInt64:
		age = math.MinInt64
	default:
		age = time.Duration(ns)
	}
	return Expiry{Kind: ExpiryAge, Age: age}, nil
}

// Value returns what Django stores under ExpiryKey for e: nil for
// ExpiryDefault (no key); for ExpiryAge, Age in seconds, an int64 when
// whole, a float64 otherwise (set_expiry(0.5) is valid Django, and only an
// exact 0 means browser close); int64 0 for ExpiryBrowserClose; At's
// isoformat() string in UTC (microseconds, +00:00) for ExpiryAt.
func (e Expiry) Value() any {
	switch e.Kind {
	case ExpiryAge:
		if e.Age%time.Second == 0 {
			return int64(e.Age / time.Second)
		}
		return e.Age.Seconds()
	case ExpiryAt:
		return formatISOTime(e.At)
	case ExpiryBrowserClose:
		return int64(0)
	}
	return nil
}

// AgeAt is Django's get_expiry_age(modification=modified): how long the
// session lasts from modified: Age for ExpiryAge; the time until At in
// whole seconds, rounded down, for ExpiryAt; cookieAge (SESSION_COOKIE_AGE)
// under the default policy and for browser-close sessions.
func (e Expiry) AgeAt(modified time.Time, cookieAge time.Duration) time.Duration {
	switch e.Kind {
	case ExpiryAge:
		return e.Age
	case ExpiryAt:
		// delta.days * 86400 + delta.seconds: whole seconds, rounded down.
		d := e.At.Sub(modified)
		s := d / time.Second
		if d%time.Second < 0 {
			s--
		}
		return s * time.Second
	}
	return cookieAge
}

// DateAt is Django's get_expiry_date(modification=modified): when the
// session expires if saved at modified.
func (e Expiry) DateAt(modified time.Time, cookieAge time.Duration) time.Time {
	switch e.Kind {
	case ExpiryAge:
		return modified.Add(e.Age)
	case ExpiryAt:
		return e.At
	}
	return modified.Add(cookieAge)
}

// parseISOTime parses Python's datetime.isoformat output:
// YYYY-MM-DDTHH:MM:SS[.ffffff][±HH:MM[:SS[.ffffff]]], with "T" or a space.
func parseISOTime(s string) (time.Time, error) {
	if len(s) >= 11 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	for _, layout := range []string{
		"2006-01-02T15:04:05.999999999Z07:00",
		"2006-01-02T15:04:05.999999999Z07:00:00",
		"2006-01-02T15:04:05.999999999",
	} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("not an isoformat() time")
}

// formatISOTime writes t in UTC as Python's isoformat does for an aware
// datetime: microseconds only when not zero, offset +00:00.
func formatISOTime(t time.Time) string {
	t = t.UTC().Truncate(time.Microsecond)
	if t.Nanosecond() == 0 {
		return t.Format("2006-01-02T15:04:05+00:00")
	}
	return t.Format("2006-01-02T15:04:05.000000+00:00")
}
