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
type Session struct {
	engine *Engine
	ctx    context.Context // for the lazy load in the middleware

	mu       sync.Mutex
	id       string // "" when the session has no stored record
	key      string // StoreKey(id), computed once; "" until needed
	loaded   bool   // values reflect the store (or were replaced)
	stored   bool   // a record exists under id, as far as this session knows
	loadErr  error  // the store failed while loading: never save over it
	setErr   error  // a Set of an unsupported value, reported by Save
	values   map[string]any
	expiry   expiry
	accessed bool
	modified bool
	// recExpires is the stored record's expiry when it was loaded or last
	// saved; the idle timeout uses it to throttle refresh writes.
	recExpires time.Time
}

// ID returns the session ID (the cookie value), or "" when the session has
// not been saved yet or its ID was unknown, expired or malformed. It loads
// the session if needed, so the ID it returns is always one the store knows
// (or knew when the session was loaded).
func (s *Session) ID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loadLocked()
	return s.id
}

// storeKey returns StoreKey(s.id), computing it once per ID. s.mu must be
// held.
func (s *Session) storeKey() string {
	if s.key == "" {
		s.key = StoreKey(s.id)
	}
	return s.key
}

// setID changes the session's ID. s.mu must be held.
func (s *Session) setID(id string) {
	s.id, s.key = id, ""
}

// loadLocked loads the data on first use. s.mu must be held.
func (s *Session) loadLocked() {
	if !s.loaded {
		s.engine.loadInto(s.ctx, s)
	}
}

// readLocked loads the data and marks the session accessed.
func (s *Session) readLocked() {
	s.loadLocked()
	s.accessed = true
}

// writeLocked loads the data and marks the session accessed and modified.
func (s *Session) writeLocked() {
	s.readLocked()
	s.modified = true
}

// Get returns the value stored under key and whether it was there.
func (s *Session) Get(key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	v, ok := s.values[key]
	return v, ok
}

// Set stores value under key. The value is copied and converted to the
// session type model (see the package documentation), so Get returns the
// same thing before and after a save. A value the model cannot hold (a
// func, a channel...) is not stored, and the next Save fails with an error
// wrapping ErrUnsupportedValue.
func (s *Session) Set(key string, value any) {
	n, err := normalize(value)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeLocked()
	if err != nil {
		s.setErr = fmt.Errorf("session: Set(%q): %w", key, err)
		return
	}
	s.values[key] = n
}

// Delete removes key. It returns ErrKeyNotFound, and does not mark the
// session modified, when the key is absent (Django's KeyError).
func (s *Session) Delete(key string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	if _, ok := s.values[key]; !ok {
		return fmt.Errorf("%w: %q", ErrKeyNotFound, key)
	}
	delete(s.values, key)
	s.modified = true
	return nil
}

// Has reports whether key is in the session (Django's "key in session").
func (s *Session) Has(key string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	_, ok := s.values[key]
	return ok
}

// Pop removes key and returns its value. When the key is absent it returns
// (nil, false) and the session is not marked modified.
func (s *Session) Pop(key string) (any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	v, ok := s.values[key]
	if ok {
		delete(s.values, key)
		s.modified = true
	}
	return v, ok
}

// SetDefault returns the value under key if present, without modifying the
// session; otherwise it stores value (as Set does) and returns it as stored.
func (s *Session) SetDefault(key string, value any) any {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	if v, ok := s.values[key]; ok {
		return v
	}
	s.modified = true
	n, err := normalize(value)
	if err != nil {
		s.setErr = fmt.Errorf("session: SetDefault(%q): %w", key, err)
		return nil
	}
	s.values[key] = n
	return n
}

// Update stores every entry of values as Set does. It always marks the
// session modified, even for an empty map, as Django's update does.
func (s *Session) Update(values map[string]any) {
	normalized := make(map[string]any, len(values))
	var firstErr error
	for k, v := range values {
		n, err := normalize(v)
		if err != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("session: Update(%q): %w", k, err)
			}
			continue
		}
		normalized[k] = n
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeLocked()
	if firstErr != nil && s.setErr == nil {
		s.setErr = firstErr
	}
	maps.Copy(s.values, normalized)
}

// Keys returns the keys in sorted order.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	return slices.Sorted(maps.Keys(s.values))
}

// Values returns the values in the order of Keys.
func (s *Session) Values() []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	keys := slices.Sorted(maps.Keys(s.values))
	out := make([]any, len(keys))
	for i, k := range keys {
		out[i] = s.values[k]
	}
	return out
}

// Items returns an iterator over the entries in the order of Keys. It
// iterates over a snapshot taken when iteration starts and holds no lock
// while yielding, so the loop body may call any method of the session.
func (s *Session) Items() iter.Seq2[string, any] {
	return func(yield func(string, any) bool) {
		s.mu.Lock()
		s.readLocked()
		keys := slices.Sorted(maps.Keys(s.values))
		vals := make([]any, len(keys))
		for i, k := range keys {
			vals[i] = s.values[k]
		}
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
	return len(s.values)
}

// Clear removes every key. The session keeps its ID, so it is saved (empty)
// and its cookie is kept, as in Django. Use Flush to end a session.
func (s *Session) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	// Unlike Django, Clear first verifies the ID with the store: a cleared
	// session must not adopt an ID the store does not know.
	s.writeLocked()
	clear(s.values)
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
	return s.id == "" && len(s.values) == 0
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

// Flush ends the session now, Django's flush (used on logout): it removes
// every key, deletes the stored record, and drops the ID, so ID returns ""
// and the next save issues a new one. Through the middleware, the cookie is
// deleted unless the handler stores new data afterwards.
func (s *Session) Flush(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.id
	s.values = map[string]any{}
	s.loaded, s.accessed, s.modified = true, true, true
	s.setID("")
	s.stored, s.loadErr, s.setErr = false, nil, nil
	s.expiry = expiry{}
	if old == "" || !ValidID(old) {
		return nil
	}
	if err := s.engine.store.Delete(ctx, StoreKey(old)); err != nil {
		return fmt.Errorf("session: flush: %w", err)
	}
	return nil
}

// CycleKey gives the session a new ID now, keeping its data: the data is
// saved under the new ID and the old record is deleted. Call it on login to
// defeat session fixation. Through the middleware, the cookie is re-issued.
func (s *Session) CycleKey(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writeLocked()
	if s.loadErr != nil {
		return fmt.Errorf("session: cycle key: %w", s.loadErr)
	}
	old, oldStored := s.id, s.stored
	s.setID("")
	s.stored = false
	if err := s.engine.saveLocked(ctx, s); err != nil {
		s.setID(old)
		s.stored = oldStored
		return fmt.Errorf("session: cycle key: %w", err)
	}
	// The data is now under the new ID; the middleware still has to send
	// the new cookie.
	s.modified = true
	if old != "" && oldStored {
		if err := s.engine.store.Delete(ctx, StoreKey(old)); err != nil {
			return fmt.Errorf("session: cycle key: delete old record: %w", err)
		}
	}
	return nil
}

// SetMaxAge makes the session expire d after its last save, Django's
// set_expiry(seconds). d <= 0 means already expired: the next save removes
// the cookie. Use SetExpireAtBrowserClose for Django's set_expiry(0).
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
	s.expiry = e
}

// ResetExpiry returns the session to the engine's expiry policy, Django's
// set_expiry(None). It marks the session modified only if it had a custom
// expiry.
func (s *Session) ResetExpiry() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.readLocked()
	if s.expiry.kind != expiryDefault {
		s.expiry = expiry{}
		s.modified = true
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
