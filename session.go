package session

import (
	"context"
	"fmt"
	"iter"
	"maps"
	"slices"
	"sync"
	"time"
)

// TestCookieKey and TestCookieValue are what SetTestCookie stores, as in
// Django.
const (
	TestCookieKey   = "testcookie"
	TestCookieValue = "worked"
)

// Session is one visitor's dictionary, Django's request.session. Get one from
// [FromContext] inside the middleware, or from [Engine.Load].
//
// A Session is safe for concurrent use by the goroutines of one request. Its
// data is loaded from the store on first use (Get, Set, Keys, ...), not
// before, so a handler that never touches the session costs no store call.
//
// The accessed and modified flags follow Django: reads set Accessed, writes
// set Modified (and Accessed), and the middleware uses them to decide whether
// to save and whether to add "Vary: Cookie".
//
// Values returned by Get, Values, Items and the getters share memory with the
// session: treat them as read-only, and Set a changed copy instead.
//
// A session from the middleware stays usable after its request is over (a
// goroutine may keep it), but the buffer its record was read into has gone
// back to be reused: its next use reads the record from the store again,
// with the changes the session holds on top.
type Session struct {
	engine *Engine
	ctx    context.Context // for the lazy load in the middleware

	mu     sync.Mutex
	id     string // "" when the session has no stored record
	key    string // StoreKey(id), computed once; "" until needed
	loaded bool   // values reflect the store (or were replaced)
	// recycle: the session's record may be read into a recycled buffer,
	// because the middleware releases the session when its request is
	// over. released: it did, and the next use reads the record again.
	recycle, released bool
	stored            bool  // a record exists under id, as far as this session knows
	loadErr           error // the store failed while loading: never save over it
	d                 dict  // the values
	expiry            expiry
	accessed          bool
	modified          bool
	// version counts modifications, so the middleware can tell whether the
	// session changed after it committed.
	version uint64
	// reissue asks the middleware to send the cookie again although the
	// record is already saved (CycleKey).
	reissue bool
	// setErrs holds, per key, a value Set could not hold; Save fails while
	// any remains.
	setErrs map[string]error
	// userID is the session's owner (SetUserID).
	userID string
	// What changed since the session was loaded or saved, so a commit can
	// apply exactly that to the record as it is in the store by then: keys
	// set or deleted (kept by d), all keys (Clear, Flush), the expiry
	// choice, the owner.
	cleared       bool
	expiryChanged bool
	userChanged   bool
	// recExpires is the stored record's expiry when it was loaded or last
	// saved; the idle timeout uses it to throttle refresh writes.
	recExpires time.Time
	// merged and mergedExp are what a merging commit wrote (Engine.merge).
	merged    Record
	mergedExp expiry
}

// ID returns the session ID (the cookie value), or "" when the session has
// not been saved yet, its ID was unknown, expired or malformed, or the store
// failed to load it. It loads the session if needed, so the ID it returns is
// one the store knew when the session was loaded or saved.
func (s *Session) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadLocked()
	if s.loadErr != nil {
		return ""
	}
	return s.id
}

// setID changes the session's ID. s.mu must be held.
func (s *Session) setID(id string) {
	s.id, s.key = id, ""
}

// loadLocked loads the data on first use. s.mu must be held.
func (s *Session) loadLocked() {
	switch {
	case s.loaded:
	case s.released:
		s.engine.reload(s)
	default:
		s.engine.load(s.ctx, s)
	}
}

// release gives back the buffer the session's record was read into, once
// its request is over. A goroutine that still uses the session afterwards
// finds it as it was: its next use reads the record from the store again,
// under the changes the session holds.
func (s *Session) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.recycle = false
	if s.d.buf == nil {
		return
	}
	s.d.dropRaw()
	s.loaded, s.released = false, true
}

// readLocked loads the data and marks the session accessed.
func (s *Session) readLocked() {
	s.loadLocked()
	s.accessed = true
}

// writeLocked loads the data and marks the session accessed and modified.
func (s *Session) writeLocked() {
	s.readLocked()
	s.touchLocked()
}

// touchLocked marks the session modified.
func (s *Session) touchLocked() {
	s.modified = true
	s.version++
}

