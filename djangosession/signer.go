package djangosession

import (
	"bytes"
	"compress/zlib"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/sessionkv/session"
)

// Salts and defaults of Django's settings and session backends.
const (
	// SessionSalt is the salt of SessionStore.encode and decode, the
	// session data of the db, cached_db and file backends:
	// "django.contrib.sessions." + the class's __qualname__, SessionStore in
	// all three. (The cache backend hands the dict to the cache, which
	// pickles it; it does not use this format.)
	SessionSalt = "django.contrib.sessions.SessionStore"

	// CookieSalt is the salt of the signed_cookies backend, whose cookie
	// value is the signed session itself.
	CookieSalt = "django.contrib.sessions.backends.signed_cookies"

	// DefaultSalt is the salt of signing.dumps and signing.loads when none
	// is given, and what a Signer with an empty Salt uses.
	DefaultSalt = "django.core.signing"

	// DefaultSessionCookieAge is Django's default SESSION_COOKIE_AGE, two
	// weeks: the max age of a signed_cookies session.
	DefaultSessionCookieAge = 14 * 24 * time.Hour

	// DefaultSessionCookieName is Django's default SESSION_COOKIE_NAME,
	// which the file backend also puts before each session key to name
	// its file.
	DefaultSessionCookieName = "sessionid"

	// DefaultMaxPayload is the default bound on the JSON that Open returns,
	// after decompression: 1 MiB.
	DefaultMaxPayload = 1 << 20
)

// sentinel is an exported error value that wraps another, so that
// errors.Is finds both.
type sentinel struct {
	msg    string
	parent error
}

func (e *sentinel) Error() string { return e.msg }
func (e *sentinel) Unwrap() error { return e.parent }

// Errors of Open and of what builds on it. All but ErrNoKey wrap
// session.ErrCorrupt, which the engine treats as a missing session (Django
// treats a session it cannot decode as empty). Test for them with
// errors.Is.
var (
	// ErrBadSignature reports a signed value whose signature matches
	// neither the key nor any fallback key: tampered with, signed with
	// another key or salt, or not a signed value at all (Django's
	// BadSignature).
	ErrBadSignature error = &sentinel{"djangosession: bad signature", session.ErrCorrupt}

	// ErrExpiredSignature reports a correctly signed value older than the
	// max age (Django's SignatureExpired). Like SignatureExpired, which
	// subclasses BadSignature, it wraps ErrBadSignature: test for it first.
	ErrExpiredSignature error = &sentinel{"djangosession: signature expired", ErrBadSignature}

	// ErrPayloadTooLarge reports a correctly signed value whose JSON, after
	// decompression, exceeds the signer's MaxPayload. Decompression stops
	// at the bound, so a zip bomb costs about twice MaxPayload of memory at
	// most, whatever it inflates to.
	ErrPayloadTooLarge error = &sentinel{"djangosession: payload too large", session.ErrCorrupt}

	// ErrNoKey is returned when signing or opening without a secret key.
	// Django refuses to run with an empty SECRET_KEY; so does this package.
	ErrNoKey = errors.New("djangosession: empty secret key")
)

// b64 is base64url without padding, strict: Django's b64_encode strips the
// padding, and only one spelling of each payload is accepted.
var b64 = base64.RawURLEncoding.Strict()

// Signer signs and opens values as Django's signing.dumps and
// signing.loads (a TimestampSigner with HMAC-SHA256) do, for data already
// serialized: the signed form is
//
//	["."] base64url(data, or zlib(data) after the ".") ":" base62(unix time) ":" base64url(HMAC-SHA256)
//
// with the HMAC keyed by SHA-256(salt + "signer" + key) over everything
// before the last ":". The "." marks zlib compression, used only when it
// makes data at least two bytes shorter, as Django does.
//
// A Signer is safe for concurrent use as long as its fields are not changed
// meanwhile.
type Signer struct {
	// Key is the secret key that signs (Django's SECRET_KEY).
	Key string
	// FallbackKeys are older keys that Open also accepts, tried in order
	// after Key (Django 4.1+'s SECRET_KEY_FALLBACKS). Signing always uses
	// Key.
	FallbackKeys []string
	// Salt namespaces the signatures; "" means DefaultSalt. (Django itself
	// replaces an explicitly empty salt with
	// "django.core.signing.TimestampSigner".)
	Salt string
	// MaxPayload bounds the JSON Open returns, compressed or not; 0 means
	// DefaultMaxPayload, and more than 1 GiB means 1 GiB.
	MaxPayload int
	// Now is the clock for timestamps and max ages; nil means time.Now.
	Now func() time.Time
}

