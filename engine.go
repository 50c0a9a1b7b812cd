package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"
)

// Options configures an Engine. Start from DefaultOptions and change what
// you need; New copies the struct, so later changes do not affect the
// engine.
//
// Zero values of CookieName, CookieAge, CookiePath, Codec, SweepInterval,
// Logger, ErrorHandler and Now select the defaults given below; booleans and
// CookieSameSite are used as they are.
type Options struct {
	// CookieName is the session cookie's name. Default "sessionid".
	CookieName string
	// CookieAge is how long a session lives after its last save, and the
	// cookie's Max-Age. Default two weeks.
	CookieAge time.Duration
	// CookieDomain is the cookie's Domain attribute. Default "" (host only).
	CookieDomain string
	// CookiePath is the cookie's Path attribute. Default "/".
	CookiePath string
	// CookieSecure sets the cookie's Secure attribute. Default false; set it
	// for sites served over HTTPS.
	CookieSecure bool
	// CookieHTTPOnly hides the cookie from JavaScript. Default true.
	CookieHTTPOnly bool
	// CookieSameSite is the cookie's SameSite attribute. Default
	// http.SameSiteLaxMode. http.SameSiteNoneMode requires CookieSecure.
	CookieSameSite http.SameSite
	// ExpireAtBrowserClose makes session cookies browser-session cookies
	// (no Max-Age) unless a session chooses otherwise. Default false.
	ExpireAtBrowserClose bool
	// SaveEveryRequest saves every non-empty session at the end of each
	// request, refreshing its expiry, even when it was not modified.
	// Default false.
	SaveEveryRequest bool

	// IdleTimeout, when positive, also expires a session that has not been
	// used for this long, whatever its CookieAge or custom expiry. A request
	// that loads the session extends it; to keep writes rare, the extension
	// is written only once a tenth of the timeout has passed since the last
	// one. Default 0 (off).
	IdleTimeout time.Duration
	// Codec encodes session data. Default MsgpackCodec.
	Codec Codec
	// SweepInterval is how often the background sweeper removes expired
	// sessions from stores that implement Sweeper (with ±10% jitter).
	// Default one minute; negative disables the sweeper.
	SweepInterval time.Duration
	// Logger receives warnings (corrupt records, failed sweeps) and errors.
	// Default slog.Default().
	Logger *slog.Logger
	// ErrorHandler writes the response when committing a session fails. err
	// wraps ErrSessionInterrupted when the session was deleted during the
	// request. Default: log the error, then answer 400 Bad Request for
	// ErrSessionInterrupted and 500 Internal Server Error otherwise.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)
	// Now returns the current time. Default time.Now; tests set a fake
	// clock.
	Now func() time.Time
}

// DefaultOptions returns Django's defaults in a new Options.
func DefaultOptions() *Options {
	return &Options{
		CookieName:     "sessionid",
		CookieAge:      14 * 24 * time.Hour,
		CookiePath:     "/",
		CookieHTTPOnly: true,
		CookieSameSite: http.SameSiteLaxMode,
		SweepInterval:  time.Minute,
	}
}

// Engine loads and saves sessions in a Store and provides the HTTP
// middleware. It is safe for concurrent use. The engine never closes its
// store: the caller owns it.
type Engine struct {
	store   Store
	updater Updater // store as an Updater, nil when it is not one
	sealer  Sealer  // store as a Sealer (sessions in the cookie), or nil
	opts    Options
	log     *slog.Logger
	sweeper *sweeper // nil when the store cannot sweep or sweeping is off
}

