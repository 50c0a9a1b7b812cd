package session

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// This file is the one place where a session meets its backend: the lazy
// load, the save (create, replace or merge), the refresh of an idle expiry,
// Flush, CycleKey, and Django's process_response (commit), which decides
// what a request writes and which cookie it sends. Session holds the state
// and the dictionary methods; every method here runs with s.mu held.

// load fills s from the backend, on the session's first use. A session of
// the middleware (recycle) has its record read into a recycled buffer when
// the store can, given back when the request is over (Session.release).
func (e *Engine) load(ctx context.Context, s *Session) {
	s.loaded = true
	s.d.reset()
	s.ctx = nil
	if s.id == "" {
		return
	}
	if ctx == nil {
		ctx = context.Background()
	}
	var buf *[]byte
	var dst []byte
	if _, ok := e.opts.Codec.(MsgpackCodec); ok && s.recycle {
		// Only MsgpackCodec's values never point into what they were
		// decoded from; another codec may keep its input, which must not
		// go back to the pool while the session lives.
		buf = encodeBuffers.Get().(*[]byte)
		dst = (*buf)[:0]
	}
	rec, appended, err := e.backend.load(ctx, e.storeKey(s), dst)
	if appended {
		*buf = rec.Data
	} else if buf != nil {
		putEncodeBuffer(buf)
		buf = nil
	}
	kept := false
	defer func() {
		if buf != nil && !kept {
			putEncodeBuffer(buf)
		}
	}()
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
	exp, kept, err := loadRecord(&s.d, rec.Data, e.opts.Codec, buf)
	if err != nil {
		e.dropCorrupt(ctx, s, err)
		return
	}
	s.expiry, s.stored, s.recExpires = exp, true, rec.Expires
	s.userID = rec.UserID
	s.userID = s.ownerLocked()
}

// reload reads the record of a released session again (Session.release),
// keeping what the session changed, its expiry choice and its owner on
// top. A store error is kept in loadErr, so nothing is saved over the
// record, and the next use tries again; a corrupt record is dropped, the
// session's own changes going on as a new session, as a first load would;
// a record deleted meanwhile leaves the session without the values it did
// not change, and its commit then finds the record gone
// (ErrSessionInterrupted).
func (e *Engine) reload(s *Session) {
	s.loaded, s.released, s.loadErr = true, false, nil
	if !s.stored || s.id == "" {
		return
	}
	ctx := context.Background()
	rec, _, err := e.backend.load(ctx, e.storeKey(s), nil)
	if err == nil && rec.Expired(e.now()) {
		err = ErrNotFound
	}
	if err == nil {
		var payload []byte
		if _, payload, err = parseEnvelope(rec.Data); err == nil {
			err = s.d.indexRaw(payload, nil)
		}
	}
	switch {
	case err == nil:
	case errors.Is(err, ErrNotFound):
		e.log.WarnContext(ctx, "session: reading a session again after its request: deleted meanwhile",
			"key", e.storeKey(s))
	case errors.Is(err, ErrCorrupt):
		e.dropCorrupt(ctx, s, err)
		s.stored = false
	default:
		s.loadErr = fmt.Errorf("session: load: %w", err)
		s.loaded, s.released = false, true
		e.log.ErrorContext(ctx, "session: reading a session again after its request failed",
			"key", e.storeKey(s), "err", err)
	}
}

// storeKey returns the key of s's record, derived from its ID once per ID.
func (e *Engine) storeKey(s *Session) string {
	if s.key == "" {
		s.key = e.backend.keyOf(s.id)
	}
	return s.key
}

// dropCorrupt handles a record that the store or the codec found corrupt,
// Django's "Session data corrupted": it is logged and the visitor gets a new
// session; the record stays for the sweeper.
func (e *Engine) dropCorrupt(ctx context.Context, s *Session, err error) {
	e.log.WarnContext(ctx, "session: data corrupted, starting a new session",
		"key", e.storeKey(s), "err", err)
	s.setID("")
}

// save writes s to the backend, giving it an ID on its first save.
//
// A new session is created whole. A stored one is committed only if its
// record still exists and, where the backend can do so in place, by
// applying this session's changes to the record as it is in the store now
// (merge), so concurrent requests that change different keys all persist.
// Clear and Flush replace the whole record by design, as does every commit
// to a backend that cannot merge (the later writer wins).
//
// now is the time the record's new expiry counts from.
func (e *Engine) save(ctx context.Context, s *Session, now time.Time) error {
	if s.loadErr != nil {
		return s.loadErr
	}
	if err := s.setErrLocked(); err != nil {
		return err
	}
	if s.stored && e.backend.inPlace() && !s.cleared {
		return e.merge(ctx, s, now)
	}
	rec, done, err := e.encode(s, now)
	if err != nil {
		return err
	}
	defer done()
	var id, key string
	if s.stored {
		id, key, err = e.backend.replace(ctx, e.storeKey(s), func(_ Record, found bool) (Record, error) {
			if !found {
				return Record{}, ErrSessionInterrupted
			}
			return rec, nil
		})
	} else {
		id, key, err = e.backend.create(ctx, rec)
	}
	if errors.Is(err, ErrSessionInterrupted) {
		return err
	}
	if err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	if id != "" {
		s.id, s.key = id, key
	}
	s.savedLocked(rec.Expires)
	return nil
}