func (s *Signer) salt() string {
	if s.Salt == "" {
		return DefaultSalt
	}
	return s.Salt
}

func (s *Signer) now() time.Time {
	if s.Now == nil {
		return time.Now()
	}
	return s.Now()
}

// maxPayloadCap caps MaxPayload, so that limit+1 cannot overflow.
const maxPayloadCap = 1 << 30

func (s *Signer) maxPayload() int {
	if s.MaxPayload <= 0 {
		return DefaultMaxPayload
	}
	return min(s.MaxPayload, maxPayloadCap)
}

// signature is Django's Signer.signature: base64url of
// HMAC-SHA256(key=SHA-256(salt + "signer" + secret), value).
func signature(salt, secret, value string) string {
	h := sha256.New()
	h.Write([]byte(salt))
	h.Write([]byte("signer"))
	h.Write([]byte(secret))
	mac := hmac.New(sha256.New, h.Sum(nil))
	// Through a small buffer: a signed value may be large, and []byte(value)
	// would copy all of it.
	var chunk [512]byte
	for len(value) > 0 {
		n := copy(chunk[:], value)
		mac.Write(chunk[:n])
		value = value[n:]
	}
	return b64.EncodeToString(mac.Sum(nil))
}

// Sign returns data signed as signing.dumps(obj, salt=Salt,
// compress=True) signs serializer output: for the same data, key, salt and
// second, the same string, byte for byte when it is not compressed (see
// the package documentation on compression). data is normally JSON from Codec; Django reads it as
// Latin-1, so it should be ASCII.
func (s *Signer) Sign(data []byte) (string, error) {
	if s.Key == "" {
		return "", ErrNoKey
	}
	payload := data
	compressed := false
	if c := compress(data); len(c) < len(data)-1 {
		payload, compressed = c, true
	}
	var b strings.Builder
	b.Grow(b64.EncodedLen(len(payload)) + 1 + 12 + 1 + 43)
	if compressed {
		b.WriteByte('.')
	}
	b.WriteString(b64.EncodeToString(payload))
	b.WriteByte(':')
	b.WriteString(encodeBase62(pythonTime(s.now())))
	value := b.String()
	return value + ":" + signature(s.salt(), s.Key, value), nil
}

// pythonTime is int(time.time()) for t: seconds since the epoch, truncated
// toward zero.
func pythonTime(t time.Time) int64 {
	sec := t.Unix()
	if sec < 0 && t.Nanosecond() > 0 {
		sec++
	}
	return sec
}

// Open checks signed and returns the data it carries, as signing.loads
// does: the signature must match Key or one of FallbackKeys (compared in
// constant time), and when maxAge > 0 the value must have been signed at
// most maxAge ago (older fails with ErrExpiredSignature; Django's max_age
// semantics: an age equal to maxAge passes). maxAge <= 0 checks no age, as
// SessionStore.decode does for the db and file backends.
//
// Only after the signature checks does Open decode the payload: strict
// base64url, then, for a "." payload, zlib decompression bounded by
// MaxPayload. Errors other than ErrNoKey wrap session.ErrCorrupt.
func (s *Signer) Open(signed string, maxAge time.Duration) ([]byte, error) {
	data, _, err := s.open(signed, maxAge)
	return data, err
}

// open is Open, which also returns when the value was signed (whole
// seconds, as the timestamp holds them).
func (s *Signer) open(signed string, maxAge time.Duration) ([]byte, time.Time, error) {
	if s.Key == "" {
		return nil, time.Time{}, ErrNoKey
	}
	i := strings.LastIndexByte(signed, ':')
	if i < 0 {
		return nil, time.Time{}, fmt.Errorf("%w: no \":\" found", ErrBadSignature)
	}
	value, sig := signed[:i], signed[i+1:]
	if !s.verify(value, sig) {
		return nil, time.Time{}, ErrBadSignature
	}

	// TimestampSigner.unsign: the timestamp follows the last ":".
	i = strings.LastIndexByte(value, ':')
	if i < 0 {
		return nil, time.Time{}, fmt.Errorf("%w: djangosession: signed value has no timestamp", session.ErrCorrupt)
	}
	payload, ts := value[:i], value[i+1:]
	sec, err := decodeBase62(ts)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("%w: djangosession: timestamp %q: %v", session.ErrCorrupt, ts, err)
	}
	signedAt := time.Unix(sec, 0)
	if maxAge > 0 {
		// Django: age = time.time() - timestamp; expired if age > max_age.
		age := s.now().Sub(signedAt)
		if age > maxAge {
			return nil, time.Time{}, fmt.Errorf("%w: signature age %v > %v", ErrExpiredSignature, age, maxAge)
		}
	}
	data, err := decodePayload(payload, s.maxPayload())
	return data, signedAt, err
}

