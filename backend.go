package session

import (
	"context"
	"errors"
	"fmt"
)

// A backend is where an engine keeps its sessions: records in a Store on the
// server, under a hash of the session ID (serverBackend), or the whole
// session sealed into the cookie (sealedBackend). The persistence code
// (persist.go) talks to its backend only, so what differs between the two
// is said once, here.
type backend interface {
	// accepts reports whether a cookie value is worth looking up.
	accepts(value string) bool
	// keyOf returns the key the record of the session with cookie value id
	// is loaded by.
	keyOf(id string) string
	// load returns the record under key, or an error wrapping ErrNotFound
	// or ErrCorrupt. When dst is not nil and the store can, the record's
	// data is appended to dst, and appended reports it.
	load(ctx context.Context, key string, dst []byte) (rec Record, appended bool, err error)
	// create writes the record of a new session and returns its cookie
	// value and key.
	create(ctx context.Context, rec Record) (id, key string, err error)
	// replace writes next(current record) over the record under key, but
	// only while that record exists: next is called with found false when
	// it does not, and must then fail with ErrSessionInterrupted. A sealed
	// backend returns the session's new cookie value and key; a
	// server-side one returns id "" and the key unchanged. With inPlace,
	// the check and the write are one atomic step and next sees the stored
	// record; otherwise next gets the zero Record.
	replace(ctx context.Context, key string, next func(cur Record, found bool) (Record, error)) (id, newKey string, err error)
	// inPlace reports whether replace reads and writes the stored record
	// atomically, so a commit can merge into it and a refresh can push its
	// expiry forward without rewriting the data.
	inPlace() bool
	// retire removes the record under key after the session moved to a new
	// ID (CycleKey), failing with ErrSessionInterrupted if it was already
	// gone, so a logout that raced the move is not undone.
	retire(ctx context.Context, key string) error
	// remove deletes the record under key (Flush, or an expiry the handler
	// chose). Removing a missing record is not an error.
	remove(ctx context.Context, key string) error
	// sealed reports whether every write gives the session a new cookie
	// value, which only a cookie can carry to the browser.
	sealed() bool
}

// newBackend returns the backend for store, whose cookies are called
// cookieName and, for a server-side store, carry IDs of ids.
func newBackend(store Store, log logger, cookieName string, ids IDScheme) backend {
	if s, ok := store.(Sealer); ok {
		// What browsers keep of a cookie's name, "=" and value.
		return sealedBackend{store: store, sealer: s, maxLen: maxCookieLen - len(cookieName) - 1}
	}
	b := serverBackend{store: store, log: log, ids: ids}
	b.updater, _ = As[Updater](store)
	b.appender, _ = As[LoadAppender](store)
	return b
}

// logger is the part of *slog.Logger the backends use.
type logger interface {
	WarnContext(ctx context.Context, msg string, args ...any)
}

// serverBackend keeps records in a server-side Store, under the store key
// its IDScheme gives the session ID (with DefaultIDs, never a live cookie
// value).
type serverBackend struct {
	store    Store
	ids      IDScheme
	updater  Updater      // store as an Updater, or nil
	appender LoadAppender // store as a LoadAppender, or nil
	log      logger
}

func (b serverBackend) accepts(v string) bool  { return b.ids.ValidID(v) }
func (b serverBackend) keyOf(id string) string { return b.ids.StoreKey(id) }
func (b serverBackend) inPlace() bool          { return b.updater != nil }
func (b serverBackend) sealed() bool           { return false }
func (b serverBackend) remove(ctx context.Context, k string) error {
	return b.store.Delete(ctx, k)
}

func (b serverBackend) load(ctx context.Context, key string, dst []byte) (Record, bool, error) {
	if dst != nil && b.appender != nil {
		rec, err := b.appender.LoadAppend(ctx, key, dst)
		return rec, err == nil, err
	}
	rec, err := b.store.Load(ctx, key)
	return rec, false, err
}

func (b serverBackend) create(ctx context.Context, rec Record) (string, string, error) {
	id := b.ids.NewID()
	key := b.ids.StoreKey(id)
	if err := b.store.Save(ctx, key, rec); err != nil {
		return "", "", err
	}
	return id, key, nil
}

// replace is atomic with an Updater. Without one it loads, then saves: a
// delete that lands between the two is overwritten.
func (b serverBackend) replace(ctx context.Context, key string, next func(Record, bool) (Record, error)) (string, string, error) {
	if b.updater != nil {
		return "", key, b.updater.UpdateRecord(ctx, key, next)
	}
	if _, err := b.store.Load(ctx, key); errors.Is(err, ErrNotFound) {
		return "", key, ErrSessionInterrupted
	} else if err != nil {
		return "", key, err
	}
	rec, err := next(Record{}, true)
	if err != nil {
		return "", key, err
	}
	return "", key, b.store.Save(ctx, key, rec)
}

// retire expires the record in place first where the store can do that
// atomically (an expired record is invisible to Load), then deletes it.
func (b serverBackend) retire(ctx context.Context, key string) error {
	if b.updater != nil {
		err := b.updater.UpdateRecord(ctx, key, func(_ Record, found bool) (Record, error) {
			if !found {
				return Record{}, ErrSessionInterrupted
			}
			return Record{}, nil // expired: gone for Load; Delete or the sweeper removes it
		})
		if err != nil {
			if errors.Is(err, ErrSessionInterrupted) {
				return err
			}
			return fmt.Errorf("delete old record: %w", err)
		}
	} else if _, err := b.store.Load(ctx, key); errors.Is(err, ErrNotFound) {
		return ErrSessionInterrupted
	}
	if err := b.store.Delete(ctx, key); err != nil {
		b.log.WarnContext(ctx, "session: deleting an expired record failed; the sweeper will remove it",
			"key", key, "err", err)
	}
	return nil
}

// sealedBackend keeps the whole session in the cookie (a Sealer store such
// as cookiestore): the cookie value is the key, every write seals a new
// value, and nothing on the server can be removed or checked.
type sealedBackend struct {
	store  Store
	sealer Sealer
	maxLen int // the longest cookie value a browser keeps
}

// accepts takes any value a browser could have kept; the store
// authenticates it.
func (b sealedBackend) accepts(v string) bool {
	return v != "" && len(v) <= b.maxLen
}

func (b sealedBackend) keyOf(id string) string               { return id }
func (b sealedBackend) inPlace() bool                        { return false }
func (b sealedBackend) sealed() bool                         { return true }
func (b sealedBackend) retire(context.Context, string) error { return nil }
func (b sealedBackend) remove(context.Context, string) error { return nil }
func (b sealedBackend) load(ctx context.Context, key string, _ []byte) (Record, bool, error) {
	rec, err := b.store.Load(ctx, key)
	return rec, false, err
}

func (b sealedBackend) create(_ context.Context, rec Record) (string, string, error) {
	v, err := b.sealer.Seal(rec, b.maxLen)
	return v, v, err
}

func (b sealedBackend) replace(ctx context.Context, _ string, next func(Record, bool) (Record, error)) (string, string, error) {
	rec, err := next(Record{}, true)
	if err != nil {
		return "", "", err
	}
	return b.create(ctx, rec)
}
