package session

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RecordInfo describes one stored record without decoding its data.
type RecordInfo struct {
	// Key is the store key: StoreKey of the session ID. The ID itself is
	// never stored.
	Key string
	// UserID is the owner recorded with SetUserID, or "".
	UserID string
	// Expires is when the record stops being valid.
	Expires time.Time
	// Size is the encoded size in bytes.
	Size int
}

func recordInfo(key string, rec Record) RecordInfo {
	return RecordInfo{Key: key, UserID: rec.UserID, Expires: rec.Expires, Size: len(rec.Data)}
}

// Range calls fn for each live session in the store, until fn returns
// false, without loading them all into memory: for operator tools and
// migrations. rec.Data is only valid during the call; Decode it there if
// needed. It returns an error wrapping ErrNotSupported when the store does
// not implement Ranger.
func (e *Engine) Range(ctx context.Context, fn func(key string, rec Record) bool) error {
	r, ok := As[Ranger](e.store)
	if !ok {
		return fmt.Errorf("%w: Range needs a store that implements Ranger", ErrNotSupported)
	}
	return r.Range(ctx, fn)
}

// RecordContents is what DecodeRecord finds in a record: the session's
// values and the expiry choice made for it (none of MaxAge, ExpiresAt and
// BrowserClose set means the engine's policy).
type RecordContents struct {
	// Values are the session's keys and values.
	Values map[string]any
	// MaxAge is the custom max age set with SetMaxAge, or 0.
	MaxAge time.Duration
	// ExpiresAt is the custom expiry set with SetExpiresAt, or the zero
	// time.
	ExpiresAt time.Time
	// BrowserClose reports that SetExpireAtBrowserClose was chosen.
	BrowserClose bool
}

// DecodeRecord decodes a record's data, as a server whose engine uses codec
// saved it, without an engine: for tools that read a store. A corrupt
// record gives an error wrapping ErrCorrupt.
func DecodeRecord(rec Record, codec Codec) (RecordContents, error) {
	values, exp, err := decodeRecord(rec.Data, codec)
	if err != nil {
		return RecordContents{}, err
	}
	d := RecordContents{Values: values}
	switch exp.kind {
	case expiryMaxAge:
		d.MaxAge = exp.maxAge
	case expiryAt:
		d.ExpiresAt = exp.at
	case expiryBrowserClose:
		d.BrowserClose = true
	}
	return d, nil
}

func (e *Engine) userIndexer() (UserIndexer, error) {
	u, ok := As[UserIndexer](e.store)
	if !ok {
		return nil, fmt.Errorf("%w: per-user operations need a store that implements UserIndexer", ErrNotSupported)
	}
	return u, nil
}

// UserSessions lists the live sessions whose owner (SetUserID) is uid, in
// O(that user's sessions). It returns an error wrapping ErrNotSupported when
// the store keeps no user index.
func (e *Engine) UserSessions(ctx context.Context, uid string) ([]RecordInfo, error) {
	u, err := e.userIndexer()
	if err != nil {
		return nil, err
	}
	keys, err := u.UserKeys(ctx, uid)
	if err != nil {
		return nil, fmt.Errorf("session: user sessions: %w", err)
	}
	out := make([]RecordInfo, 0, len(keys))
	for _, k := range keys {
		rec, err := e.store.Load(ctx, k)
		if errors.Is(err, ErrNotFound) {
			continue // ended since it was listed
		}
		if err != nil {
			return nil, fmt.Errorf("session: user sessions: %w", err)
		}
		if rec.UserID == uid {
			out = append(out, recordInfo(k, rec))
		}
	}
	return out, nil
}

// DeleteUser deletes every session whose owner is uid ("log out
// everywhere") in O(that user's sessions), and returns how many it deleted.
// A request of that user still in flight cannot bring its session back: its
// commit fails with ErrSessionInterrupted. It returns an error wrapping
// ErrNotSupported when the store keeps no user index.
func (e *Engine) DeleteUser(ctx context.Context, uid string) (int, error) {
	u, err := e.userIndexer()
	if err != nil {
		return 0, err
	}
	n, err := u.DeleteUser(ctx, uid)
	if err != nil {
		return n, fmt.Errorf("session: delete user: %w", err)
	}
	return n, nil
}