// verify reports whether sig is the signature of value with Key or one of
// FallbackKeys, in that order, as Django 4.1+'s Signer.unsign checks it.
func (s *Signer) verify(value, sig string) bool {
	salt := s.salt()
	if subtle.ConstantTimeCompare([]byte(sig), []byte(signature(salt, s.Key, value))) == 1 {
		return true
	}
	for _, key := range s.FallbackKeys {
		if subtle.ConstantTimeCompare([]byte(sig), []byte(signature(salt, key, value))) == 1 {
			return true
		}
	}
	return false
}

// decodePayload decodes the base64url payload of a signed value,
// decompressing it when it starts with ".", and refuses JSON larger than
// limit.
func decodePayload(payload string, limit int) ([]byte, error) {
	compressed := strings.HasPrefix(payload, ".")
	if compressed {
		payload = payload[1:]
	}
	if n := b64.DecodedLen(len(payload)); !compressed && n > limit {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrPayloadTooLarge, n, limit)
	}
	raw, err := b64.DecodeString(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: djangosession: base64: %v", session.ErrCorrupt, err)
	}
	if !compressed {
		return raw, nil
	}
	br := bytes.NewReader(raw)
	zr, err := getInflater(br)
	if err != nil {
		return nil, fmt.Errorf("%w: djangosession: zlib: %v", session.ErrCorrupt, err)
	}
	defer inflaters.Put(zr)
	out, err := readAtMost(zr, limit, 4*len(raw))
	if err != nil {
		return nil, err
	}
	// The stream ended (readAtMost saw io.EOF, after the checksum matched);
	// nothing may follow it. (Python's zlib.decompress ignores trailing
	// bytes; Django never writes any.)
	if br.Len() != 0 {
		return nil, fmt.Errorf("%w: djangosession: zlib: %d bytes after the stream", session.ErrCorrupt, br.Len())
	}
	return out, nil
}

// inflaters holds zlib readers for reuse: each holds some 40 KiB of
// window and tables.
var inflaters sync.Pool

// getInflater returns a zlib reader of r, from the pool when it has one.
func getInflater(r io.Reader) (io.ReadCloser, error) {
	if zr, ok := inflaters.Get().(io.ReadCloser); ok {
		if err := zr.(zlib.Resetter).Reset(r, nil); err != nil {
			inflaters.Put(zr)
			return nil, err
		}
		return zr, nil
	}
	return zlib.NewReader(r)
}

// readAtMost reads r to its end into a buffer that starts at about hint
// bytes and doubles, up to limit+1 bytes, and fails with
// ErrPayloadTooLarge as soon as there is more than limit: what it allocates
// stays under about twice the smaller of limit and the data.
func readAtMost(r io.Reader, limit, hint int) ([]byte, error) {
	buf := make([]byte, 0, min(max(hint, 512), limit+1))
	for {
		if len(buf) == cap(buf) {
			if len(buf) > limit {
				return nil, fmt.Errorf("%w: more than %d bytes after decompression", ErrPayloadTooLarge, limit)
			}
			grown := make([]byte, len(buf), min(2*cap(buf), limit+1))
			copy(grown, buf)
			buf = grown
		}
		n, err := r.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			if len(buf) > limit {
				return nil, fmt.Errorf("%w: more than %d bytes after decompression", ErrPayloadTooLarge, limit)
			}
			return buf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: djangosession: zlib: %v", session.ErrCorrupt, err)
		}
	}
}