// merge commits s by merging its changes into the stored record inside the
// backend's atomic replace.
func (e *Engine) merge(ctx context.Context, s *Session, now time.Time) error {
	buf := encodeBuffers.Get().(*[]byte)
	defer putEncodeBuffer(buf)
	defer func() { s.merged = Record{} }() // its Data lies in buf
	ch := s.changesLocked()
	// The closure keeps its results in s, so that it captures nothing it
	// assigns: a commit then allocates the closure alone.
	_, _, err := e.backend.replace(ctx, e.storeKey(s), func(cur Record, found bool) (Record, error) {
		if !found {
			return Record{}, ErrSessionInterrupted
		}
		data, exp, values, err := mergeRecord((*buf)[:0], cur.Data, e.opts.Codec, ch)
		if errors.Is(err, ErrCorrupt) {
			// The stored record cannot be read any more: this session's
			// view replaces it.
			exp, values = s.expiry, nil
			data, err = encodeSession((*buf)[:0], e.opts.Codec, &s.d, exp)
		}
		if err != nil {
			return Record{}, err
		}
		*buf = data
		uid := cur.UserID
		if s.userChanged {
			uid = s.userID
		}
		if _, ok := e.opts.Codec.(OwnerCodec); ok {
			if values == nil {
				if values, _, err = decodeRecord(data, e.opts.Codec); err != nil {
					return Record{}, err
				}
			}
			uid = owner(e.opts.Codec, values, uid)
		}
		s.merged = Record{Data: data, Expires: e.recordExpiry(exp, now), UserID: uid}
		s.mergedExp = exp
		return s.merged, nil
	})
	switch {
	case errors.Is(err, ErrSessionInterrupted):
		return err
	case errors.Is(err, ErrUnsupportedValue):
		return fmt.Errorf("session: encode: %w", err)
	case err != nil:
		return fmt.Errorf("session: save: %w", err)
	}
	s.expiry, s.userID = s.mergedExp, s.merged.UserID
	s.savedLocked(s.merged.Expires)
	return nil
}

// encode encodes s into a record expiring as of now, in a pooled buffer
// that done returns to the pool.
func (e *Engine) encode(s *Session, now time.Time) (rec Record, done func(), err error) {
	buf := encodeBuffers.Get().(*[]byte)
	data, err := encodeSession((*buf)[:0], e.opts.Codec, &s.d, s.expiry)
	*buf = data
	done = func() { putEncodeBuffer(buf) }
	if err != nil {
		done()
		return Record{}, nil, fmt.Errorf("session: encode: %w", err)
	}
	uid := s.ownerLocked()
	return Record{Data: data, Expires: e.recordExpiry(s.expiry, now), UserID: uid}, done, nil
}

// encodeBuffers recycles the buffers records are encoded into; stores copy
// what they keep. Buffers up to maxPooledBuffer go back, so that commits of
// large sessions do not allocate one each (the pool lets go of them at
// garbage collections).
const maxPooledBuffer = 1 << 20

var encodeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

func putEncodeBuffer(b *[]byte) {
	if cap(*b) <= maxPooledBuffer {
		encodeBuffers.Put(b)
	}
}

// refresh pushes the stored record's expiry forward without rewriting its
// data, so a request that only read the session cannot overwrite what a
// concurrent request saved. A backend that cannot do that in place gets a
// full save.
func (e *Engine) refresh(ctx context.Context, s *Session, now time.Time) error {
	if !e.backend.inPlace() {
		return e.save(ctx, s, now)
	}
	expires := e.recordExpiry(s.expiry, now)
	_, _, err := e.backend.replace(ctx, e.storeKey(s), func(cur Record, found bool) (Record, error) {
		if !found {
			return Record{}, ErrSessionInterrupted
		}
		return Record{Data: cur.Data, Expires: expires, UserID: cur.UserID}, nil
	})
	if errors.Is(err, ErrSessionInterrupted) {
		return err
	}
	if err != nil {
		return fmt.Errorf("session: save: %w", err)
	}
	s.recExpires = expires
	return nil
}

