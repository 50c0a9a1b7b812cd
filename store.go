package session

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Errors returned by the engine, sessions and stores. They are wrapped with
// context where they cross a package boundary; test for them with [errors.Is].
var (
	// ErrNotFound is returned by a Store when no live record exists under a
	// key: it was never saved, was deleted, or has expired.
	ErrNotFound = errors.New("session: record not found")

	// ErrKeyNotFound is returned by [Session.Delete] for a key the session
	// does not hold, like Django's KeyError.
	ErrKeyNotFound = errors.New("session: key not found")

	// ErrSessionInterrupted is returned when a session is saved after its
	// stored record was deleted by someone else (a logout in another tab, a
	// CycleKey, a sweep). The save is refused so the session is not brought
	// back to life. The middleware answers it with 400 Bad Request, as
	// Django's SessionInterrupted.
	ErrSessionInterrupted = errors.New("session: the session was deleted before the request completed")

	// ErrClosed is returned by stores used after Close.
	ErrClosed = errors.New("session: store is closed")

	// ErrCorrupt reports a stored record or encoded value that cannot be
	// decoded. The engine treats such a record as missing and logs it,
	// whether the store or the codec found it corrupt.
	ErrCorrupt = errors.New("session: corrupt session data")

	// ErrUnsupportedValue reports a value given to [Session.Set] that the
	// session type model cannot hold (a func, a channel, a complex number...).
	ErrUnsupportedValue = errors.New("session: unsupported value type")

	// ErrCookieTooLarge is returned when a session sealed into the cookie
	// (see Sealer) would exceed what browsers keep: 4096 bytes for the
	// cookie's name and value. The save fails rather than send a cookie the
	// browser would drop or truncate.
	ErrCookieTooLarge = errors.New("session: session too large for a cookie")

	// ErrNotSupported is returned when the engine's store lacks the optional
	// capability an operation needs (Ranger for Range, UserIndexer for the
	// per-user operations).
	ErrNotSupported = errors.New("session: not supported by the store")

	// ErrUserIDTooLong is returned by every store's Save and UpdateRecord for a
	// record whose UserID is longer than MaxUserIDLen, before anything is
	// written.
	ErrUserIDTooLong = errors.New("session: user ID longer than 1 KiB")

	// ErrUnsafeLocation is returned when an embedded store's file or
	// directory is one that another local user owns or can write, and so
	// could have planted sessions in or could read what is saved there.
	// The error names the path and says why; each store documents the
	// option that accepts such a location on purpose.
	ErrUnsafeLocation = errors.New("session: store location is not private")
)

// Record is what a Store keeps for one session: the encoded session and the
// moment it stops being valid.
type Record struct {
	// Data is the encoded session. It is opaque to the store.
	Data []byte
	// Expires is the moment from which the store must no longer return the
	// record. Stores keep it to at least millisecond precision.
	Expires time.Time
	// UserID is the owner of the session ("" for none), which stores that
	// implement UserIndexer index. Every store returns it as saved, but
	// for stores in another program's layout with no place for it (such
	// as Django's table, sqlstore.DjangoStore), which document that they
	// return ""; the engine then takes the owner from the values through
	// its codec (OwnerCodec).
	UserID string
}

// Expired reports whether the record is past its expiry at now.
func (r Record) Expired(now time.Time) bool {
	return !now.Before(r.Expires)
}

// Store is the seam every backend implements. Its keys are store keys (see
// [StoreKey]): hex strings derived from session IDs, never raw client input
// (a [Sealer] is the exception: its keys are the cookie values it sealed).
// In this package and the stores, "key" alone means a store key; the keys
// of a session's dictionary (Session.Get, Set, ...) never reach a store by
// themselves, only inside the encoded Record.Data.
//
// Implementations must be safe for concurrent use. Optional powers are
// separate interfaces ([Sweeper], [Updater], [Ranger], [ExpiredRanger],
// [UserIndexer], [Counter] and [Sealer]) that the engine and tools
// discover with [As], which looks through wrappers ([Wrapper]). A store
// that holds resources also implements io.Closer; find that one with a
// plain type assertion, since a wrapper has resources of its own to close
// whatever it wraps.
type Store interface {
	// Load returns the record stored under key. It returns an error that
	// wraps ErrNotFound when the key is missing or its record has expired.
	// The returned Data belongs to the caller.
	Load(ctx context.Context, key string) (Record, error)

	// Save stores rec under key, replacing any previous record. The store
	// must not keep rec.Data beyond the call without copying it: the caller
	// reuses the slice. A record whose Expires is already past may be
	// stored or dropped; either way Load does not return it.
	Save(ctx context.Context, key string, rec Record) error

	// Delete removes the record under key. Deleting a missing key is not an
	// error.
	Delete(ctx context.Context, key string) error
}

// LoadAppender is an optional interface for stores that can load a record
// into a buffer the caller provides. The middleware passes buffers it
// recycles once each request is over, so that serving a large session does
// not allocate a copy of it per request.
type LoadAppender interface {
	// LoadAppend is Load, with the record's Data appended to dst and the
	// extended slice returned as Data. It must not keep dst.
	LoadAppend(ctx context.Context, key string, dst []byte) (Record, error)
}