// savedLocked records that the session's record is in the store, expiring
// at expires, and forgets the changes now in it.
func (s *Session) savedLocked(expires time.Time) {
	s.stored, s.recExpires, s.modified = true, expires, false
	s.d.saved()
	s.cleared, s.expiryChanged, s.userChanged = false, false, false
}

// changes is what a session changed since it was loaded or saved, which a
// commit applies to the record as it is in the store by then (mergeRecord).
type changes struct {
	d      *dict   // the session's values, which know the keys set or deleted
	expiry *expiry // the new expiry choice, or nil if unchanged
}

// changesLocked returns what s changed. It shares s's dictionary.
func (s *Session) changesLocked() changes {
	ch := changes{d: &s.d}
	if s.expiryChanged {
		ch.expiry = &s.expiry
	}
	return ch
}

// setLocked stores the normalized value n (or the error normalizing it)
// under key. s.mu must be held and the session loaded.
func (s *Session) setLocked(op, key string, n any, err error) {
	s.touchLocked()
	if err != nil {
		s.failLocked(op, key, err)
		s.d.del(key)
		return
	}
	delete(s.setErrs, key)
	s.d.set(key, n)
}

// failLocked records that op could not store a value under key.
func (s *Session) failLocked(op, key string, err error) {
	if s.setErrs == nil {
		s.setErrs = map[string]error{}
	}
	s.setErrs[key] = fmt.Errorf("session: %s(%q): %w", op, key, err)
}

// deleteLocked removes key and any pending error of a failed Set of it.
func (s *Session) deleteLocked(key string) {
	s.d.del(key)
	delete(s.setErrs, key)
}

// getLocked returns the value of key, decoding it on its first read.
func (s *Session) getLocked(key string) (any, bool) {
	v, ok, err := s.d.get(key)
	if err != nil {
		s.decodeFailedLocked(err)
	}
	return v, ok
}

// decodeFailedLocked logs a stored value that would not decode although
// its record's structure was checked when it was loaded. The value reads
// as absent; its bytes stay in the record.
func (s *Session) decodeFailedLocked(err error) {
	if s.engine != nil {
		s.engine.log.Warn("session: a stored value would not decode", "err", err)
	}
}

// setErrLocked returns the error of a failed Set, if one is still pending.
func (s *Session) setErrLocked() error {
	if len(s.setErrs) == 0 {
		return nil
	}
	for _, k := range slices.Sorted(maps.Keys(s.setErrs)) {
		return s.setErrs[k]
	}
	return nil
}

// Get returns the value stored under key and whether it was there.
func (s *Session) Get(key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	return s.getLocked(key)
}

// Set stores value under key. The value is copied and converted to the
// session type model (see the package documentation), so Get returns the
// same thing before and after a save. A value the model cannot hold (a
// func, a channel...) is not stored: the key is removed, and Save fails with
// an error wrapping ErrUnsupportedValue until the key is set to a value the
// model holds, or deleted.
func (s *Session) Set(key string, value any) {
	n, err := normalize(value)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	s.setLocked("Set", key, n, err)
}

// Delete removes key. It returns ErrKeyNotFound, and does not mark the
// session modified, when the key is absent (Django's KeyError).
func (s *Session) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	ok := s.d.has(key)
	_, failed := s.setErrs[key]
	if !ok && !failed {
		return fmt.Errorf("%w: %q", ErrKeyNotFound, key)
	}
	s.deleteLocked(key)
	s.touchLocked()
	return nil
}

// Has reports whether key is in the session (Django's "key in session").
func (s *Session) Has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	return s.d.has(key)
}

// Pop removes key and returns its value. When the key is absent it returns
// (nil, false) and the session is not marked modified.
func (s *Session) Pop(key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	v, ok := s.getLocked(key)
	if ok {
		s.deleteLocked(key)
		s.touchLocked()
	}
	return v, ok
}

// SetDefault returns the value under key if present, without modifying the
// session; otherwise it stores value (as Set does) and returns it as stored.
func (s *Session) SetDefault(key string, value any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	if v, ok := s.getLocked(key); ok {
		return v
	}
	n, err := normalize(value)
	s.setLocked("SetDefault", key, n, err)
	return n
}

