package session

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
)

// errResponseReplaced is returned to a handler that writes after the
// session commit failed and the ErrorHandler wrote the response instead.
var errResponseReplaced = errors.New("session: response replaced by the session error handler")

// Middleware makes a session available to next through FromContext and
// commits it, Django's SessionMiddleware:
//
//   - The session cookie is read; a value that is not a well-formed ID (with
//     a Sealer store, one too long for a browser to have kept) is dropped
//     before any store call. Nothing is loaded until the handler
//     first uses the session.
//   - The session is committed just before the response starts: at the
//     first WriteHeader, Write, Flush (also through http.ResponseController)
//     or Hijack, or when the handler returns. Changes made before that are
//     never lost, and the status is known.
//   - A modified (or, with SaveEveryRequest, any) non-empty session is saved
//     unless the status is 500 or above, and its cookie is set: with Max-Age
//     and Expires from ExpiryAge, or as a browser-session cookie. A session
//     that was only read has its expiry pushed forward, not its data
//     rewritten.
//   - A session that became empty (Flush) has its cookie deleted, if the
//     request carried one.
//   - "Vary: Cookie" is added whenever the session was accessed.
//   - A failed commit goes to Options.ErrorHandler, which writes the response
//     instead of the handler (the handler's headers are dropped, but Vary);
//     a session deleted meanwhile (ErrSessionInterrupted) gets 400 and no
//     cookie.
//
// Changes made after the response started are saved when the handler
// returns if the status was below 500 and the visitor already holds the
// session's cookie; otherwise they cannot reach the visitor, and a warning is
// logged.
func (e *Engine) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var clientID string
		value, hadCookie := requestCookie(r.Header, e.opts.CookieName)
		if hadCookie {
			if e.backend.accepts(value) {
				clientID = value
			} else {
				e.log.DebugContext(r.Context(), "session: malformed session cookie ignored", "bytes", len(value))
			}
		}
		// Store and log calls get the request's context without the
		// session, so nothing they call can wait for the session's lock.
		base := r.Context()
		st := new(requestState)
		s := &st.session
		s.engine, s.ctx, s.id, s.recycle = e, base, clientID, true
		st.ctx = sessionContext{Context: base, s: s}
		r = r.WithContext(&st.ctx)
		cw := &st.writer
		*cw = commitWriter{ResponseWriter: w, engine: e, session: s, req: r, ctx: base,
			hadCookie: hadCookie, clientID: clientID}
		next.ServeHTTP(cw, r)
		if cw.committed {
			cw.commitLate()
		} else {
			cw.commit(http.StatusOK)
		}
		s.release()
	})
}

// requestState is what the middleware keeps for one request, in one
// allocation: the session, the writer that commits it and the context that
// carries it.
type requestState struct {
	session Session
	writer  commitWriter
	ctx     sessionContext
}

// sessionContext is a request's context carrying its session, as
// NewContext makes, kept in the request's requestState.
type sessionContext struct {
	context.Context
	s *Session
}

// String names the context as context.WithValue's does.
func (c *sessionContext) String() string {
	parent := "context"
	if s, ok := c.Context.(fmt.Stringer); ok {
		parent = s.String()
	}
	return parent + ".WithValue(session.contextKey, *session.Session)"
}

// Value implements context.Context.
func (c *sessionContext) Value(key any) any {
	if _, ok := key.(contextKey); ok {
		return c.s
	}
	return c.Context.Value(key)
}

// commitWriter commits the session before anything reaches the client.
type commitWriter struct {
	http.ResponseWriter
	engine    *Engine
	session   *Session
	req       *http.Request
	ctx       context.Context // the request's context without the session
	hadCookie bool
	clientID  string // the session ID the client holds, "" if none
	committed bool
	failed    bool   // the ErrorHandler wrote the response
	status    int    // the status committed with
	version   uint64 // the session's version when committed
	// spare holds the first value of the headers a commit adds (Vary,
	// Set-Cookie) when the handler set none, so that adding them does
	// not allocate.
	spare spareHeaders
}

// WriteHeader implements http.ResponseWriter.
func (w *commitWriter) WriteHeader(code int) {
	if w.failed {
		return
	}
	// Informational responses (103 Early Hints) precede the real one.
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.ResponseWriter.WriteHeader(code)
		return
	}
	if w.commit(code) {
		w.ResponseWriter.WriteHeader(code)
	}
}

// Write implements http.ResponseWriter.
func (w *commitWriter) Write(p []byte) (int, error) {
	if !w.commit(http.StatusOK) {
		return 0, errResponseReplaced
	}
	return w.ResponseWriter.Write(p)
}

// ReadFrom keeps io.Copy to the response on the underlying writer's fast
// path (sendfile).
func (w *commitWriter) ReadFrom(r io.Reader) (int64, error) {
	if !w.commit(http.StatusOK) {
		return 0, errResponseReplaced
	}
	return io.Copy(w.ResponseWriter, r)
}

// Flush implements http.Flusher.
func (w *commitWriter) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (w *commitWriter) FlushError() error {
	if !w.commit(http.StatusOK) {
		return errResponseReplaced
	}
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack implements http.Hijacker. The session is committed first; the
// cookie is in the header map for the hijacker to send if it writes one.
func (w *commitWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if !w.commit(http.StatusSwitchingProtocols) {
		return nil, nil, errResponseReplaced
	}
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *commitWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// commit commits the session once, for a response with the given status. It
// reports whether the handler's response may proceed.
func (w *commitWriter) commit(status int) bool {
	if w.committed {
		return !w.failed
	}
	w.committed, w.status = true, status
	id, version, err := w.commitSession(status)
	w.version = version
	if err != nil {
		w.failed = true
		h := w.Header()
		vary := h.Values("Vary")
		clear(h) // the handler's Location, caching or encoding headers do not fit the error
		if len(vary) > 0 {
			h["Vary"] = vary
		}
		w.engine.opts.ErrorHandler(w.ResponseWriter, w.req, err)
		return false
	}
	if id != "" {
		w.clientID = id
	}
	return true
}

// commitSession runs the engine's commit under the session's lock.
func (w *commitWriter) commitSession(status int) (string, uint64, error) {
	w.session.mu.Lock()
	defer w.session.mu.Unlock()
	return w.engine.commit(w.ctx, w.session, w.Header(), &w.spare, status, w.hadCookie)
}

// commitLate saves changes made after the response started.
func (w *commitWriter) commitLate() {
	e := w.engine
	if w.failed || w.status >= 500 {
		return
	}
	changed, reachable, err := w.saveLate()
	switch {
	case !changed:
	case !reachable:
		e.log.WarnContext(w.ctx, "session: changed after the response started and the visitor's cookie cannot follow; not saved",
			"path", w.req.URL.Path)
	case err != nil:
		e.log.ErrorContext(w.ctx, "session: saving changes made after the response started failed",
			"path", w.req.URL.Path, "err", err)
	}
}

// saveLate runs the engine's commitLate under the session's lock.
func (w *commitWriter) saveLate() (changed, reachable bool, err error) {
	w.session.mu.Lock()
	defer w.session.mu.Unlock()
	return w.engine.commitLate(w.ctx, w.session, w.version, w.clientID)
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
