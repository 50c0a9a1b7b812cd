// Package memstore keeps sessions in process memory, like Django's "cache"
// session backend with a local-memory cache. It suits tests, development and
// single-process servers that accept losing every session on restart.
//
// # Concurrency
//
// A Store is safe for concurrent use. Records are spread over 64 shards, each
// with its own locks, so requests for different sessions rarely contend.
// Writes of a shard (Save, Delete, UpdateRecord, DeleteExpired, DeleteUser) take
// its write lock in turn; a write waiting for it gives up when its context
// ends, with an error wrapping the context's. UpdateRecord holds the write lock
// while its function runs, but reads never wait for that function: the
// shard's map has a lock of its own, held only for a lookup or a change.
// The per-user index (session.UserIndexer) is updated with the record,
// under both, so it always matches the records.
//
// # Durability
//
// None: a crash or restart loses every session. Expired records are removed
// by the engine's sweeper (Store implements session.Sweeper) and are never
// returned once expired.
package memstore

import (
	"context"
	"fmt"
	"hash/maphash"
	"sync"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/closer"
)

const shardCount = 64

// Store is an in-memory session.Store. The zero value is not usable; call New.
type Store struct {
	seed   maphash.Seed
	now    func() time.Time
	closed closer.Flag
	shards [shardCount]shard

	// usersMu guards users, the keys of each owner's records. It is taken
	// inside a shard's mu, never the other way round.
	usersMu sync.Mutex
	users   map[string]map[string]struct{}
}

type shard struct {
	// write serializes the shard's writers: a writer holds it from sending
	// a value into it until it receives that value back. A 1-buffered
	// channel rather than a sync.Mutex, so that a wait for it can end with
	// the context.
	write chan struct{}
	// mu guards m, for no longer than a lookup, a change or a copy; it is
	// never held while code from outside the package runs. m changes only
	// under both write and mu, so a holder of write reads m without mu.
	mu sync.RWMutex
	m  map[string]session.Record
}

var (
	_ session.Store         = (*Store)(nil)
	_ session.Sweeper       = (*Store)(nil)
	_ session.Updater       = (*Store)(nil)
	_ session.Ranger        = (*Store)(nil)
	_ session.ExpiredRanger = (*Store)(nil)
	_ session.UserIndexer   = (*Store)(nil)
	_ session.Counter       = (*Store)(nil)
	_ session.LoadAppender  = (*Store)(nil)
)

// New returns an empty store.
func New() *Store { return NewWithClock(time.Now) }

// NewWithClock returns an empty store that reads the time from now, so tests
// can move time forward instead of sleeping.
func NewWithClock(now func() time.Time) *Store {
	s := &Store{seed: maphash.MakeSeed(), now: now, users: map[string]map[string]struct{}{}}
	for i := range s.shards {
		s.shards[i].write = make(chan struct{}, 1)
		s.shards[i].m = make(map[string]session.Record)
	}
	return s
}

// lockWrites takes sh's write lock, or fails with an error wrapping
// ctx.Err() if ctx ends first. It then checks again that the Store is
// open: Close takes every write lock after marking the Store closed, so a
// writer that waited across Close fails with session.ErrClosed instead of
// writing into a closed Store.
func (s *Store) lockWrites(ctx context.Context, sh *shard) error {
	select {
	case sh.write <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("memstore: waiting for a shard's write lock: %w", ctx.Err())
	}
	if err := s.closed.Check(ctx); err != nil {
		sh.unlockWrites()
		return err
	}
	return nil
}

// unlockWrites releases sh's write lock.
func (sh *shard) unlockWrites() { <-sh.write }

func (s *Store) shard(key string) *shard {
	return &s.shards[maphash.String(s.seed, key)%shardCount]
}

// Load implements session.Store.
func (s *Store) Load(ctx context.Context, key string) (session.Record, error) {
	if err := s.closed.Check(ctx); err != nil {
		return session.Record{}, err
	}
	return s.load(key, nil, true)
}

// LoadAppend implements session.LoadAppender.
func (s *Store) LoadAppend(ctx context.Context, key string, dst []byte) (session.Record, error) {
	if err := s.closed.Check(ctx); err != nil {
		return session.Record{}, err
	}
	return s.load(key, dst, false)
}

