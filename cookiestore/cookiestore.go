// Package cookiestore keeps the whole session in the cookie, like Django's
// signed_cookies backend, but encrypted by default, with key rotation, and
// with every expiry choice honoured.
//
// # Basics
//
//	store, err := cookiestore.New(secret)           // 32 or more random bytes
//	engine, err := session.New(store, nil)
//
// The engine seals each saved session into the cookie value (see
// session.Sealer) and opens it on the next request; nothing is kept on the
// server. Handlers use the same Session API as with any store: Flush clears
// the cookie, CycleKey issues a new value.
//
// The cookie value is base64url of: a mode byte, a flags byte, then
//
//   - encrypted mode (the default): a 12-byte random nonce and the
//     AES-256-GCM sealing of the payload, with the two header bytes as
//     additional data, so clients can neither read nor alter their session;
//   - signed mode (Options.SignOnly, Django's transparency): the payload in
//     clear and an HMAC-SHA256 of header and payload.
//
// The payload holds the record's expiry (Unix milliseconds), the time it
// was sealed, the owner's user ID and the encoded session. It is sealed as
// it is, so a cookie's length depends only on the length of what it
// carries, never on its content (see # Limits). Options.Compress opts in to
// DEFLATE compression of payloads over 1 KiB, which breaks that: read its
// warning first. Each secret gives, through HKDF-SHA256, one AES key and one
// HMAC key.
//
// # Keys and rotation
//
// New takes one or more secrets of at least 32 bytes: the first seals,
// every one opens. To rotate, put the new secret first and keep the old one
// until the sessions it sealed have expired (Django's SECRET_KEY_FALLBACKS).
//
// # Expiry
//
// The expiry inside the authenticated payload is enforced on every load, so
// a cookie replayed after its expiry is rejected even if the browser kept
// it; unlike Django, per-session SetMaxAge and SetExpiresAt are honoured.
// Options.MaxAge additionally rejects any cookie sealed longer ago than it.
//
// # Limits
//
// A cookie session cannot be revoked from the server before it expires:
// Flush clears the browser's cookie, but a copy of the old value stays
// valid until its expiry (rotate the keys to invalidate every session).
// For the same reason logout does not win a race here as it does with a
// server-side store: a request that loaded the session before a Flush in
// another request and commits after it sends the browser a new cookie that
// opens, holding the session as that request saw it. There is no record
// left on the server to find missing, so session.ErrSessionInterrupted
// never happens with this store.
//
// Browsers keep at most 4096 bytes of a cookie's name and value: a session
// that would not fit fails its save with session.ErrCookieTooLarge, which
// the middleware reports through the engine's ErrorHandler; nothing is ever
// truncated or silently dropped. A payload over 8 KiB fails its save the
// same way even when a caller allows a longer cookie or Options.Compress
// would make it fit: Open refuses anything larger, so Seal does first, and
// no cookie is ever issued that would not open.
//
// Anyone who sees the traffic learns the cookie's length, even through TLS
// and even in the default encrypted mode: encryption hides the bytes, not
// how many there are. By default that length is a function of the length
// of the user ID and of the encoded session only. With the default
// session.MsgpackCodec, that means the number of values, the lengths of
// strings and byte slices, and the magnitude of numbers and times (which
// are encoded compactly), never which characters a string holds;
// session.JSONCodec writes some characters in several bytes (<, >, &,
// quotes, backslashes, control characters, U+2028 and U+2029) and replaces
// each byte of invalid UTF-8 with the three bytes of U+FFFD, so with it the
// length also tells how many of those a string holds. With Options.Compress the length depends on the
// content: it then leaks secrets stored beside attacker-chosen text (see
// Options.Compress).
//
// # Concurrency
//
// A Store is safe for concurrent use. Two concurrent requests of one
// visitor each send back a whole cookie: the browser keeps the last one
// (there is no server-side record to merge into).
//
// # Durability
//
// Nothing is stored on the server, so a server crash loses nothing; a
// session lives as long as the browser keeps its cookie.
package cookiestore

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/sessionkv/session"
)

// Errors of this package.
var (
	// ErrCookieTooLarge is session.ErrCookieTooLarge.
	ErrCookieTooLarge = session.ErrCookieTooLarge
	// ErrShortKey is returned by New for a secret under MinKeyLen bytes.
	ErrShortKey = errors.New("cookiestore: secret key shorter than 32 bytes")
	// ErrNoKeys is returned by New without any secret.
	ErrNoKeys = errors.New("cookiestore: no secret key")
	// ErrNotServerSide is returned by Save: sessions are sealed into the
	// cookie by the engine (session.Sealer), never saved under a key.
	ErrNotServerSide = errors.New("cookiestore: sessions live in the cookie; the engine seals them")
)