// Update stores every entry of values as Set does. It always marks the
// session modified, even for an empty map, as Django's update does.
func (s *Session) Update(values map[string]any) {
	type entry struct {
		n   any
		err error
	}
	normalized := make(map[string]entry, len(values))
	for k, v := range values {
		n, err := normalize(v)
		normalized[k] = entry{n, err}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeLocked()
	for k, e := range normalized {
		s.setLocked("Update", k, e.n, e.err)
	}
}

// sortedLocked returns the keys in order and their values.
func (s *Session) sortedLocked() ([]string, []any) {
	m := s.valuesLocked()
	keys := slices.Sorted(maps.Keys(m))
	vals := make([]any, len(keys))
	for i, k := range keys {
		vals[i] = m[k]
	}
	return keys, vals
}

// valuesLocked returns every value in a new map, decoding all.
func (s *Session) valuesLocked() map[string]any {
	m, err := s.d.toMap()
	if err != nil {
		s.decodeFailedLocked(err)
	}
	return m
}

// Keys returns the keys in sorted order.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	return s.d.keys()
}

// Values returns the values in the order of Keys.
func (s *Session) Values() []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	_, vals := s.sortedLocked()
	return vals
}

// Items returns an iterator over the entries in the order of Keys. It
// iterates over a snapshot taken when iteration starts and holds no lock
// while yielding, so the loop body may call any method of the session.
func (s *Session) Items() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		s.mu.Lock()
		s.readLocked()
		keys, vals := s.sortedLocked()
		s.mu.Unlock()
		for i, k := range keys {
			if !yield(k, vals[i]) {
				return
			}
		}
	}
}

// Len returns the number of keys.
func (s *Session) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	return s.d.length()
}

// Clear removes every key. The session keeps its ID, so it is saved (empty)
// and its cookie is kept, as in Django. Use Flush to end a session.
func (s *Session) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Unlike Django, Clear first verifies the ID with the store: a cleared
	// session must not adopt an ID the store does not know.
	s.writeLocked()
	s.d.reset()
	clear(s.setErrs)
	s.cleared = true
}

// IsEmpty reports whether the session has neither an ID nor data, Django's
// is_empty. It does not load the session: a session built from a cookie
// that has not been looked up yet is not empty.
func (s *Session) IsEmpty() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isEmptyLocked()
}

func (s *Session) isEmptyLocked() bool {
	if !s.loaded {
		return s.id == ""
	}
	return s.id == "" && s.d.empty()
}

// Modified reports whether the session was changed since it was loaded or
// last saved.
func (s *Session) Modified() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.modified
}

// Accessed reports whether the session's data was read or written.
func (s *Session) Accessed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.accessed
}

// withoutSelf returns ctx for store calls made while s.mu is held: if ctx
// carries s (a handler passing r.Context()), code that looks the session up
// from it, such as a log handler, gets nil instead of waiting for s.mu.
func (s *Session) withoutSelf(ctx context.Context) context.Context {
	if FromContext(ctx) == s {
		return context.WithValue(ctx, contextKey{}, (*Session)(nil))
	}
	return ctx
}

// Flush ends the session now, Django's flush (used on logout): it deletes
// the stored record, removes every key and drops the ID, so ID returns ""
// and the next save issues a new one. Through the middleware, the cookie is
// deleted unless the handler stores new data afterwards. If the store fails
// to delete the record, Flush returns the error and the session is left as
// it was.
func (s *Session) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.engine.flush(s.withoutSelf(ctx), s)
}

// resetLocked empties the session and forgets its ID and record, as Flush
// leaves it: loaded, accessed and modified, with every key cleared.
func (s *Session) resetLocked() {
	s.d.reset()
	s.loaded, s.accessed = true, true
	s.touchLocked()
	s.setID("")
	s.stored, s.loadErr, s.setErrs, s.reissue = false, nil, nil, false
	s.expiry, s.userID = expiry{}, ""
	s.cleared = true
}

// CycleKey gives the session a new ID now, keeping its data: the data is
// saved under the new ID and the old record is deleted. Call it on login to
// defeat session fixation. Through the middleware, the cookie is re-issued.
//
// If the old record was deleted meanwhile (a logout in another tab), CycleKey
// returns an error wrapping ErrSessionInterrupted and leaves no record under
// the new ID, so the data is not brought back. With a store that implements
// Updater that check is atomic.
func (s *Session) CycleKey(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	if err := s.engine.cycleKey(s.withoutSelf(ctx), s); err != nil {
		return fmt.Errorf("session: cycle key: %w", err)
	}
	return nil
}

