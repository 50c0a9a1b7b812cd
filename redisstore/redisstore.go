package redisstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/closer"
	"github.com/sessionkv/session/internal/optimistic"
)

// DefaultPrefix is the key prefix used when Options.Prefix is empty.
const DefaultPrefix = "sessionkv:"

// DefaultMaxAttempts is the default of Options.MaxAttempts.
const DefaultMaxAttempts = 100

// ErrConflict is returned by UpdateRecord (and, rarely, by Save and Delete) when
// other writers kept changing the record for Options.MaxAttempts attempts.
var ErrConflict = errors.New("redisstore: too many concurrent writes to one session")

// claimWindow bounds, in split mode, the time between a claim in a user's
// index and the record write it covers; readers remove an entry of a record
// that is not the user's only once its claim is twice as old. See the
// package documentation.
const claimWindow = 30 * time.Second

// Options configures a Store. A nil *Options means all defaults.
type Options struct {
	// Prefix starts every key the store uses. Default "sessionkv:". Use a
	// different prefix per application sharing one Redis. A prefix with a
	// hash tag, such as "{sessions}:", puts every key in one Cluster slot
	// and makes the user index exact (see the package documentation).
	Prefix string

	// MaxAttempts bounds the optimistic write attempts of one UpdateRecord, and of
	// a Save or Delete that has to retry, before it fails with ErrConflict.
	// Default 100.
	MaxAttempts int

	// Now returns the current time, used to decide whether a record read
	// from Redis has expired and to date claims in the user index. Default
	// time.Now. Redis expires keys by its own clock regardless.
	Now func() time.Time
}

// Store is a session.Store in Redis. It is safe for concurrent use. The zero
// value is not usable; call New.
type Store struct {
	client     redis.UniversalClient
	prefix     string
	singleSlot bool // record and index writes in one script (see doc.go)
	guard      bool // go-redis ignores context deadlines: enforce them here
	maxAttempt int
	now        func() time.Time
	closed     closer.Flag

	// keys holds the in-process lock of each key's updates and, as hints,
	// what the last Load of a key read (a private copy, so that callers
	// who change the Data of a loaded record cannot change it), which
	// UpdateRecord takes as its first guess of the current value (see
	// UpdateRecord).
	keys *optimistic.Keys[[]byte]
}

var (
	_ session.Store       = (*Store)(nil)
	_ session.Updater     = (*Store)(nil)
	_ session.Ranger      = (*Store)(nil)
	_ session.UserIndexer = (*Store)(nil)
)

// New returns a store that keeps sessions in Redis through client. A nil
// opts means the defaults. New does not contact Redis, so it succeeds while
// Redis is down; the first call that needs Redis reports it.
//
// The store does not own client: close it yourself once the store (and the
// engine using it) is no longer used.
func New(client redis.UniversalClient, opts *Options) (*Store, error) {
	if client == nil {
		return nil, errors.New("redisstore: New: nil client")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.MaxAttempts < 0 {
		return nil, fmt.Errorf("redisstore: New: negative MaxAttempts %d", o.MaxAttempts)
	}
	if o.MaxAttempts == 0 {
		o.MaxAttempts = DefaultMaxAttempts
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	s := &Store{
		client:     client,
		prefix:     o.Prefix,
		maxAttempt: o.MaxAttempts,
		now:        o.Now,
		keys:       optimistic.New[[]byte](),
	}
	switch c := client.(type) {
	case *redis.Client:
		s.singleSlot = true
		s.guard = !c.Options().ContextTimeoutEnabled
	case *redis.ClusterClient:
		s.singleSlot = hasHashTag(o.Prefix)
		s.guard = !c.Options().ContextTimeoutEnabled
	case *redis.Ring:
		s.singleSlot = hasHashTag(o.Prefix)
		s.guard = !c.Options().ContextTimeoutEnabled
	default:
		s.guard = true
	}
	return s, nil
}

// hasHashTag reports whether every key starting with prefix has its hash tag
// inside prefix, and so lives in one Cluster slot.
func hasHashTag(prefix string) bool {
	i := strings.IndexByte(prefix, '{')
	if i < 0 {
		return false
	}
	j := strings.IndexByte(prefix[i+1:], '}')
	return j > 0
}

// Close marks the store closed: later calls return session.ErrClosed. It
// does not close the Redis client, which belongs to the caller. Close is
// idempotent.
func (s *Store) Close() error {
	s.closed.Close()
	s.keys.ForgetAll()
	return nil
}

func (s *Store) recordKey(key string) string { return s.prefix + "s:" + key }

func (s *Store) indexKey(uid string) string { return s.prefix + "u:" + uid }

// call runs f, which talks to Redis, and returns when f returns or when ctx
// ends, whichever is first. go-redis enforces deadlines itself when the
// client has ContextTimeoutEnabled; otherwise f runs in a goroutine that is
// left to finish on its own (within the client's ReadTimeout) if ctx ends
// first. f must share no state with the caller but its result.
func call[T any](s *Store, ctx context.Context, f func(context.Context) (T, error)) (T, error) {
	if !s.guard || ctx.Done() == nil {
		return f(ctx)
	}
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, err
	}
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := f(ctx)
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctx.Err()
	}
}