// MinKeyLen is the shortest secret New accepts.
const MinKeyLen = 32

// Modes, the first byte of a sealed value.
const (
	modeEncrypted byte = 1
	modeSigned    byte = 2
)

const (
	flagCompressed byte = 1

	nonceLen = 12
	macLen   = sha256.Size
	// maxPayload bounds a payload before compression: Open stops
	// decompressing there (no zip bombs), so Seal refuses a larger payload
	// rather than issue a cookie that would not open.
	maxPayload = 8 << 10
	// maxValueLen bounds the cookie values Open decodes. A value sealed from
	// a payload of at most maxPayload bytes is always shorter, and Seal
	// checks it anyway.
	maxValueLen = 2 * maxPayload
	// compressMin is the smallest payload worth trying to compress: below
	// it a cookie is far from the size limit, and DEFLATE would cost more
	// time than the bytes it saves on the wire.
	compressMin = 1024
)

// Options configures a Store. A nil *Options means the defaults.
type Options struct {
	// SignOnly seals with an HMAC only: the client can read its session but
	// not change it, as with Django's signed cookies. Default false: the
	// session is encrypted and authenticated with AES-256-GCM.
	SignOnly bool
	// Compress compresses a payload over 1 KiB with DEFLATE before sealing
	// it, when that makes it smaller, so that a larger but repetitive
	// session fits in a cookie (still at most 8 KiB before compression).
	// Default false: every payload is sealed as it is.
	//
	// Compression makes the cookie's length, which anyone who sees the
	// traffic learns even through TLS and in either mode, depend on the
	// session's content: it tells how well the session compresses, that is
	// how much of it repeats other parts of it. If a session holds a secret
	// (a CSRF token, a user ID, anything private) beside text an attacker
	// can choose (a search term, a "next" URL, a flash message that quotes
	// input), the attacker can make the victim's browser store guesses and
	// watch the cookie's length: a guess that matches part of the secret
	// compresses better and gives a shorter cookie, and the secret falls a
	// few characters at a time (the CRIME and BREACH attacks). Set Compress
	// only if no session ever holds attacker-influenced text beside
	// anything secret.
	//
	// Open accepts compressed cookies whatever this setting, so it can be
	// turned off without logging anyone out.
	Compress bool
	// MaxAge, when positive, rejects cookies sealed longer ago than this,
	// whatever their own expiry. Default 0: only the expiry counts.
	MaxAge time.Duration
	// Logger receives a warning for each cookie that fails authentication
	// (tampered, truncated, sealed with an unknown key). Default
	// slog.Default().
	Logger *slog.Logger
	// Now returns the current time. Default time.Now; tests set a fake clock.
	Now func() time.Time
}

// Store seals sessions into cookies. It implements session.Store (Load opens
// a cookie value; Save is not used) and session.Sealer.
type Store struct {
	keys []keyPair // keys[0] seals
	opts Options
}

// keyPair is what one secret derives to.
type keyPair struct {
	aead cipher.AEAD
	mac  []byte
}

var (
	_ session.Store  = (*Store)(nil)
	_ session.Sealer = (*Store)(nil)
)

// New returns an encrypting Store: the first secret seals, every secret
// opens. Each secret must be at least MinKeyLen random bytes.
func New(secrets ...[]byte) (*Store, error) {
	return NewWithOptions(nil, secrets...)
}

// NewWithOptions is New with Options.
func NewWithOptions(opts *Options, secrets ...[]byte) (*Store, error) {
	if len(secrets) == 0 {
		return nil, ErrNoKeys
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Store{opts: o}
	for i, secret := range secrets {
		if len(secret) < MinKeyLen {
			return nil, fmt.Errorf("%w (key %d has %d)", ErrShortKey, i, len(secret))
		}
		kp, err := derive(secret)
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, kp)
	}
	return s, nil
}