// SetUserID records the user who owns the session, so that
// Engine.UserSessions and Engine.DeleteUser find it ("log out everywhere").
// The owner is metadata beside the data, not a key. An empty id clears it.
// Set it on login, after CycleKey. With a codec whose format keeps the
// owner among the values (OwnerCodec, as Django's "_auth_user_id"), the
// owner is that value instead, and SetUserID has no effect on it.
func (s *Session) SetUserID(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	if s.userID != id {
		s.userID, s.userChanged = id, true
		s.touchLocked()
	}
}

// UserID returns the owner recorded by SetUserID, or "" (with an
// OwnerCodec, the owner its values say).
func (s *Session) UserID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	return s.ownerLocked()
}

// ownerLocked returns the session's owner: with an OwnerCodec, the one its
// values say.
func (s *Session) ownerLocked() string {
	if s.engine == nil {
		return s.userID
	}
	if _, ok := s.engine.opts.Codec.(OwnerCodec); !ok {
		return s.userID
	}
	return owner(s.engine.opts.Codec, s.valuesLocked(), s.userID)
}

// SetMaxAge makes the session expire d after its last save, Django's
// set_expiry(seconds). As in Django, the age counts whole seconds: d under
// one second means already expired, and the next save removes the session
// and its cookie. Use SetExpireAtBrowserClose for Django's set_expiry(0).
func (s *Session) SetMaxAge(d time.Duration) {
	s.setExpiry(expiry{kind: expiryMaxAge, maxAge: d})
}

// SetExpiresAt makes the session expire at t, Django's set_expiry(datetime).
func (s *Session) SetExpiresAt(t time.Time) {
	s.setExpiry(expiry{kind: expiryAt, at: t.UTC()})
}

// SetExpireAtBrowserClose makes the session cookie a browser-session cookie,
// Django's set_expiry(0). The stored record still expires after the
// engine's CookieAge.
func (s *Session) SetExpireAtBrowserClose() {
	s.setExpiry(expiry{kind: expiryBrowserClose})
}

func (s *Session) setExpiry(e expiry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeLocked()
	s.expiry, s.expiryChanged = e, true
}

// ResetExpiry returns the session to the engine's expiry policy, Django's
// set_expiry(None). It marks the session modified only if it had a custom
// expiry.
func (s *Session) ResetExpiry() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	if s.expiry.kind != expiryDefault {
		s.expiry, s.expiryChanged = expiry{}, true
		s.touchLocked()
	}
}

// ExpiryAge returns how long the session has left, in whole seconds, counted
// from now as if it were saved now (Django's get_expiry_age): the engine's
// CookieAge under the default policy and for browser-close sessions, the max
// age when one was set, the time until the expiry time when one was set (zero
// or negative once passed).
func (s *Session) ExpiryAge() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	return s.engine.expiryAge(s.expiry, s.engine.now())
}

// ExpiryDate returns when the session expires if saved now (Django's
// get_expiry_date).
func (s *Session) ExpiryDate() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	return s.engine.expiryDate(s.expiry, s.engine.now())
}

// ExpireAtBrowserClose reports whether the session cookie is a
// browser-session cookie (Django's get_expire_at_browser_close): the
// engine's ExpireAtBrowserClose option under the default policy, otherwise
// whether SetExpireAtBrowserClose was chosen.
func (s *Session) ExpireAtBrowserClose() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	return s.engine.expireAtBrowserClose(s.expiry)
}

// SetTestCookie stores TestCookieKey, to check on the next request whether
// the browser accepts cookies.
func (s *Session) SetTestCookie() { s.Set(TestCookieKey, TestCookieValue) }

// TestCookieWorked reports whether the value stored by SetTestCookie came
// back.
func (s *Session) TestCookieWorked() bool {
	v, _ := s.GetString(TestCookieKey)
	return v == TestCookieValue
}

// DeleteTestCookie removes the value stored by SetTestCookie, if present.
func (s *Session) DeleteTestCookie() { _ = s.Delete(TestCookieKey) }