// get returns the raw value under rk, nil when there is none.
func (s *Store) get(ctx context.Context, rk string) ([]byte, error) {
	return call(s, ctx, func(ctx context.Context) ([]byte, error) {
		v, err := s.client.Get(ctx, rk).Bytes()
		if errors.Is(err, redis.Nil) {
			return nil, nil
		}
		return v, err
	})
}

// Load implements session.Store. A value under the key that is not a record
// of this store is reported as an error wrapping both session.ErrNotFound
// and session.ErrCorrupt, so the engine starts a new session.
func (s *Store) Load(ctx context.Context, key string) (session.Record, error) {
	if err := s.closed.Check(ctx); err != nil {
		return session.Record{}, err
	}
	raw, err := s.get(ctx, s.recordKey(key))
	if err != nil {
		return session.Record{}, fmt.Errorf("redisstore: load: %w", err)
	}
	if raw == nil {
		s.keys.Forget(key)
		return session.Record{}, session.ErrNotFound
	}
	rec, ok := decodeValue(raw)
	if !ok {
		s.keys.Forget(key)
		return session.Record{}, fmt.Errorf("redisstore: load: %w: %w", session.ErrNotFound, session.ErrCorrupt)
	}
	if rec.Expired(s.now()) {
		s.keys.Forget(key)
		return session.Record{}, session.ErrNotFound
	}
	s.keys.Remember(key, bytes.Clone(raw))
	return rec, nil
}

// Save implements session.Store. It is one Redis round trip, plus one for
// the index claim in split mode when the record has an owner, and one more
// in single-slot mode when the record changes owner.
func (s *Store) Save(ctx context.Context, key string, rec session.Record) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	s.keys.Forget(key)
	if rec.Expired(s.now()) {
		return s.remove(ctx, "save", key)
	}
	w := &write{store: s, key: key, token: newToken(), check: '-'}
	if err := w.setRecord(rec); err != nil {
		return fmt.Errorf("redisstore: save: %w", err)
	}
	if s.singleSlot {
		// Guess that the owner does not change; the script says otherwise.
		w.check, w.expected = 'o', rec.UserID
	}
	return s.runOwnerChecked(ctx, "save", w)
}

// Delete implements session.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	return s.remove(ctx, "delete", key)
}

// remove deletes key's record and, in single-slot mode, its index entry.
func (s *Store) remove(ctx context.Context, op, key string) error {
	s.keys.Forget(key)
	if !s.singleSlot {
		// Index entries are left to readers (see doc.go).
		_, err := call(s, ctx, func(ctx context.Context) (int64, error) {
			return s.client.Del(ctx, s.recordKey(key)).Result()
		})
		if err != nil {
			return fmt.Errorf("redisstore: %s: %w", op, err)
		}
		return nil
	}
	// Guess that there is no owner; the script says otherwise.
	return s.runOwnerChecked(ctx, op, &write{store: s, key: key, check: 'o'})
}