func derive(secret []byte) (keyPair, error) {
	encKey, err := hkdf.Key(sha256.New, secret, nil, "sessionkv cookiestore v1 encryption", 32)
	if err != nil {
		return keyPair{}, fmt.Errorf("cookiestore: derive key: %w", err)
	}
	macKey, err := hkdf.Key(sha256.New, secret, nil, "sessionkv cookiestore v1 signing", 32)
	if err != nil {
		return keyPair{}, fmt.Errorf("cookiestore: derive key: %w", err)
	}
	block, err := aes.NewCipher(encKey)
	if err != nil {
		return keyPair{}, fmt.Errorf("cookiestore: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return keyPair{}, fmt.Errorf("cookiestore: %w", err)
	}
	return keyPair{aead: aead, mac: macKey}, nil
}

var encoding = base64.RawURLEncoding

// mode is the mode byte of the values s seals, the only one it opens.
func (s *Store) mode() byte {
	if s.opts.SignOnly {
		return modeSigned
	}
	return modeEncrypted
}

// Seal implements session.Sealer. A session whose payload is over 8 KiB
// fails with ErrCookieTooLarge whatever maxLen, as does one whose value
// would be longer than maxLen: every value Seal returns opens until it
// expires.
func (s *Store) Seal(rec session.Record, maxLen int) (string, error) {
	payload, flags, err := s.payload(rec)
	if err != nil {
		return "", err
	}
	raw := s.frame(payload, flags)
	if n := encoding.EncodedLen(len(raw)); n > min(maxLen, maxValueLen) {
		return "", fmt.Errorf("cookiestore: %d bytes sealed, %d allowed: %w", n, min(maxLen, maxValueLen), ErrCookieTooLarge)
	}
	return encoding.EncodeToString(raw), nil
}

// frame seals payload with the first key: header, then the signed payload
// or the nonce and ciphertext.
func (s *Store) frame(payload []byte, flags byte) []byte {
	header := []byte{s.mode(), flags}
	kp := s.keys[0]
	if header[0] == modeSigned {
		raw := append(header, payload...)
		return appendMAC(raw, kp.mac, raw)
	}
	raw := make([]byte, 2+nonceLen, 2+nonceLen+len(payload)+kp.aead.Overhead())
	copy(raw, header)
	nonce := raw[2 : 2+nonceLen]
	_, _ = rand.Read(nonce) // never fails
	return kp.aead.Seal(raw, nonce, payload, header)
}

// expiryMillis returns t in Unix milliseconds, clamped to what an int64
// holds: the milliseconds of an expiry past about 292 million years
// (time.Unix(math.MaxInt64, 0) as "never") would wrap into the past and
// seal a cookie that opens as expired.
func expiryMillis(t time.Time) int64 {
	switch sec := t.Unix(); {
	case sec >= math.MaxInt64/1000:
		return math.MaxInt64
	case sec <= math.MinInt64/1000:
		return math.MinInt64
	}
	return t.UnixMilli()
}

// payload builds the authenticated content of a cookie and says whether it
// is compressed. It refuses a payload over maxPayload before compressing,
// since Open would refuse it after decompressing.
func (s *Store) payload(rec session.Record) ([]byte, byte, error) {
	uidLen := uint64(len(rec.UserID))
	size := 16 + uvarintLen(uidLen) + len(rec.UserID) + len(rec.Data)
	if size > maxPayload {
		return nil, 0, fmt.Errorf("cookiestore: payload of %d bytes, at most %d open: %w", size, maxPayload, ErrCookieTooLarge)
	}
	p := make([]byte, 0, size)
	p = binary.BigEndian.AppendUint64(p, uint64(expiryMillis(rec.Expires)))
	p = binary.BigEndian.AppendUint64(p, uint64(s.opts.Now().Unix()))
	p = binary.AppendUvarint(p, uidLen)
	p = append(p, rec.UserID...)
	p = append(p, rec.Data...)
	if !s.opts.Compress || len(p) < compressMin {
		return p, 0, nil
	}
	if c := compress(p); len(c) < len(p) {
		return c, flagCompressed, nil
	}
	return p, 0, nil
}

// uvarintLen is the length of binary.AppendUvarint's encoding of x.
func uvarintLen(x uint64) int {
	n := 1
	for ; x >= 0x80; x >>= 7 {
		n++
	}
	return n
}

var flateWriters = sync.Pool{New: func() any {
	w, _ := flate.NewWriter(nil, flate.BestSpeed)
	return w
}}

func compress(p []byte) []byte {
	var buf bytes.Buffer
	w := flateWriters.Get().(*flate.Writer)
	w.Reset(&buf)
	_, _ = w.Write(p) // bytes.Buffer writes do not fail
	_ = w.Close()
	flateWriters.Put(w)
	return buf.Bytes()
}

// appendMAC appends to dst the HMAC-SHA256 under key of the parts, one
// after another.
func appendMAC(dst, key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(dst)
}

// Load implements session.Store: key is the cookie value. Any value that is
// not a cookie this store sealed with one of its keys (tampered, truncated,
// garbage, another mode), or whose expiry has passed, gives an error
// wrapping session.ErrNotFound, so the engine starts a new session.
func (s *Store) Load(ctx context.Context, key string) (session.Record, error) {
	if err := ctx.Err(); err != nil {
		return session.Record{}, err
	}
	return s.Open(key)
}

// Open returns the record sealed in value; see Load.
func (s *Store) Open(value string) (session.Record, error) {
	rec, err := s.open(value)
	if err != nil {
		return session.Record{}, fmt.Errorf("%w: cookiestore: %v", session.ErrNotFound, err)
	}
	return rec, nil
}

// errAuth reports a value that no key authenticates.
var errAuth = errors.New("cookie not authentic")

func (s *Store) open(value string) (session.Record, error) {
	if len(value) == 0 || len(value) > maxValueLen {
		return session.Record{}, errors.New("cookie of unusable length")
	}
	raw, err := encoding.Strict().DecodeString(value)
	if err != nil || len(raw) < 2 {
		return session.Record{}, errors.New("cookie is not base64url")
	}
	header, body := raw[:2], raw[2:]
	if header[0] != s.mode() || header[1]&^flagCompressed != 0 {
		return session.Record{}, s.reject(errAuth)
	}
	payload, err := s.authenticate(header, body)
	if err != nil {
		return session.Record{}, s.reject(err)
	}
	if header[1]&flagCompressed != 0 {
		if payload, err = decompress(payload); err != nil {
			return session.Record{}, s.reject(err)
		}
	}
	return s.parse(payload)
}

// reject logs an authentication failure, Django's "Session data corrupted".
func (s *Store) reject(err error) error {
	s.opts.Logger.Warn("cookiestore: session cookie rejected", "err", err)
	return err
}

// authenticate returns the payload if one of the keys authenticates body.
// Every key is tried, so the time taken does not tell which one matched.
func (s *Store) authenticate(header, body []byte) ([]byte, error) {
	var out []byte
	ok := false
	for _, kp := range s.keys {
		if header[0] == modeSigned {
			if len(body) < macLen {
				return nil, errAuth
			}
			msg, mac := body[:len(body)-macLen], body[len(body)-macLen:]
			if hmac.Equal(mac, appendMAC(nil, kp.mac, header, msg)) && !ok {
				out, ok = msg, true
			}
			continue
		}
		if len(body) < nonceLen+kp.aead.Overhead() {
			return nil, errAuth
		}
		if p, err := kp.aead.Open(nil, body[:nonceLen], body[nonceLen:], header); err == nil && !ok {
			out, ok = p, true
		}
	}
	if !ok {
		return nil, errAuth
	}
	return out, nil
}

// flateReaders recycles decompressors: each holds a 32 KiB window.
var flateReaders sync.Pool

func decompress(p []byte) ([]byte, error) {
	var r io.ReadCloser
	if v := flateReaders.Get(); v != nil {
		r = v.(io.ReadCloser)
		if err := r.(flate.Resetter).Reset(bytes.NewReader(p), nil); err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		}
	} else {
		r = flate.NewReader(bytes.NewReader(p))
	}
	defer flateReaders.Put(r)
	out, err := io.ReadAll(io.LimitReader(r, maxPayload+1))
	if err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	if len(out) > maxPayload {
		return nil, errors.New("decompressed payload too large")
	}
	return out, nil
}