// New returns an engine that keeps sessions in store. A nil opts means
// DefaultOptions(). If the store implements Sweeper and SweepInterval is not
// negative, New starts a background sweeper; Close stops it.
func New(store Store, opts *Options) (*Engine, error) {
	if store == nil {
		return nil, errors.New("session: New: nil store")
	}
	if opts == nil {
		opts = DefaultOptions()
	}
	o := *opts
	def := DefaultOptions()
	if o.CookieName == "" {
		o.CookieName = def.CookieName
	}
	if o.CookieAge == 0 {
		o.CookieAge = def.CookieAge
	}
	if o.CookiePath == "" {
		o.CookiePath = def.CookiePath
	}
	if o.SweepInterval == 0 {
		o.SweepInterval = def.SweepInterval
	}
	if o.Codec == nil {
		o.Codec = MsgpackCodec{}
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	e := &Engine{store: store, opts: o, log: o.Logger}
	if err := e.validate(); err != nil {
		return nil, err
	}
	if o.ErrorHandler == nil {
		e.opts.ErrorHandler = e.defaultErrorHandler
	}
	e.updater, _ = store.(Updater)
	e.sealer, _ = store.(Sealer)
	if sw, ok := store.(Sweeper); ok && o.SweepInterval > 0 {
		e.sweeper = startSweeper(sw, o.SweepInterval, e.log, time.After)
	}
	return e, nil
}

func (e *Engine) validate() error {
	o := &e.opts
	if err := e.baseCookie(newID()).Valid(); err != nil {
		return fmt.Errorf("session: invalid cookie options: %w", err)
	}
	if o.CookieAge < time.Second {
		return fmt.Errorf("session: CookieAge %v is under one second", o.CookieAge)
	}
	if o.IdleTimeout < 0 {
		return fmt.Errorf("session: negative IdleTimeout %v", o.IdleTimeout)
	}
	if o.CookieSameSite == http.SameSiteNoneMode && !o.CookieSecure {
		return errors.New("session: CookieSameSite None requires CookieSecure (browsers reject it otherwise)")
	}
	return nil
}

// Close stops the background sweeper and waits for it to finish. It does
// not close the store. Close is idempotent.
func (e *Engine) Close() error {
	if e.sweeper != nil {
		e.sweeper.stop()
	}
	return nil
}

// Options returns a copy of the engine's effective options.
func (e *Engine) Options() Options { return e.opts }

func (e *Engine) now() time.Time { return e.opts.Now() }

// Load returns the session with the given ID, looked up in the store now.
// For an unknown, malformed, expired, flushed or corrupt record it returns a
// new empty session whose ID is ""; the ID is never adopted, and no record is
// created. An error is returned only when the store fails, along with an
// empty session that Save refuses to write.
//
// The returned session has Accessed and Modified false.
func (e *Engine) Load(ctx context.Context, id string) (*Session, error) {
	s := e.newSession(ctx, id)
	s.mu.Lock()
	defer s.mu.Unlock()
	e.loadInto(ctx, s)
	return s, s.loadErr
}

// newSession returns a session for id that is not loaded yet.
func (e *Engine) newSession(ctx context.Context, id string) *Session {
	if !e.acceptsID(id) {
		id = ""
	}
	return &Session{engine: e, ctx: ctx, id: id}
}

// maxCookieLen is what browsers keep of a cookie's name and value.
const maxCookieLen = 4096

// acceptsID reports whether a cookie value is worth looking up: an ID of the
// exact shape this package issues, or, with a Sealer, a value a browser
// could have kept (the store then verifies it).
func (e *Engine) acceptsID(v string) bool {
	if e.sealer != nil {
		return v != "" && len(e.opts.CookieName)+1+len(v) <= maxCookieLen
	}
	return ValidID(v)
}

// loadInto fills s from the store. s.mu must be held.
func (e *Engine) loadInto(ctx context.Context, s *Session) {
	s.loaded = true
	s.values = map[string]any{}
	s.ctx = nil
	if s.id == "" {
		return
	}
	if ctx == nil {
		ctx = context.Background()
	}
	rec, err := e.store.Load(ctx, s.storeKey())
	switch {
	case errors.Is(err, ErrCorrupt):
		e.dropCorrupt(ctx, s, err)
		return
	case errors.Is(err, ErrNotFound):
		s.setID("")
		return
	case err != nil:
		s.loadErr = fmt.Errorf("session: load: %w", err)
		e.log.ErrorContext(ctx, "session: load failed", "err", err)
		return
	case rec.Expired(e.now()):
		s.setID("")
		return
	}
	values, exp, err := decodeRecord(rec.Data, e.opts.Codec)
	if err != nil {
		e.dropCorrupt(ctx, s, err)
		return
	}
	s.values, s.expiry, s.stored, s.recExpires = values, exp, true, rec.Expires
	s.userID = rec.UserID
}

// dropCorrupt handles a record that the store or the codec found corrupt,
// Django's "Session data corrupted": it is logged and the visitor gets a new
// session; the record stays for the sweeper. s.mu must be held.
func (e *Engine) dropCorrupt(ctx context.Context, s *Session, err error) {
	e.log.WarnContext(ctx, "session: data corrupted, starting a new session",
		"key", s.storeKey(), "err", err)
	s.setID("")
}

// Save writes the session to the store, giving it an ID on its first save.
// A session that was loaded from the store is committed only if its record
// still exists: otherwise Save returns an error wrapping
// ErrSessionInterrupted and writes nothing. With a store that implements
// Updater the check and the write are one atomic step; with other stores a
// delete that lands between them can still be overwritten.
//
// A successful Save clears Modified.
func (e *Engine) Save(ctx context.Context, s *Session) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadLocked()
	return e.saveLocked(ctx, s)
}