// runOwnerChecked runs w, a write whose check is on the owner ('o') or
// none ('-'), taking the owner each conflict reports as the next guess,
// until it lands or MaxAttempts attempts have conflicted. op names the
// calling method in errors.
func (s *Store) runOwnerChecked(ctx context.Context, op string, w *write) error {
	for attempt := 1; ; attempt++ {
		res, err := w.run(ctx)
		if err != nil {
			return fmt.Errorf("redisstore: %s: %w", op, err)
		}
		if res.ok {
			return nil
		}
		if attempt >= s.maxAttempt {
			return fmt.Errorf("redisstore: %s: %w (%d attempts)", op, ErrConflict, attempt)
		}
		w.expected = ownerOf(res.current)
	}
}

// UpdateRecord implements session.Updater with an optimistic compare-and-set (see
// the package documentation): fn may run several times, and an error from it
// is returned unchanged with nothing written (unless, for a guess, the read
// that would confirm it fails: that error is returned instead). Updates of
// one key through this Store run one at a time, so fn must not call UpdateRecord
// itself.
//
// UpdateRecord costs two round trips (read, then compare-and-set), plus one for the
// index claim in split mode when the new record has an owner; a conflict
// costs one more (the script returns the current record with the
// conflict). After a Load of the key through this Store, as the engine
// does on each request, UpdateRecord skips the read: it takes what Load read as
// its first guess (see optimistic.Keys.Take), and the compare-and-set checks the guess.
// A right guess (the session did not change in between) saves a round
// trip; a wrong one costs the round trip it saved, since the conflict
// returns the current record, and does not count as an attempt. fn may
// thus see the guess first. Two results of fn are acted on only once a
// read confirms the guess: an error, and, in split mode, a record with an
// owner, whose index claim would otherwise be written for a guess.
func (s *Store) UpdateRecord(ctx context.Context, key string, fn session.UpdateFunc) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	unlock, err := s.keys.Lock(ctx, key)
	if err != nil {
		return err
	}
	defer unlock()
	raw, guessed := s.keys.Take(key)
	if !guessed {
		if raw, err = s.get(ctx, s.recordKey(key)); err != nil {
			return fmt.Errorf("redisstore: update: %w", err)
		}
	}
	w := &write{store: s, key: key, check: 't'}
	for attempt := 1; ; attempt++ {
		cur, found := decodeValue(raw)
		if found && cur.Expired(s.now()) {
			cur, found = session.Record{}, false
		}
		next, fnErr := fn(cur, found)
		if fnErr == nil {
			// A token of its own for each attempt: a write that landed but
			// whose reply was lost must not look like a later attempt's.
			w.token = newToken()
			w.expected, w.oldOwner = writeID(raw), ownerOf(raw)
			if next.Expired(s.now()) {
				w.value, w.owner = nil, ""
			} else if err := w.setRecord(next); err != nil {
				return fmt.Errorf("redisstore: update: %w", err)
			}
		}
		if guessed && (fnErr != nil || w.needsClaim()) {
			// Read the record to confirm the guess before acting on it;
			// when it was wrong, run fn again on what was read.
			guessed = false
			fresh, err := s.get(ctx, s.recordKey(key))
			if err != nil {
				return fmt.Errorf("redisstore: update: %w", err)
			}
			if writeID(fresh) != writeID(raw) {
				raw = fresh
				attempt--
				continue
			}
		}
		if fnErr != nil {
			return fnErr
		}
		res, err := w.run(ctx)
		if err != nil {
			return fmt.Errorf("redisstore: update: %w", err)
		}
		if res.ok {
			return nil
		}
		raw = res.current
		if guessed {
			// The record changed since Load read it: not contention.
			guessed = false
			attempt--
			continue
		}
		if attempt >= s.maxAttempt {
			return fmt.Errorf("redisstore: update: %w (%d attempts)", ErrConflict, attempt)
		}
		if err := optimistic.Backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// write is one conditional record write or delete, with the index work of
// the store's mode, run by putScript.
type write struct {
	store    *Store
	key      string
	token    uint64
	check    byte   // 't' write ID, 'o' owner, '-' none
	expected string // the write ID or owner the check expects
	oldOwner string // single-slot 't' writes: owner of the expected record
	value    []byte // nil deletes
	expires  int64  // Unix ms
	owner    string // owner of value

	claimedAt      int64  // split mode: time of the owner's claim, 0 if none
	claimedOwner   string // whose index the claim is in
	claimedExpires int64  // the index expires no earlier than this (Unix ms)
}

// needsClaim reports whether w must claim an entry in its owner's index
// before it writes: in split mode, when it writes a record with an owner.
func (w *write) needsClaim() bool {
	return !w.store.singleSlot && w.value != nil && w.owner != ""
}

// setRecord makes w write rec.
func (w *write) setRecord(rec session.Record) error {
	v, err := encodeValue(rec, w.token)
	if err != nil {
		return err
	}
	w.value, w.expires, w.owner = v, rec.Expires.UnixMilli(), rec.UserID
	return nil
}

// putResult is putScript's reply: ok, or the current value (or, for an
// owner check, its header and owner) that made the write conflict.
type putResult struct {
	ok      bool
	current []byte
}

// run writes w, claiming the owner's index first in split mode.
func (w *write) run(ctx context.Context) (putResult, error) {
	s := w.store
	for tries := 0; ; tries++ {
		if err := ctx.Err(); err != nil {
			return putResult{}, err
		}
		if w.needsClaim() {
			if err := w.claim(ctx); err != nil {
				return putResult{}, err
			}
		}
		keys, args := w.scriptArgs()
		reply, err := call(s, ctx, func(ctx context.Context) (any, error) {
			return putScript.Run(ctx, s.client, keys, args...).Result()
		})
		if err != nil {
			return putResult{}, err
		}
		switch r := reply.(type) {
		case int64:
			switch r {
			case 1:
				return putResult{ok: true}, nil
			case 0:
				return putResult{}, nil
			case 2:
				// The claim aged past the window before the write landed.
				if tries == 0 {
					w.claimedAt = 0
					continue
				}
				return putResult{}, fmt.Errorf("the Redis server's clock is more than %v ahead of this host's", claimWindow)
			}
		case string:
			return putResult{current: []byte(r)}, nil
		}
		return putResult{}, fmt.Errorf("unexpected reply %v from the write script", reply)
	}
}

// claim adds w's key to its owner's index unless a recent claim covers the
// write (split mode; see doc.go).
func (w *write) claim(ctx context.Context) error {
	s := w.store
	now := s.now().UnixMilli()
	if w.claimedAt != 0 && w.claimedOwner == w.owner && w.expires <= w.claimedExpires &&
		now-w.claimedAt < claimWindow.Milliseconds()/2 {
		return nil // an earlier attempt's claim covers this one
	}
	ik, member := s.indexKey(w.owner), w.key
	entry := encodeEntry(w.token, now)
	_, err := call(s, ctx, func(ctx context.Context) (any, error) {
		return claimScript.Run(ctx, s.client, []string{ik}, member, entry, w.expires).Result()
	})
	if err != nil {
		return fmt.Errorf("index claim: %w", err)
	}
	w.claimedAt, w.claimedOwner, w.claimedExpires = now, w.owner, w.expires
	return nil
}

// scriptArgs returns putScript's keys and arguments for w.
func (w *write) scriptArgs() ([]string, []any) {
	s := w.store
	keys := []string{s.recordKey(w.key)}
	indexed := "0"
	var entry []byte
	if s.singleSlot {
		indexed = "1"
		old := w.expected
		if w.check == 't' {
			old = w.oldOwner
		}
		if old != "" {
			keys = append(keys, s.indexKey(old))
		}
		if w.value != nil && w.owner != "" {
			if w.owner != old {
				keys = append(keys, s.indexKey(w.owner))
			}
			entry = encodeEntry(w.token, s.now().UnixMilli())
		}
	}
	claimedAt := ""
	if w.needsClaim() {
		claimedAt = fmt.Sprint(w.claimedAt)
	}
	value := w.value
	if value == nil {
		value = []byte{}
	}
	args := []any{
		string(w.check), w.expected, value, w.expires, w.key, w.owner,
		entry, claimedAt, claimWindow.Milliseconds(), indexed,
	}
	return keys, args
}
