// Package djangosession reads and writes Django's session data, byte for
// byte as Django does: the session_data of the db, cached_db and file
// backends, and the cookie of the signed_cookies backend. With it a Go
// service running the session engine shares its sessions with a Django
// application: the engine's codec and ID scheme in Django's format
// (Settings.Options), and stores in the layout of Django's file backend
// (FileStore) and signed_cookies backend (CookieStore). For Django's db
// backend, use sqlstore's DjangoStore; for cached_db, the same table.
//
// # Engine
//
//	st := &djangosession.Settings{SecretKey: os.Getenv("DJANGO_SECRET_KEY")}
//	opts := session.DefaultOptions()
//	st.Options(opts) // Codec, IDs, CookieName and CookieAge as Django's
//	store, err := djangosession.NewFileStore("/var/lib/django/sessions", st, nil)
//	engine, err := session.New(store, opts)
//
// Settings.Options sets the engine's Codec to SessionCodec, a
// session.RecordCodec whose stored record is exactly Django's session_data
// (the expiry choice under ExpiryKey, as set_expiry keeps it; see
// SessionCodec for the mapping) and a session.OwnerCodec whose owner is
// django.contrib.auth's UserIDKey; its IDs to IDs, Django's session keys,
// stored under the key itself; and the cookie's name and age to
// SESSION_COOKIE_NAME and SESSION_COOKIE_AGE. Settings.CookieOptions does
// the same for the signed_cookies backend, with CookieCodec, whose record
// is the cookie. Any other store keeps SessionCodec's records as they are,
// with the Expires and UserID the engine computes.
//
// Expiry follows Django: a session without an expiry of its own, or one
// that expires at browser close, lives SESSION_COOKIE_AGE after its last
// save; SetMaxAge(d) (set_expiry(seconds)) d after its last save;
// SetExpiresAt(t) (set_expiry(datetime)) until t, which Django 3.2 cannot
// read (see SessionCodec). The engine's IdleTimeout has no place in
// Django's formats: the file and cookie stores work every expiry out again
// from the session's data and last save, so leave it 0 with them.
//
// # File backend
//
// FileStore keeps one file per session in a directory, named
// SESSION_COOKIE_NAME followed by the session key ("sessionid" + 32
// characters of [a-z0-9] by default), holding the session data exactly as
// Django writes it, and nothing else: Django and the engine read and write
// the same files. A session's expiry date is worked out on every read, as
// Django's file backend does, from the data and the file's modification
// time (its last save):
//
//	_session_expiry          expiry date (Record.Expires)
//	absent, null or 0        mtime + SESSION_COOKIE_AGE
//	a number of seconds N    mtime + N
//	an isoformat() string    that time
//
// and the session counts as expired once less than a whole second is left
// before that date, since Django's file backend deletes a session whose
// get_expiry_age() is zero or less. One difference, where Django's file
// backend is laxer: for a number N it never expires the file by its age
// (its _expiry_date returns N itself, which get_expiry_age takes as the
// age left, whatever the time), so a session of set_expiry(300) stays
// valid on a Django server for as long as anyone replays its cookie, and
// clearsessions never removes it; here it expires N seconds after its
// last save, when the browser's cookie does. A file that is empty
// (Django's placeholder while it creates a session), or whose data does
// not open with the settings' keys, is no session for Load; Django reads
// either as an empty session. Nor is anything but a regular file: a
// symbolic link named like a session file is never followed (Django would
// follow it), and a FIFO or device is never read, nor waited on. The owner
// (Record.UserID) is UserIDKey's value in the data.
//
// Keys are what Django's file backend accepts: at least MinFileKeyLen
// characters, all of [a-z0-9] (at most MaxFileKeyLen here); anything else
// is refused with ErrInvalidKey before the file system is touched, so no
// path outside the directory is ever built. Writes go to a temporary file
// in the directory (named as Django names its own: the session file's
// name, "_out_" and a random suffix), which is renamed over the session
// file, so readers see a whole version, old or new; files are created
// 0600, as Django's. The store also keeps a directory of lock files,
// .djangosession-locks, which Django ignores. DeleteExpired
// (session.Sweeper) is Django's clearsessions: it removes the expired
// sessions, and temporary files older than FileStoreOptions.TempFileGrace.
// FileStore is also a session.Ranger, session.ExpiredRanger,
// session.Counter and session.Updater, and an io.Closer. It is no
// session.UserIndexer: Django's layout has no index of owners, so the
// engine's UserSessions and DeleteUser are not supported; Range lists the
// sessions with their owners, from which one user's can be deleted.
//
// # Signed cookies
//
// CookieStore is Django's signed_cookies backend as a session.Sealer: the
// cookie value is the signed session (Settings.EncodeCookie), opened with
// SESSION_COOKIE_AGE as its max age. What that backend gives up, this
// store gives up too. The session is signed, not encrypted: anyone who
// holds the cookie, the visitor included, can read every value in it (see
// the cookiestore package for encrypted cookies). No session can be
// revoked from the server: logging out clears the browser's cookie, but a
// copy of the old value opens until it is SESSION_COOKIE_AGE old; only
// changing SECRET_KEY ends them all. The cookie must fit in 4 KiB:
// larger sessions fail their save with session.ErrCookieTooLarge. And a
// session cannot be checked for staleness: two requests that save in turn
// each send a whole cookie, and the browser keeps the last. Django's
// backend also ignores a session's own expiry (set_expiry); this store
// refuses a cookie past it, counted from the cookie's signing time, its
// last save.
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
// # Concurrency
//
// The codecs and stores are safe for concurrent use, and Signer and
// Settings too as long as their fields are not changed meanwhile
// (NewFileStore and NewCookieStore copy their Settings).
//
// FileStore may be shared by any number of FileStores, in one process or
// several, and by Django's processes. Load and Range take no lock: rename
// is atomic, so they see either the previous or the next version of a
// file. Save, Delete, UpdateRecord and the sweeper's removals take the
// key's lock: an in-process lock, then an exclusive flock(2) on one of 64
// lock files, shared by the keys that hash to it. UpdateRecord's
// read-modify-write, through which the engine merges a request's changes
// into the stored session and refuses to bring a deleted one back
// (session.ErrSessionInterrupted), is therefore atomic against every
// FileStore on the directory. Django's own writes take no lock (Django
// chose atomic renames alone: ticket #8616): a Django request and a Go
// request saving one session at once end as the later write, as two Django
// requests do, and a Django save that checked the file exists just before
// a Go logout removed it puts it back, as it would after a Django logout.
// flock(2) locks are not reliable on every network file system.
//
// # Durability
//
// Signing, encoding and CookieStore keep nothing, so a crash loses
// nothing of theirs; a cookie session lives as long as the browser keeps
// its cookie.
//
// FileStore's Save, UpdateRecord and Delete return once the session file
// (or its removal) and the directory entry have been fsynced, unless
// FileStoreOptions.NoSync is set: a crash of the process or of the machine
// then loses nothing acknowledged, and a torn write is never seen, only the
// previous version or the new one. What a crash may leave is a temporary
// file, which the sweeper removes after the grace period. Removals by the
// sweeper are not synced: a crash may bring an expired session back, still
// expired, for the next sweep to remove. Django's own writes are never
// fsynced: a machine crash may lose the sessions Django saved in the last
// seconds, or leave an empty file where Django was creating one. With
// NoSync this store does the same: a process crash loses nothing, but an
// operating system crash or power cut may lose the writes and deletes of
// the last seconds (a logged-out session may come back).
//
// # Compatibility
//
// The tests check all of this against Django itself (the Debian package
// python3-django, Django 3.2; scripts/django-deps.sh installs it): Go writes
// and Django reads, Django writes and Go reads, byte-for-byte equal output
// for the same second, tampering, wrong and rotated keys, and max ages;
// and, for the stores, sessions shared both ways with Django's own file
// and signed_cookies backends: values, owners, updates, deletes, expiry
// choices, each side's verdict on when a file session expires (around
// the one-second boundaries) and what each side's sweep removes. The format is
// unchanged in Django 4.x and 5.x, which add SECRET_KEY_FALLBACKS
// (Signer.FallbackKeys here). Django 3.1 and 3.2 also accept legacy SHA-1
// signatures and the pre-3.1 session format, during their transition from
// SHA-1; this package reads neither.
package djangosession