const base62Digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// encodeBase62 is Django's base62.encode (baseconv, or signing.b62_encode
// in Django 4+): "0" for zero, a leading "-" for negative numbers.
func encodeBase62(n int64) string {
	if n == 0 {
		return "0"
	}
	var buf [13]byte
	i := len(buf)
	u := uint64(n)
	if n < 0 {
		u = uint64(-n)
	}
	for u > 0 {
		i--
		buf[i] = base62Digits[u%62]
		u /= 62
	}
	if n < 0 {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

// decodeBase62 is Django's base62.decode, limited to what fits in an
// int64.
func decodeBase62(s string) (int64, error) {
	neg := strings.HasPrefix(s, "-")
	if neg {
		s = s[1:]
	}
	if s == "" {
		return 0, errors.New("empty")
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		d := strings.IndexByte(base62Digits, s[i])
		if d < 0 {
			return 0, fmt.Errorf("invalid base62 digit %q", s[i])
		}
		if n > (1<<63-1-uint64(d))/62 {
			return 0, errors.New("out of range")
		}
		n = n*62 + uint64(d)
	}
	if neg {
		return -int64(n), nil
	}
	return int64(n), nil
}

// Dumps encodes values with Codec and signs them: Django's
// signing.dumps(values, salt=Salt, compress=True).
func (s *Signer) Dumps(values map[string]any) (string, error) {
	data, err := Codec{}.Encode(nil, values)
	if err != nil {
		return "", err
	}
	return s.Sign(data)
}

// Loads opens signed and decodes the JSON object it carries with Codec:
// Django's signing.loads(signed, salt=Salt, max_age=maxAge) for a dict.
// maxAge <= 0 checks no age.
func (s *Signer) Loads(signed string, maxAge time.Duration) (map[string]any, error) {
	data, err := s.Open(signed, maxAge)
	if err != nil {
		return nil, err
	}
	return Codec{}.Decode(data)
}

// Settings are the Django settings that session data depends on. Its
// methods read and write the session data of Django's backends. A Settings
// is safe for concurrent use as long as its fields are not changed
// meanwhile.
type Settings struct {
	// SecretKey is SECRET_KEY.
	SecretKey string
	// SecretKeyFallbacks is SECRET_KEY_FALLBACKS (Django 4.1+): older keys
	// still accepted when decoding.
	SecretKeyFallbacks []string
	// SessionCookieAge is SESSION_COOKIE_AGE: the max age of signed_cookies
	// sessions, and how long a file session lives after its last save
	// unless it has an expiry of its own; 0 means DefaultSessionCookieAge.
	SessionCookieAge time.Duration
	// SessionCookieName is SESSION_COOKIE_NAME, the name of the session
	// cookie and the prefix of the file backend's file names; "" means
	// DefaultSessionCookieName.
	SessionCookieName string
	// MaxPayload bounds decoded JSON; 0 means DefaultMaxPayload.
	MaxPayload int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Signer returns a Signer with the settings' keys, bound, clock and the
// given salt.
func (c *Settings) Signer(salt string) *Signer {
	return &Signer{
		Key:          c.SecretKey,
		FallbackKeys: c.SecretKeyFallbacks,
		Salt:         salt,
		MaxPayload:   c.MaxPayload,
		Now:          c.Now,
	}
}

func (c *Settings) cookieName() string {
	if c.SessionCookieName == "" {
		return DefaultSessionCookieName
	}
	return c.SessionCookieName
}

func (c *Settings) now() time.Time {
	if c.Now == nil {
		return time.Now()
	}
	return c.Now()
}

func (c *Settings) cookieAge() time.Duration {
	if c.SessionCookieAge <= 0 {
		return DefaultSessionCookieAge
	}
	return c.SessionCookieAge
}

// EncodeSession returns the session data Django's SessionStore.encode
// writes for values (the session_data column of the db backend, the
// content of a file backend's file): signing.dumps with SessionSalt,
// compressed when shorter.
func (c *Settings) EncodeSession(values map[string]any) (string, error) {
	return c.Signer(SessionSalt).Dumps(values)
}

// DecodeSession reads session data as SessionStore.decode does: signature
// checked against SecretKey and the fallbacks, no max age (the db and file
// backends expire sessions by their own expiry date). Where Django returns
// an empty session for bad data, DecodeSession returns an error wrapping
// session.ErrCorrupt.
func (c *Settings) DecodeSession(data string) (map[string]any, error) {
	return c.Signer(SessionSalt).Loads(data, 0)
}

// EncodeCookie returns the cookie value of the signed_cookies backend for
// values: signing.dumps with CookieSalt, compressed when shorter.
func (c *Settings) EncodeCookie(values map[string]any) (string, error) {
	return c.Signer(CookieSalt).Dumps(values)
}

// DecodeCookie reads the cookie value of the signed_cookies backend as its
// load does: CookieSalt, with SessionCookieAge as the max age. Where Django
// starts a new session, DecodeCookie returns an error wrapping
// session.ErrCorrupt (ErrExpiredSignature for an old cookie).
func (c *Settings) DecodeCookie(value string) (map[string]any, error) {
	return c.Signer(CookieSalt).Loads(value, c.cookieAge())
}

// compress returns data compressed into a zlib stream at the default
// level. Python's zlib writes other bytes for the same input; both read
// the other's.
func compress(data []byte) []byte {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	_, _ = w.Write(data) // a bytes.Buffer does not fail
	_ = w.Close()
	return b.Bytes()
}
