// Package djangosession reads and writes Django's session data, byte for
// byte as Django does: the session_data of the db, cached_db and file
// backends, and the cookie of the signed_cookies backend. It is the format
// layer for sharing sessions with a Django application; it has no store of
// its own.
//
// # Format
//
// Django serializes the session dict with its JSONSerializer and signs it
// with signing.dumps(..., compress=True), a TimestampSigner:
//
//	["."] base64url(json, or zlib(json) after the ".") ":" base62(unix seconds) ":" base64url(HMAC-SHA256)
//
// base64url without padding; base62 with the digits 0-9A-Za-z; the HMAC is
// keyed with SHA-256(salt + "signer" + SECRET_KEY) and covers everything
// before the last ":". The JSON is json.dumps(obj, separators=(",", ":")),
// pure ASCII. The "." marks a zlib-compressed payload, used only when the
// compressed JSON is at least two bytes shorter. Settings.EncodeSession and
// DecodeSession handle the db and file format (salt SessionSalt, no max
// age: those backends expire sessions through their own expiry date);
// EncodeCookie and DecodeCookie the signed_cookies one (salt CookieSalt,
// max age SESSION_COOKIE_AGE). Signer works at the level of signing.dumps
// and signing.loads, for any salt; Codec is the JSON alone, as a
// session.Codec.
//
// Encoding is byte-for-byte what Django writes for the same dict at the
// same second, with two conditions. Object keys are written in sorted order,
// where Python writes a dict's insertion order (Go maps have none), so a
// dict built in another order gives other, equally valid, bytes. And a
// compressed payload is Go's zlib stream (compress/zlib), not the bytes
// Python's zlib writes for the same JSON: each side reads the other's, and
// the rule for compressing (only when it saves at least two bytes) is
// Django's, applied to Go's stream.
//
// # Types
//
// Django's JSON has fewer types than the session model. Codec maps them so
// that every value that encodes reads back with the same type and value,
// in Go and in Python:
//
//	Go value               Django JSON                    Python     Go after Decode
//	nil                    null                           None       nil
//	bool                   true, false                    bool       bool
//	int64 (any int kind)   -12                            int        int64
//	uint64                 18446744073709551615           int        uint64 (above MaxInt64 only)
//	float64, float32       1.0, 0.1, 1e+16, 1.5e-07       float      float64
//	NaN, +Inf, -Inf        NaN, Infinity, -Infinity       float      float64
//	string                 "caf\u00e9 \ud83d\ude00"       str        string
//	[]any, slices, arrays  [1,"a"]                        list       []any
//	map[string]any         {"a":1,"b":2} (keys sorted)    dict       map[string]any
//	[]byte, time.Time,     not encoded: the error wraps
//	structs, funcs...      session.ErrUnsupportedValue
//	                       and names the key
//
// Floats are written as Python's repr writes them, so a whole float keeps
// its ".0" and Python reads a float back, and Go reads a float64 back.
// Numbers without a fraction or exponent decode as int64, or uint64 when
// above math.MaxInt64; Python integers beyond the uint64 range, which Django
// can store, fail to decode with an error wrapping session.ErrCorrupt,
// rather than be rounded. Strings are written as ensure_ascii does:
// printable ASCII as is, everything else \u-escaped in lowercase hex, with
// surrogate pairs beyond the BMP; strings that are not valid UTF-8 are not
// encoded. Decode reads its input as Latin-1, as Django does, so a byte
// above 0x7F is the character of that code point. A \u escape of a lone
// surrogate, which a Python string may hold but UTF-8 cannot, decodes as
// U+FFFD. NaN and the infinities follow Python's json module, which writes
// and reads them, although standard JSON has no spelling for them. Nesting
// is bounded at 64 levels below the session map, as in the session model.
//
// Django has no bytes or datetime in JSON: store base64 or ISO 8601
// strings, as a Django application would. Session.Set's type model turns
// structs into maps before they reach the codec.
//
// # Keys and special values
//
// NewSessionKey makes session keys as Django does (32 characters of
// [a-z0-9] from crypto/rand) and ValidSessionKey checks that shape. Django
// keeps its own values in the session dict: ExpiryKey (set_expiry; see
// ReadExpiry and Expiry), UserIDKey, UserBackendKey and UserHashKey
// (django.contrib.auth's login; see UserID).
//
// # Errors
//
// Everything that cannot be decoded wraps session.ErrCorrupt, which the
// engine treats as a missing session, as Django treats bad session data as
// an empty session: a bad signature (ErrBadSignature, also for a wrong key
// or salt), an expired one (ErrExpiredSignature, which wraps
// ErrBadSignature as Django's SignatureExpired subclasses BadSignature), a
// payload larger than MaxPayload after decompression (ErrPayloadTooLarge),
// bad base64, zlib or JSON. The signature is checked first, in constant
// time, against the key and then each fallback key, before anything else
// is decoded.
//
// # Concurrency and durability
//
// Everything here is pure computation. Codec, and Signer and Settings whose
// fields are not changed meanwhile, are safe for concurrent use. Nothing is
// kept between calls, so a crash loses nothing.
//
// # Compatibility
//
// The tests check all of this against Django itself (the Debian package
// python3-django, Django 3.2; scripts/django-deps.sh installs it): Go writes
// and Django reads, Django writes and Go reads, byte-for-byte equal output
// for the same second, tampering, wrong and rotated keys, and max ages. The
// format is unchanged in Django 4.x and 5.x, which add SECRET_KEY_FALLBACKS
// (Signer.FallbackKeys here). Django 3.1 and 3.2 also accept legacy SHA-1
// signatures and the pre-3.1 session format, during their transition from
// SHA-1; this package reads neither.
package djangosession
