package cachestore

import (
	"context"
	"errors"
	"fmt"

	"github.com/sessionkv/session"
)

// UpdateRecord implements session.Updater: fn runs inside the backing store's
// atomic update, as often as the backing store calls it; then the cache
// takes the record the update wrote, or drops the entry if fn returned an
// expired record. If the update fails, the entry is dropped and the error
// returned. fn runs under the key's lock and must not call the Store.
//
// If the backing store is not an Updater, UpdateRecord returns an error wrapping
// session.ErrNotSupported: a read-modify-write here would be atomic only
// against writes through this Store, not against other processes.
func (s *Store) UpdateRecord(ctx context.Context, key string, fn session.UpdateFunc) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	if s.updater == nil {
		return notSupported("update", "Updater")
	}
	st, err := s.stripes.lock(ctx, key)
	if err != nil {
		return err
	}
	defer s.stripes.unlock(st)
	synced := s.now()
	next, err := s.forwardUpdate(ctx, key, fn)
	if err != nil {
		// The update failed, or fn refused it because the record is not what
		// it expected (say the session was deleted by another process): the
		// entry may be stale.
		s.cache.Invalidate(key)
		return err
	}
	s.store(key, next, synced, false)
	return nil
}

// notSupported is the error of a capability the backing store lacks.
func notSupported(op, capability string) error {
	return fmt.Errorf("cachestore: %s: %w: the backing store does not implement session.%s", op, session.ErrNotSupported, capability)
}

// errNotCalled reports a backing store whose UpdateRecord returned success
// without calling the function.
var errNotCalled = errors.New("cachestore: the backing store's Update returned without calling the update function")

// forwardUpdate runs fn in the backing store's UpdateRecord and returns the record
// it wrote, with data of its own: fn's result may alias cur.Data, which is
// valid only during the call, or a buffer the caller reuses.
func (s *Store) forwardUpdate(ctx context.Context, key string, fn session.UpdateFunc) (session.Record, error) {
	var (
		last   session.Record
		buf    []byte
		called bool
	)
	err := s.updater.UpdateRecord(ctx, key, func(cur session.Record, found bool) (session.Record, error) {
		next, err := fn(cur, found)
		if err != nil {
			return next, err
		}
		// Only the last call counts: a store that retries calls fn again.
		called = true
		last = next
		if next.Data != nil {
			buf = append(buf[:0], next.Data...)
			last.Data = buf
		}
		return next, nil
	})
	if err != nil {
		return session.Record{}, err
	}
	if !called {
		s.log.WarnContext(ctx, errNotCalled.Error(), "key", key)
		return session.Record{}, errNotCalled
	}
	return last, nil
}

// DeleteExpired implements session.Sweeper by forwarding to the backing
// store's sweep, or returns an error wrapping session.ErrNotSupported if the
// backing store is not a Sweeper. The cache itself is not swept: it drops
// each entry when it expires.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	if err := s.closed.Check(ctx); err != nil {
		return 0, err
	}
	if s.sweeper == nil {
		return 0, notSupported("delete expired", "Sweeper")
	}
	return s.sweeper.DeleteExpired(ctx)
}

// Range implements session.Ranger by forwarding to the backing store; the
// cache is neither read nor filled. If the backing store is not a Ranger it
// returns an error wrapping session.ErrNotSupported.
func (s *Store) Range(ctx context.Context, fn func(key string, rec session.Record) bool) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	if s.ranger == nil {
		return notSupported("range", "Ranger")
	}
	return s.ranger.Range(ctx, fn)
}

// RangeExpired implements session.ExpiredRanger by forwarding to the
// backing store; the cache is neither read nor filled. If the backing store
// is not an ExpiredRanger it returns an error wrapping
// session.ErrNotSupported.
func (s *Store) RangeExpired(ctx context.Context, fn func(key string, rec session.Record) bool) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	if s.expired == nil {
		return notSupported("range expired", "ExpiredRanger")
	}
	return s.expired.RangeExpired(ctx, fn)
}

// Count implements session.Counter by forwarding to the backing store. If
// the backing store is not a Counter it returns an error wrapping
// session.ErrNotSupported.
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := s.closed.Check(ctx); err != nil {
		return 0, err
	}
	if s.counter == nil {
		return 0, notSupported("count", "Counter")
	}
	return s.counter.Count(ctx)
}

// Unwrap implements session.Wrapper: it returns the backing store.
func (s *Store) Unwrap() session.Store { return s.backing }

// UserKeys implements session.UserIndexer by forwarding to the backing
// store. If the backing store is not a UserIndexer it returns an error
// wrapping session.ErrNotSupported.
func (s *Store) UserKeys(ctx context.Context, uid string) ([]string, error) {
	if err := s.closed.Check(ctx); err != nil {
		return nil, err
	}
	if s.users == nil {
		return nil, notSupported("user keys", "UserIndexer")
	}
	return s.users.UserKeys(ctx, uid)
}

// DeleteUser implements session.UserIndexer by forwarding to the backing
// store, then drops the user's records from the cache. It holds every key
// lock of the Store meanwhile, so no write through this Store can put one
// of them back in the cache: writes through this Store wait for it. If the
// backing store is not a UserIndexer it returns an error wrapping
// session.ErrNotSupported.
func (s *Store) DeleteUser(ctx context.Context, uid string) (int, error) {
	if err := s.closed.Check(ctx); err != nil {
		return 0, err
	}
	if s.users == nil {
		return 0, notSupported("delete user", "UserIndexer")
	}
	if err := s.stripes.lockAll(ctx); err != nil {
		return 0, err
	}
	defer s.stripes.unlockAll()
	// While every stripe is held, the cache matches the backing store as far
	// as writes made here go, so the user's cached records are exactly those
	// the index lists now.
	keys, listErr := s.users.UserKeys(ctx, uid)
	n, err := s.users.DeleteUser(ctx, uid)
	if listErr != nil {
		s.dropUser(uid) // no list: find them in the cache
	}
	for _, k := range keys {
		s.cache.Invalidate(k)
	}
	return n, err
}

// dropUser drops the cached records of uid, scanning the whole cache.
func (s *Store) dropUser(uid string) {
	for k, e := range s.cache.All() {
		if e.userID == uid {
			s.cache.Invalidate(k)
		}
	}
}
