package session

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
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
	// IDs decides the shape of session IDs and the store key of each.
	// Default DefaultIDs (256-bit IDs, hashed at rest). Stores that check
	// their keys accept only DefaultIDs' keys unless they say otherwise.
	IDs IDScheme
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
	store   Store   // for the tools: Range, UserSessions, DeleteUser
	backend backend // where sessions live: see persist.go
	opts    Options
	log     *slog.Logger
	sweeper *sweeper     // nil when the store cannot sweep or sweeping is off
	cookie  *cookieAttrs // the session cookie's fixed attributes, rendered
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
	if o.IDs == nil {
		o.IDs = DefaultIDs
	}
	e := &Engine{store: store, opts: o, log: o.Logger}
	if err := e.validate(); err != nil {
		return nil, err
	}
	if o.ErrorHandler == nil {
		e.opts.ErrorHandler = e.defaultErrorHandler
	}
	e.cookie = e.newCookieAttrs()
	e.backend = newBackend(store, e.log, o.CookieName, o.IDs)
	if sw, ok := As[Sweeper](store); ok && o.SweepInterval > 0 {
		e.sweeper = startSweeper(sw, o.SweepInterval, e.log, time.After)
	}
	return e, nil
}

func (e *Engine) validate() error {
	o := &e.opts
	if err := e.baseCookie(o.IDs.NewID()).Valid(); err != nil {
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
	e.load(ctx, s)
	return s, s.loadErr
}

// newSession returns a session for id that is not loaded yet.
func (e *Engine) newSession(ctx context.Context, id string) *Session {
	if !e.backend.accepts(id) {
		id = ""
	}
	return &Session{engine: e, ctx: ctx, id: id}
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
	return e.save(ctx, s, e.now())
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