// load copies the record under key, its data appended to dst, or to a
// slice of its own size when fresh is set.
func (s *Store) load(key string, dst []byte, fresh bool) (session.Record, error) {
	sh := s.shard(key)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	rec, ok := sh.m[key]
	if !ok || rec.Expired(s.now()) {
		return session.Record{}, session.ErrNotFound
	}
	// UpdateRecord may overwrite a record's data in place under the write
	// lock: copy it under the read lock.
	if fresh {
		rec.Data = clone(rec.Data)
	} else {
		rec.Data = append(dst, rec.Data...)
	}
	return rec, nil
}

// Save implements session.Store.
func (s *Store) Save(ctx context.Context, key string, rec session.Record) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	if err := session.CheckUserID(rec.UserID); err != nil {
		return fmt.Errorf("memstore: save: %w", err)
	}
	rec.Data = clone(rec.Data)
	sh := s.shard(key)
	if err := s.lockWrites(ctx, sh); err != nil {
		return err
	}
	sh.mu.Lock()
	s.putLocked(sh, key, rec)
	sh.mu.Unlock()
	sh.unlockWrites()
	return nil
}

// putLocked stores rec and moves the key between owners' index entries.
// The shard's write lock and mu must be held.
func (s *Store) putLocked(sh *shard, key string, rec session.Record) {
	old, had := sh.m[key]
	sh.m[key] = rec
	if !had || old.UserID != rec.UserID {
		s.usersMu.Lock()
		if had {
			s.unindexLocked(old.UserID, key)
		}
		s.indexLocked(rec.UserID, key)
		s.usersMu.Unlock()
	}
}

// removeLocked deletes key's record and index entry. The shard's write lock
// and mu must be held.
func (s *Store) removeLocked(sh *shard, key string) {
	old, had := sh.m[key]
	if !had {
		return
	}
	delete(sh.m, key)
	if old.UserID != "" {
		s.usersMu.Lock()
		s.unindexLocked(old.UserID, key)
		s.usersMu.Unlock()
	}
}

func (s *Store) indexLocked(uid, key string) {
	if uid == "" {
		return
	}
	set := s.users[uid]
	if set == nil {
		set = map[string]struct{}{}
		s.users[uid] = set
	}
	set[key] = struct{}{}
}

func (s *Store) unindexLocked(uid, key string) {
	if set := s.users[uid]; set != nil {
		delete(set, key)
		if len(set) == 0 {
			delete(s.users, uid)
		}
	}
}

// Delete implements session.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	sh := s.shard(key)
	if err := s.lockWrites(ctx, sh); err != nil {
		return err
	}
	sh.mu.Lock()
	s.removeLocked(sh, key)
	sh.mu.Unlock()
	sh.unlockWrites()
	return nil
}

// UpdateRecord implements session.Updater: fn runs once, under the key's shard
// write lock, which excludes every other write of the shard but no read.
func (s *Store) UpdateRecord(ctx context.Context, key string, fn session.UpdateFunc) error {
	sh := s.shard(key)
	if err := s.lockWrites(ctx, sh); err != nil {
		return err
	}
	defer sh.unlockWrites()
	// Only holders of the shard's write lock change m, so this read needs
	// no mu.
	cur, found := sh.m[key]
	now := s.now()
	if found && cur.Expired(now) {
		cur, found = session.Record{}, false
	}
	next, err := fn(cur, found)
	if err != nil {
		return err
	}
	if err := session.CheckUserID(next.UserID); err != nil {
		return fmt.Errorf("memstore: update: %w", err)
	}
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if next.Expired(now) {
		s.removeLocked(sh, key)
		return nil
	}
	if found && next.Data != nil && cap(cur.Data) >= len(next.Data) && cap(cur.Data) <= 2*len(next.Data)+4096 {
		// Rewrite the record's own buffer: nothing outside this package
		// holds it (readers copy under mu), and a request's commit then
		// costs no allocation. A record that shrank much gets a buffer
		// of its size instead.
		next.Data = append(cur.Data[:0], next.Data...)
	} else {
		next.Data = clone(next.Data)
	}
	s.putLocked(sh, key, next)
	return nil
}