// needsIdleRefresh reports whether a loaded, unmodified session should be
// written again to push its idle expiry forward: only when that gains more
// than a tenth of the idle timeout, so busy sessions are not rewritten on
// every request.
func (e *Engine) needsIdleRefresh(s *Session, now time.Time) bool {
	if e.opts.IdleTimeout <= 0 || !s.stored || !s.loaded {
		return false
	}
	return e.recordExpiry(s.expiry, now).Sub(s.recExpires) > e.opts.IdleTimeout/10
}

// flush implements Session.Flush.
func (e *Engine) flush(ctx context.Context, s *Session) error {
	if s.id != "" {
		if err := e.backend.remove(ctx, e.storeKey(s)); err != nil {
			return fmt.Errorf("session: flush: %w", err)
		}
	}
	s.resetLocked()
	return nil
}

// cycleKey implements Session.CycleKey: the data is written under a new ID
// (a new seal, for a sealed backend), then the old record is retired; if
// it was deleted meanwhile, the new record is removed again.
func (e *Engine) cycleKey(ctx context.Context, s *Session) error {
	if s.loadErr != nil {
		return s.loadErr
	}
	if err := s.setErrLocked(); err != nil {
		return err
	}
	rec, done, err := e.encode(s, e.now())
	if err != nil {
		return err
	}
	defer done()
	id, key, err := e.backend.create(ctx, rec)
	if err != nil {
		return fmt.Errorf("save: %w", err)
	}
	if s.stored {
		if err := e.backend.retire(ctx, e.storeKey(s)); err != nil {
			_ = e.backend.remove(ctx, key)
			return err
		}
	}
	s.id, s.key = id, key
	s.savedLocked(rec.Expires)
	s.reissue = true
	s.version++
	return nil
}

// commit applies Django's process_response to s: save it if needed and set
// or delete its cookie in h, using spare (not nil) for the headers' first
// values. It returns the ID of a cookie it set, if any,
// and the session's version as committed.
func (e *Engine) commit(ctx context.Context, s *Session, h http.Header, spare *spareHeaders, status int, hadCookie bool) (string, uint64, error) {
	if s.loadErr != nil {
		// The store failed: neither overwrite the record nor drop the cookie.
		return "", s.version, s.loadErr
	}
	if s.accessed {
		addVaryCookie(h, &spare.vary)
	}
	now := e.now()
	refresh := e.opts.SaveEveryRequest || e.needsIdleRefresh(s, now)
	write := (s.modified || refresh || s.reissue) && status < 500
	if write && !s.isEmptyLocked() {
		s.loadLocked() // SaveEveryRequest on a session the handler never used
		if s.loadErr != nil {
			return "", s.version, s.loadErr
		}
	}
	if s.isEmptyLocked() {
		if hadCookie {
			addVaryCookie(h, &spare.vary)
			h.Add("Set-Cookie", e.deletionCookie().String())
		}
		return "", s.version, nil
	}
	if !write {
		return "", s.version, nil
	}
	browserClose := e.expireAtBrowserClose(s.expiry)
	age := e.expiryAge(s.expiry, now)
	if !browserClose && age <= 0 {
		// Expired by the handler (SetMaxAge(0), a past SetExpiresAt): end it.
		if s.stored {
			if err := e.backend.remove(ctx, e.storeKey(s)); err != nil {
				return "", s.version, err
			}
		}
		s.setID("")
		s.stored, s.reissue = false, false
		if hadCookie {
			h.Add("Set-Cookie", e.deletionCookie().String())
		}
		return "", s.version, nil
	}
	var err error
	switch {
	case s.modified:
		err = e.save(ctx, s, now)
	case refresh:
		err = e.refresh(ctx, s, now)
	}
	if err != nil {
		return "", s.version, err
	}
	s.reissue = false
	addHeader(h, "Set-Cookie", e.sessionCookieLine(s.id, browserClose, age, now), &spare.setCookie)
	return s.id, s.version, nil
}

// commitLate saves changes made to s after the response started, when the
// visitor already holds the session's cookie (clientID) so the saved
// version can reach them: never with a sealed backend, whose new cookie
// value could not be sent any more. It reports whether anything changed since the
// commit at version, and whether the changes could be saved at all.
func (e *Engine) commitLate(ctx context.Context, s *Session, version uint64, clientID string) (changed, reachable bool, err error) {
	if s.version == version {
		return false, true, nil
	}
	reachable = s.id != "" && s.id == clientID && s.stored && !s.reissue && !e.backend.sealed()
	if reachable {
		err = e.save(ctx, s, e.now())
	}
	return true, reachable, err
}