// saveLocked implements Save. s.mu must be held and s loaded.
//
// A new session is created whole. A stored one is committed only if its
// record still exists, and, with a store that implements Updater, by
// applying this session's changes to the record as it is in the store now
// (merge), so concurrent requests that change different keys all persist.
// Clear and Flush replace the whole record by design, as does every commit
// to a store without Updater (the later writer wins).
func (e *Engine) saveLocked(ctx context.Context, s *Session) error {
	if s.loadErr != nil {
		return s.loadErr
	}
	if err := s.setErrLocked(); err != nil {
		return err
	}
	now := e.now()
	if e.sealer != nil {
		return e.sealLocked(s, now)
	}
	if s.stored && e.updater != nil && !s.cleared {
		return e.mergeLocked(ctx, s, now)
	}
	rec, done, err := e.encodeLocked(s, now)
	if err != nil {
		return err
	}
	defer done()
	if !s.stored {
		id := newID()
		key := StoreKey(id)
		if err := e.store.Save(ctx, key, rec); err != nil {
			return fmt.Errorf("session: save: %w", err)
		}
		s.id, s.key = id, key
	} else if err := e.commitExisting(ctx, s.storeKey(), func(Record) Record { return rec }); err != nil {
		return err
	}
	s.savedLocked(rec.Expires)
	return nil
}

// sealLocked saves s into a new cookie value, for stores that keep sessions
// in the cookie.
func (e *Engine) sealLocked(s *Session, now time.Time) error {
	rec, done, err := e.encodeLocked(s, now)
	if err != nil {
		return err
	}
	defer done()
	value, err := e.sealer.Seal(rec, maxCookieLen-len(e.opts.CookieName)-1)
	if err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	s.id, s.key = value, value
	s.savedLocked(rec.Expires)
	return nil
}

// mergeLocked commits s by merging its changes into the stored record
// inside the store's atomic update.
func (e *Engine) mergeLocked(ctx context.Context, s *Session, now time.Time) error {
	buf := encodeBuffers.Get().(*[]byte)
	defer putEncodeBuffer(buf)
	var merged Record
	var mergedExp expiry
	err := e.updater.Update(ctx, s.storeKey(), func(cur Record, found bool) (Record, error) {
		if !found {
			return Record{}, ErrSessionInterrupted
		}
		data, exp, err := mergeRecord((*buf)[:0], cur.Data, e.opts.Codec, s)
		if errors.Is(err, ErrCorrupt) {
			// The stored record cannot be read any more: this session's
			// view replaces it.
			exp = s.expiry
			data, err = encodeRecord((*buf)[:0], e.opts.Codec, s.values, exp)
		}
		if err != nil {
			return Record{}, err
		}
		*buf = data
		uid := cur.UserID
		if s.userChanged {
			uid = s.userID
		}
		merged = Record{Data: data, Expires: e.recordExpiry(exp, now), UserID: uid}
		mergedExp = exp
		return merged, nil
	})
	switch {
	case errors.Is(err, ErrSessionInterrupted):
		return err
	case errors.Is(err, ErrUnsupportedValue):
		return fmt.Errorf("session: encode: %w", err)
	case err != nil:
		return fmt.Errorf("session: save: %w", err)
	}
	s.expiry, s.userID = mergedExp, merged.UserID
	s.savedLocked(merged.Expires)
	return nil
}