// parse reads an authenticated payload and enforces its expiry. The
// record's Data aliases p, which each open allocates afresh.
func (s *Store) parse(p []byte) (session.Record, error) {
	if len(p) < 17 {
		return session.Record{}, errors.New("payload too short")
	}
	expires := time.UnixMilli(int64(binary.BigEndian.Uint64(p)))
	sealed := time.Unix(int64(binary.BigEndian.Uint64(p[8:])), 0)
	n, w := binary.Uvarint(p[16:])
	rest := p[16:]
	if w <= 0 || n > uint64(len(rest)-w) {
		return session.Record{}, errors.New("bad user ID length")
	}
	rest = rest[w:]
	now := s.opts.Now()
	if !now.Before(expires) {
		return session.Record{}, errors.New("cookie expired")
	}
	if s.opts.MaxAge > 0 && now.Sub(sealed) > s.opts.MaxAge {
		return session.Record{}, errors.New("cookie older than MaxAge")
	}
	return session.Record{Data: rest[n:], Expires: expires, UserID: string(rest[:n])}, nil
}

// Save implements session.Store but always fails with ErrNotServerSide: the
// engine seals sessions into the cookie through Seal.
func (s *Store) Save(context.Context, string, session.Record) error { return ErrNotServerSide }

// Delete implements session.Store and does nothing: a session in a cookie
// cannot be revoked from the server. The engine deletes the cookie.
func (s *Store) Delete(context.Context, string) error { return nil }