// DeleteExpired implements session.Sweeper.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	n := 0
	for i := range s.shards {
		if err := s.closed.Check(ctx); err != nil {
			return n, err
		}
		sh := &s.shards[i]
		if err := s.lockWrites(ctx, sh); err != nil {
			return n, err
		}
		now := s.now()
		sh.mu.Lock()
		for k, rec := range sh.m {
			if rec.Expired(now) {
				s.removeLocked(sh, k)
				n++
			}
		}
		sh.mu.Unlock()
		sh.unlockWrites()
	}
	return n, nil
}

// Range implements session.Ranger. It copies one shard's entries at a time,
// so it never holds more than about 1/64 of the store beyond the store
// itself.
func (s *Store) Range(ctx context.Context, fn func(key string, rec session.Record) bool) error {
	return s.rangeRecords(ctx, false, fn)
}

// RangeExpired implements session.ExpiredRanger: the expired records not
// swept yet, one shard at a time.
func (s *Store) RangeExpired(ctx context.Context, fn func(key string, rec session.Record) bool) error {
	return s.rangeRecords(ctx, true, fn)
}

// rangeRecords calls fn for the live records, or the expired ones.
func (s *Store) rangeRecords(ctx context.Context, expired bool, fn func(key string, rec session.Record) bool) error {
	type entry struct {
		key string
		rec session.Record
	}
	var batch []entry
	for i := range s.shards {
		if err := s.closed.Check(ctx); err != nil {
			return err
		}
		now := s.now()
		sh := &s.shards[i]
		batch = batch[:0]
		sh.mu.RLock()
		for k, rec := range sh.m {
			if rec.Expired(now) == expired {
				// Copied under the lock: UpdateRecord may rewrite a
				// record's data in place.
				rec.Data = clone(rec.Data)
				batch = append(batch, entry{k, rec})
			}
		}
		sh.mu.RUnlock()
		for _, e := range batch {
			if !fn(e.key, e.rec) {
				return nil
			}
		}
	}
	return nil
}

// Len returns the number of records held, expired ones included until they
// are swept.
func (s *Store) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.RLock()
		n += len(sh.m)
		sh.mu.RUnlock()
	}
	return n
}

// Count implements session.Counter: it returns Len.
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := s.closed.Check(ctx); err != nil {
		return 0, err
	}
	return s.Len(), nil
}

// Close drops every record, once the writes in progress (an UpdateRecord's
// function included) are done; later calls return session.ErrClosed.
// Close is idempotent.
func (s *Store) Close() error {
	if s.closed.Close() {
		return nil
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.write <- struct{}{}
		sh.mu.Lock()
		clear(sh.m)
		sh.mu.Unlock()
		sh.unlockWrites()
	}
	s.usersMu.Lock()
	clear(s.users)
	s.usersMu.Unlock()
	return nil
}

// userKeys copies the index entries of uid.
func (s *Store) userKeys(uid string) []string {
	s.usersMu.Lock()
	defer s.usersMu.Unlock()
	keys := make([]string, 0, len(s.users[uid]))
	for k := range s.users[uid] {
		keys = append(keys, k)
	}
	return keys
}

// UserKeys implements session.UserIndexer.
func (s *Store) UserKeys(ctx context.Context, uid string) ([]string, error) {
	if err := s.closed.Check(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	keys := s.userKeys(uid)
	live := keys[:0]
	for _, k := range keys {
		sh := s.shard(k)
		sh.mu.RLock()
		rec, ok := sh.m[k]
		sh.mu.RUnlock()
		if ok && rec.UserID == uid && !rec.Expired(now) {
			live = append(live, k)
		}
	}
	return live, nil
}

// DeleteUser implements session.UserIndexer.
func (s *Store) DeleteUser(ctx context.Context, uid string) (int, error) {
	if err := s.closed.Check(ctx); err != nil {
		return 0, err
	}
	now := s.now()
	n := 0
	for _, k := range s.userKeys(uid) {
		sh := s.shard(k)
		if err := s.lockWrites(ctx, sh); err != nil {
			return n, err
		}
		sh.mu.Lock()
		if rec, ok := sh.m[k]; ok && rec.UserID == uid {
			s.removeLocked(sh, k)
			if !rec.Expired(now) {
				n++
			}
		}
		sh.mu.Unlock()
		sh.unlockWrites()
	}
	return n, nil
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append(make([]byte, 0, len(b)), b...)
}