// encodeLocked encodes s into a record expiring as of now, in a pooled
// buffer that done returns to the pool. s.mu must be held.
func (e *Engine) encodeLocked(s *Session, now time.Time) (rec Record, done func(), err error) {
	buf := encodeBuffers.Get().(*[]byte)
	data, err := encodeRecord((*buf)[:0], e.opts.Codec, s.values, s.expiry)
	*buf = data
	done = func() { putEncodeBuffer(buf) }
	if err != nil {
		done()
		return Record{}, nil, fmt.Errorf("session: encode: %w", err)
	}
	return Record{Data: data, Expires: e.recordExpiry(s.expiry, now), UserID: s.userID}, done, nil
}

// refreshLocked pushes the stored record's expiry forward without rewriting
// its data, so a request that only read the session cannot overwrite what a
// concurrent request saved. Without an Updater it falls back to a full save.
func (e *Engine) refreshLocked(ctx context.Context, s *Session, now time.Time) error {
	if e.updater == nil || e.sealer != nil {
		return e.saveLocked(ctx, s)
	}
	expires := e.recordExpiry(s.expiry, now)
	err := e.commitExisting(ctx, s.storeKey(), func(cur Record) Record {
		return Record{Data: cur.Data, Expires: expires, UserID: cur.UserID}
	})
	if err != nil {
		return err
	}
	s.recExpires = expires
	return nil
}

// commitExisting replaces the record under key by next(current record),
// only if the record still exists: otherwise it returns
// ErrSessionInterrupted. With an Updater the check and the write are atomic.
func (e *Engine) commitExisting(ctx context.Context, key string, next func(cur Record) Record) error {
	if e.updater != nil {
		err := e.updater.Update(ctx, key, func(cur Record, found bool) (Record, error) {
			if !found {
				return Record{}, ErrSessionInterrupted
			}
			return next(cur), nil
		})
		if err != nil && !errors.Is(err, ErrSessionInterrupted) {
			return fmt.Errorf("session: save: %w", err)
		}
		return err
	}
	cur, err := e.store.Load(ctx, key)
	if errors.Is(err, ErrNotFound) {
		return ErrSessionInterrupted
	} else if err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	if err := e.store.Save(ctx, key, next(cur)); err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	return nil
}

// retire removes the record under key, failing with ErrSessionInterrupted if
// it is already gone. With an Updater the check is atomic: the record is
// first expired in place (an expired record is invisible to Load), then
// deleted.
func (e *Engine) retire(ctx context.Context, key string) error {
	if e.updater != nil {
		err := e.updater.Update(ctx, key, func(_ Record, found bool) (Record, error) {
			if !found {
				return Record{}, ErrSessionInterrupted
			}
			return Record{}, nil // expired: gone for Load, the sweeper or Delete removes it
		})
		if err != nil {
			if errors.Is(err, ErrSessionInterrupted) {
				return err
			}
			return fmt.Errorf("delete old record: %w", err)
		}
	} else if _, err := e.store.Load(ctx, key); errors.Is(err, ErrNotFound) {
		return ErrSessionInterrupted
	}
	if err := e.store.Delete(ctx, key); err != nil {
		e.log.WarnContext(ctx, "session: deleting an expired record failed; the sweeper will remove it",
			"key", key, "err", err)
	}
	return nil
}

// encodeBuffers recycles the buffers records are encoded into; stores copy
// what they keep.
var encodeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func putEncodeBuffer(b *[]byte) {
	if cap(*b) <= 64<<10 {
		encodeBuffers.Put(b)
	}
}

type contextKey struct{}

// FromContext returns the session the middleware put in ctx, or nil when no
// middleware ran.
func FromContext(ctx context.Context) *Session {
	s, _ := ctx.Value(contextKey{}).(*Session)
	return s
}

// NewContext returns a copy of ctx that carries s, for tests of handlers
// that call FromContext.
func NewContext(ctx context.Context, s *Session) context.Context {
	return context.WithValue(ctx, contextKey{}, s)
}

func (e *Engine) defaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, ErrSessionInterrupted) {
		e.log.WarnContext(r.Context(), "session: interrupted", "path", r.URL.Path, "err", err)
		http.Error(w, "The request's session was deleted before the request completed. "+
			"The user may have logged out in a concurrent request, for example.", http.StatusBadRequest)
		return
	}
	e.log.ErrorContext(r.Context(), "session: commit failed", "path", r.URL.Path, "err", err)
	http.Error(w, http.StatusText(http.StatusInternalServerError), http.StatusInternalServerError)
}