// Sweeper is an optional interface for stores that keep expired records
// until they are removed. The engine's background sweeper calls it.
type Sweeper interface {
	// DeleteExpired removes every record expired at the time of the call and
	// returns how many it removed.
	DeleteExpired(ctx context.Context) (int, error)
}

// UpdateFunc computes a new record from the current one inside a store's
// atomic read-modify-write. found is false when no live record exists (cur is
// then the zero Record). cur.Data is only valid during the call and must not
// be modified: copy what is kept. The store copies the returned Data if it
// keeps it, so the caller may reuse that slice once UpdateRecord returns.
// Returning a record that is already expired, such as the zero Record,
// removes the session as far as Load is concerned. Returning an error aborts
// the update, leaves the store unchanged, and makes UpdateRecord return that
// error.
//
// A store may call the function more than once for one UpdateRecord (an optimistic
// transaction retried, a batch replayed), so it must have no side effects
// beyond its return values. It never calls the function after UpdateRecord has
// returned, whatever the context: the function may use memory its caller
// reuses afterwards.
type UpdateFunc func(cur Record, found bool) (Record, error)

// Updater is an optional interface for stores that can read, modify and write
// one record atomically: no other Save, Delete or UpdateRecord of the same key,
// from this process or another one sharing the store, interleaves with it.
// The engine commits through it so that a session deleted during a request is
// not resurrected.
type Updater interface {
	UpdateRecord(ctx context.Context, key string, fn UpdateFunc) error
}

// ExpiredRanger is an optional interface for stores that keep expired
// records until a sweep removes them, so that tools can list those too.
type ExpiredRanger interface {
	// RangeExpired calls fn for each record that has expired but is still
	// stored, until fn returns false. rec.Data is only valid during the
	// call.
	RangeExpired(ctx context.Context, fn func(key string, rec Record) bool) error
}

// Ranger is an optional interface for stores that can list their records.
type Ranger interface {
	// Range calls fn for each live record until fn returns false. rec.Data is
	// only valid during the call. The store is not locked for the whole
	// iteration: records saved or deleted meanwhile may or may not be seen.
	Range(ctx context.Context, fn func(key string, rec Record) bool) error
}

// UserIndexer is an optional interface for stores that index records by
// their UserID, so that one user's sessions are found and revoked in
// O(that user's sessions), not by scanning the store. The index is kept
// atomically with the records by Save, UpdateRecord and Delete; a store that
// sweeps also removes index entries of records that expired.
type UserIndexer interface {
	// UserKeys returns the keys of the live records whose UserID is uid, in
	// no particular order. The empty uid means "no owner" and is not
	// indexed: UserKeys("") returns nothing and DeleteUser("") deletes
	// nothing.
	UserKeys(ctx context.Context, uid string) ([]string, error)
	// DeleteUser deletes every record whose UserID is uid and returns how
	// many live records it deleted.
	DeleteUser(ctx context.Context, uid string) (int, error)
}

// Sealer is an optional interface for stores that keep the whole session in
// the cookie instead of on the server, like Django's signed_cookies backend
// (package cookiestore). With such a store the engine keeps nothing
// server-side: a save puts Seal's result in the cookie, and the cookie value
// is the key the engine passes to the store's Load, which opens it. Delete
// does nothing (a cookie cannot be revoked from the server), and Save is not
// used. Handlers see no difference: Flush clears the cookie, CycleKey
// re-issues it.
type Sealer interface {
	// Seal returns the cookie value that carries rec, at most maxLen bytes
	// long, or an error wrapping ErrCookieTooLarge.
	Seal(rec Record, maxLen int) (string, error)
}

// MaxUserIDLen is the longest Record.UserID a store accepts, in bytes.
const MaxUserIDLen = 1 << 10

// CheckUserID returns an error wrapping ErrUserIDTooLong when uid is longer
// than MaxUserIDLen. Stores call it in Save and UpdateRecord before writing.
func CheckUserID(uid string) error {
	if len(uid) > MaxUserIDLen {
		return fmt.Errorf("%w: %d bytes", ErrUserIDTooLong, len(uid))
	}
	return nil
}

// Counter is an optional interface for stores that can tell how many
// records they hold without reading them.
type Counter interface {
	// Count returns how many records the store holds, expired ones
	// included until a sweep removes them. Records saved or deleted
	// meanwhile may or may not be counted.
	Count(ctx context.Context) (int, error)
}

// Wrapper is implemented by a store that keeps its records in another
// store, such as a cache in front of it (package cachestore).
type Wrapper interface {
	// Unwrap returns the store this one keeps its records in.
	Unwrap() Store
}

// As reports whether store has the optional capability T (Sweeper,
// Updater, Ranger, ExpiredRanger, UserIndexer, Counter, ...) and returns
// it. Discover capabilities with As rather than a type assertion: a store
// that wraps another (Wrapper) has a capability only when the store it
// wraps has it too, all the way down, as errors.As looks through wrapped
// errors. A wrapper's method for a capability its backing store lacks
// returns an error wrapping ErrNotSupported.
func As[T any](store Store) (T, bool) {
	var zero T
	c, ok := store.(T)
	if !ok {
		return zero, false
	}
	if w, ok := store.(Wrapper); ok {
		if _, ok := As[T](w.Unwrap()); !ok {
			return zero, false
		}
	}
	return c, true
}
