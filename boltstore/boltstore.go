package boltstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/closer"
)

// ErrLocked is returned by Open, Check and Salvage when another process
// holds the database file.
var ErrLocked = errors.New("boltstore: database is locked by another process")

// DefaultFileName is the database file Open uses for an empty path (see
// DefaultPath).
const DefaultFileName = "sessions.db"

// Options configures a Store. A nil *Options means the defaults below.
type Options struct {
	// Bucket names the bucket that holds the records; the expiry index is
	// the bucket Bucket+".expiry" and the per-user index Bucket+".users".
	// Default "sessions". Engines sharing one database use different names.
	Bucket string
	// NoSync skips the fsync of each commit (see the package documentation
	// for what a crash can then lose). Default false: durable.
	NoSync bool
	// Timeout is how long Open, Check and Salvage wait for another process
	// to release the file before they fail with ErrLocked. Default one
	// second.
	Timeout time.Duration
	// InitialMmapSize is the initial size of bbolt's memory map: a database
	// that stays below it never makes writers wait for readers to remap.
	// Default 64 MiB (address space, not memory).
	InitialMmapSize int
	// SweepBatch is the most keys DeleteExpired deletes in one transaction.
	// Default 1000.
	SweepBatch int
	// AllowSharedLocation accepts a database file (or a directory above
	// it) that another local user owns or can write to, which Open otherwise
	// refuses with an error wrapping session.ErrUnsafeLocation: such a user
	// could have planted sessions in the file, or could read or change it.
	// Set it only for a location shared on purpose, by users who all trust
	// one another; Open then logs a warning instead. Default false.
	AllowSharedLocation bool
	// Logger receives warnings about corrupt records. Default slog.Default().
	Logger *slog.Logger
	// Now returns the current time. Default time.Now; tests set a fake clock.
	Now func() time.Time
}

func (o *Options) withDefaults() Options {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Bucket == "" {
		r.Bucket = "sessions"
	}
	if r.Timeout <= 0 {
		r.Timeout = time.Second
	}
	if r.InitialMmapSize <= 0 {
		r.InitialMmapSize = 64 << 20
	}
	if r.SweepBatch <= 0 {
		r.SweepBatch = 1000
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	return r
}

// Store is a session.Store in a bbolt database. Create it with Open or New.
type Store struct {
	db      *bbolt.DB
	ownsDB  bool
	records []byte // bucket names
	index   []byte
	users   []byte
	opts    Options

	closed    closer.Flag
	closeOnce sync.Once
	closeErr  error
	broken    atomic.Pointer[damageError] // see view

	group *committer
}

var (
	_ session.Store         = (*Store)(nil)
	_ session.Sweeper       = (*Store)(nil)
	_ session.Updater       = (*Store)(nil)
	_ session.LoadAppender  = (*Store)(nil)
	_ session.Ranger        = (*Store)(nil)
	_ session.ExpiredRanger = (*Store)(nil)
	_ session.UserIndexer   = (*Store)(nil)
	_ session.Counter       = (*Store)(nil)
)

// Open opens the database file at path, creating it (0600, and its directory
// 0700) if needed; an empty path means DefaultPath(). The Store owns the
// database: Close closes it.
//
// Open refuses, with an error wrapping session.ErrUnsafeLocation, a file
// that another local user owns or that group or others can write, and a
// file in a directory another user controls (one they own, or can write
// that lacks the sticky bit /tmp has): such a user could have planted
// sessions in it or could read them. Options.AllowSharedLocation accepts
// such a location on purpose.
func Open(path string, opts *Options) (*Store, error) {
	o := opts.withDefaults()
	path, err := prepareLocation(path, o)
	if err != nil {
		return nil, err
	}
	db, err := openBolt(path, &bbolt.Options{
		Timeout:         o.Timeout,
		NoSync:          o.NoSync,
		NoFreelistSync:  true,
		FreelistType:    bbolt.FreelistMapType,
		InitialMmapSize: o.InitialMmapSize,
		OpenFile:        verifiedOpener(o),
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("boltstore: open %s: %w (waited %v)", path, ErrLocked, o.Timeout)
	}
	if errors.Is(err, session.ErrUnsafeLocation) {
		return nil, locationError(path, err) // the file opened is not the one checked
	}
	if err != nil {
		return nil, openError(path, err)
	}
	s, err := newStore(db, o)
	if err != nil {
		db.Close()
		return nil, err
	}
	s.ownsDB = true
	return s, nil
}

// New returns a Store in buckets of an already open database, creating them
// if needed. Close does not close db; the caller does, after closing the
// Store. The db's NoSync setting is left as the caller set it.
func New(db *bbolt.DB, opts *Options) (*Store, error) {
	if db == nil {
		return nil, errors.New("boltstore: New: nil database")
	}
	return newStore(db, opts.withDefaults())
}

func newStore(db *bbolt.DB, o Options) (*Store, error) {
	s := &Store{
		db:      db,
		records: []byte(o.Bucket),
		index:   []byte(o.Bucket + ".expiry"),
		users:   []byte(o.Bucket + ".users"),
		opts:    o,
	}
	s.group = newCommitter(db, func(err error) {
		// A panic inside bbolt's commit may leave its memory-map lock
		// held, and every later read would wait for it forever.
		d := &damageError{err.Error() + " (the store stops using the file)"}
		if s.broken.CompareAndSwap(nil, d) {
			s.opts.Logger.Error("boltstore: damaged database file", "path", s.db.Path(), "op", "commit", "err", err)
		}
	}, nil)
	err := db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{s.records, s.index, s.users} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("boltstore: create buckets %q: %w", o.Bucket, err)
	}
	return s, nil
}

// DB returns the underlying database.
func (s *Store) DB() *bbolt.DB { return s.db }

// Close makes later calls return session.ErrClosed. If the Store opened the
// database, Close closes it once the transactions in progress have ended; a
// Store made by New leaves the database open and does not wait for its
// writes in progress. Close is idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Close()
		switch d := s.broken.Load(); {
		case d != nil && s.ownsDB:
			// bbolt may hold its locks for good: closing it could hang.
			s.closeErr = fmt.Errorf("boltstore: close: %w; the file stays open and locked until the process exits", d)
		case s.ownsDB:
			s.closeErr = s.db.Close()
		}
	})
	return s.closeErr
}

// wrap turns bbolt's "database not open" into session.ErrClosed.
func wrap(op string, err error) error {
	if errors.Is(err, bolterrors.ErrDatabaseNotOpen) {
		return fmt.Errorf("boltstore: %s: %w", op, session.ErrClosed)
	}
	return fmt.Errorf("boltstore: %s: %w", op, err)
}

// A stored value is the expiry (Unix nanoseconds, 8 bytes big endian), the
// owner's user ID (uvarint length, then its bytes), then the data.
const headerLen = 8

// maxUserIDLen bounds the owner's user ID.
const maxUserIDLen = session.MaxUserIDLen

func encodeValue(rec session.Record) ([]byte, error) {
	if err := session.CheckUserID(rec.UserID); err != nil {
		return nil, fmt.Errorf("boltstore: %w", err)
	}
	v := make([]byte, headerLen, headerLen+binary.MaxVarintLen16+len(rec.UserID)+len(rec.Data))
	binary.BigEndian.PutUint64(v, expiryNanos(rec.Expires))
	v = binary.AppendUvarint(v, uint64(len(rec.UserID)))
	v = append(v, rec.UserID...)
	return append(v, rec.Data...), nil
}

// value is a parsed stored value; its slices point into the value.
type value struct {
	expires uint64
	userID  []byte
	data    []byte
}

// parseValue splits a stored value; ok is false when it is malformed.
func parseValue(v []byte) (value, bool) {
	if len(v) < headerLen {
		return value{}, false
	}
	n, w := binary.Uvarint(v[headerLen:])
	rest := v[headerLen:]
	if w <= 0 || n > maxUserIDLen || uint64(len(rest)-w) < n {
		return value{}, false
	}
	rest = rest[w:]
	return value{expires: binary.BigEndian.Uint64(v), userID: rest[:n], data: rest[n:]}, true
}

// maxExpiry is the last instant UnixNano can represent (in 2262).
var maxExpiry = time.Unix(0, math.MaxInt64)

// expiryNanos is t's position in the expiry index: Unix nanoseconds, clamped
// to what an int64 holds.
func expiryNanos(t time.Time) uint64 {
	switch {
	case t.Before(time.Unix(0, 0)):
		return 0
	case t.After(maxExpiry):
		return math.MaxInt64
	}
	return uint64(t.UnixNano())
}

// indexGranularity is the width of the expiry index's time slots. Index
// entries hold the slot (the expiry truncated to it), not the exact expiry,
// so a session saved again within the same slot keeps its index entry and
// the save writes one B+tree page fewer; that is what most saves of an
// active session are. The sweep checks each record's exact expiry.
const indexGranularity = time.Minute

// slot is the index position of an exact expiry in Unix nanoseconds.
func slot(expires uint64) uint64 {
	return expires - expires%uint64(indexGranularity)
}

// indexKey is the slot (8 bytes, big endian) + store key.
func indexKey(expires uint64, key []byte) []byte {
	k := make([]byte, 8+len(key))
	binary.BigEndian.PutUint64(k, slot(expires))
	copy(k[8:], key)
	return k
}

// userKey is the users index key of (uid, key): the user ID with its
// uvarint length in front, so that no user's prefix is another's, then the
// store key.
func userKey(uid, key []byte) []byte {
	k := binary.AppendUvarint(make([]byte, 0, 2+len(uid)+len(key)), uint64(len(uid)))
	k = append(k, uid...)
	return append(k, key...)
}

// getRecord reads key's record in tx. ok is false when it is absent or
// corrupt; a corrupt one is logged. The record's Data points into the
// transaction.
func (s *Store) getRecord(tx *bbolt.Tx, key []byte) (rec session.Record, ok bool) {
	raw := tx.Bucket(s.records).Get(key)
	if raw == nil {
		return rec, false
	}
	v, ok := parseValue(raw)
	if !ok {
		s.opts.Logger.Warn("boltstore: corrupt record treated as missing", "key", string(key), "bytes", len(raw))
		return rec, false
	}
	return session.Record{Data: v.data, Expires: time.Unix(0, int64(v.expires)), UserID: string(v.userID)}, true
}

// put writes the encoded value raw under key and keeps the expiry and user
// indexes in step. Idempotent, as group functions must be.
func (s *Store) put(tx *bbolt.Tx, key, raw []byte) error {
	records, index, users := tx.Bucket(s.records), tx.Bucket(s.index), tx.Bucket(s.users)
	next, _ := parseValue(raw)
	old, had := parseValue(records.Get(key))
	sameSlot := had && slot(old.expires) == slot(next.expires)
	sameUser := had && bytes.Equal(old.userID, next.userID)
	// Index keys are computed before any write: old's slices point into
	// pages that a write may reuse.
	var staleIndex, staleUser []byte
	if had && !sameSlot {
		staleIndex = indexKey(old.expires, key)
	}
	if had && !sameUser && len(old.userID) > 0 {
		staleUser = userKey(old.userID, key)
	}
	if staleIndex != nil {
		if err := index.Delete(staleIndex); err != nil {
			return err
		}
	}
	if staleUser != nil {
		if err := users.Delete(staleUser); err != nil {
			return err
		}
	}
	if err := records.Put(key, raw); err != nil {
		return err
	}
	if !sameSlot {
		if err := index.Put(indexKey(next.expires, key), nil); err != nil {
			return err
		}
	}
	if !sameUser && len(next.userID) > 0 {
		return users.Put(userKey(next.userID, key), nil)
	}
	return nil
}

// del removes key's record and its index entries, if present. It reports
// whether a record was there. Idempotent.
func (s *Store) del(tx *bbolt.Tx, key []byte) (bool, error) {
	b := tx.Bucket(s.records)
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if v, ok := parseValue(raw); ok {
		ik := indexKey(v.expires, key)
		var uk []byte
		if len(v.userID) > 0 {
			uk = userKey(v.userID, key)
		}
		if err := tx.Bucket(s.index).Delete(ik); err != nil {
			return false, err
		}
		if uk != nil {
			if err := tx.Bucket(s.users).Delete(uk); err != nil {
				return false, err
			}
		}
	}
	return true, b.Delete(key)
}

// Load implements session.Store.
func (s *Store) Load(ctx context.Context, key string) (session.Record, error) {
	return s.load(ctx, key, nil, true)
}

// LoadAppend implements session.LoadAppender.
func (s *Store) LoadAppend(ctx context.Context, key string, dst []byte) (session.Record, error) {
	return s.load(ctx, key, dst, false)
}

// load copies the record under key out of the transaction, its data
// appended to dst, or to a slice of its own size when fresh is set.
func (s *Store) load(ctx context.Context, key string, dst []byte, fresh bool) (session.Record, error) {
	if err := s.closed.Check(ctx); err != nil {
		return session.Record{}, err
	}
	var out session.Record
	found := false
	now := s.opts.Now()
	err := s.view("load", func(tx *bbolt.Tx) error {
		rec, ok := s.getRecord(tx, []byte(key))
		if !ok || rec.Expired(now) {
			return nil
		}
		// bbolt's slices die with the transaction: copy out.
		out = session.Record{Data: append(dst, rec.Data...), Expires: rec.Expires, UserID: rec.UserID}
		if fresh {
			out.Data = bytes.Clone(rec.Data)
		}
		found = true
		return nil
	})
	if err != nil {
		return session.Record{}, wrap("load", err)
	}
	if !found {
		return session.Record{}, session.ErrNotFound
	}
	return out, nil
}

// Save implements session.Store.
func (s *Store) Save(ctx context.Context, key string, rec session.Record) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	// Encode before joining the group: the caller may reuse rec.Data once we
	// return, and a group function may run again after that.
	k := []byte(key)
	v, err := encodeValue(rec)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(tx *bbolt.Tx) error {
		return s.contain("save", func() error { return s.put(tx, k, v) })
	})
	if err != nil {
		return wrap("save", err)
	}
	return nil
}

// Delete implements session.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	k := []byte(key)
	err := s.write(ctx, func(tx *bbolt.Tx) error {
		return s.contain("delete", func() error {
			_, err := s.del(tx, k)
			return err
		})
	})
	if err != nil {
		return wrap("delete", err)
	}
	return nil
}

// UpdateRecord implements session.Updater: fn runs inside the write transaction,
// so no other write to the store interleaves. fn may run more than once.
func (s *Store) UpdateRecord(ctx context.Context, key string, fn session.UpdateFunc) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	k := []byte(key)
	now := s.opts.Now()
	err := s.write(ctx, func(tx *bbolt.Tx) error {
		var cur session.Record
		var found bool
		err := s.contain("update", func() error {
			cur, found = s.getRecord(tx, k)
			// fn, the caller's, runs unguarded: it gets a copy rather
			// than a page of the file, which may be damaged.
			cur.Data = bytes.Clone(cur.Data)
			return nil
		})
		if err != nil {
			return err
		}
		if found && cur.Expired(now) {
			cur, found = session.Record{}, false
		}
		next, err := fn(cur, found)
		if err != nil {
			return &fnError{err}
		}
		if next.Expired(now) {
			return s.contain("update", func() error {
				_, err := s.del(tx, k)
				return err
			})
		}
		v, err := encodeValue(next)
		if err != nil {
			return &fnError{err}
		}
		return s.contain("update", func() error { return s.put(tx, k, v) })
	})
	var fe *fnError
	if errors.As(err, &fe) {
		return fe.err
	}
	if err != nil {
		return wrap("update", err)
	}
	return nil
}

// fnError carries an UpdateFunc's own error through the transaction, so it
// is returned to the caller unwrapped.
type fnError struct{ err error }

func (e *fnError) Error() string { return e.err.Error() }
func (e *fnError) Unwrap() error { return e.err }

// DeleteExpired implements session.Sweeper. It walks the expiry index from
// its start to the current time slot, so its cost grows with the number of
// expired sessions (plus those expiring within the current minute), not with
// the size of the store, and it deletes at most SweepBatch keys per
// transaction.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	total := 0
	var resume []byte // index key to continue from
	for {
		if err := s.closed.Check(ctx); err != nil {
			return total, err
		}
		now := uint64(s.opts.Now().UnixNano())
		n := 0
		var next []byte
		sweep := func(tx *bbolt.Tx) error {
			n, next = 0, nil
			records, index := tx.Bucket(s.records), tx.Bucket(s.index)
			// Collect first: deleting under a live cursor skips keys.
			var drop [][]byte // index entries to delete
			var dead [][]byte // records to delete
			c := index.Cursor()
			k, _ := c.First()
			if resume != nil {
				k, _ = c.Seek(resume)
			}
			for ; k != nil; k, _ = c.Next() {
				if len(k) < 8 || binary.BigEndian.Uint64(k) > now {
					break
				}
				if len(drop)+len(dead) == s.opts.SweepBatch {
					next = bytes.Clone(k)
					break
				}
				key := k[8:]
				v, ok := parseValue(records.Get(key))
				switch {
				case !ok || slot(v.expires) != binary.BigEndian.Uint64(k):
					// Stale: the record is gone or was moved to another slot.
					drop = append(drop, bytes.Clone(k))
				case v.expires <= now:
					dead = append(dead, bytes.Clone(key))
				}
				// Otherwise it expires later in the current slot: keep it.
			}
			for _, ik := range drop {
				if err := index.Delete(ik); err != nil {
					return err
				}
			}
			for _, key := range dead {
				if _, err := s.del(tx, key); err != nil {
					return err
				}
			}
			n = len(dead)
			return nil
		}
		err := s.write(ctx, func(tx *bbolt.Tx) error {
			return s.contain("delete expired", func() error { return sweep(tx) })
		})
		if err != nil {
			return total, wrap("delete expired", err)
		}
		total += n
		if next == nil {
			return total, nil
		}
		resume = next
	}
}

// rangeChunk is how many records Range copies per read transaction.
const rangeChunk = 256

// Range implements session.Ranger. It reads the store in chunks, each in a
// short read transaction, and calls fn outside any transaction, so fn may
// use the store.
func (s *Store) Range(ctx context.Context, fn func(key string, rec session.Record) bool) error {
	return s.walk(ctx, "range", s.records, fn, func(tx *bbolt.Tx, k []byte, now time.Time) ([]byte, session.Record, bool, bool) {
		rec, ok := s.getRecord(tx, k)
		return k, rec, ok && !rec.Expired(now), false
	})
}

// walk calls fn for the records that pick selects while walking bucket in
// key order, in chunks of short read transactions, with fn outside any
// transaction. pick gets each key of bucket and returns the store key and
// record to yield, whether to yield them, and whether the walk is over.
func (s *Store) walk(ctx context.Context, op string, bucket []byte, fn func(key string, rec session.Record) bool,
	pick func(tx *bbolt.Tx, k []byte, now time.Time) (key []byte, rec session.Record, yield, stop bool)) error {
	type entry struct {
		key string
		rec session.Record
	}
	var after []byte
	batch := make([]entry, 0, rangeChunk)
	for {
		if err := s.closed.Check(ctx); err != nil {
			return err
		}
		batch = batch[:0]
		now := s.opts.Now()
		done := false
		err := s.view(op, func(tx *bbolt.Tx) error {
			c := tx.Bucket(bucket).Cursor()
			var k, last []byte
			if after == nil {
				k, _ = c.First()
			} else if k, _ = c.Seek(after); k != nil && bytes.Equal(k, after) {
				k, _ = c.Next()
			}
			for ; k != nil && len(batch) < rangeChunk; k, _ = c.Next() {
				key, rec, yield, stop := pick(tx, k, now)
				if stop {
					k = nil
					break
				}
				if yield {
					// bbolt's slices die with the transaction: copy out.
					rec.Data = bytes.Clone(rec.Data)
					batch = append(batch, entry{string(key), rec})
				}
				last = k
			}
			if last != nil {
				after = bytes.Clone(last)
			}
			done = k == nil
			return nil
		})
		if err != nil {
			return wrap(op, err)
		}
		for _, e := range batch {
			if !fn(e.key, e.rec) {
				return nil
			}
		}
		if done {
			return nil
		}
	}
}

// Stats describes what a Store holds.
type Stats struct {
	Records int // records, expired ones included until swept
	Indexed int // expiry index entries
}

// Stats counts the records and index entries.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	if err := s.closed.Check(ctx); err != nil {
		return Stats{}, err
	}
	var st Stats
	err := s.view("stats", func(tx *bbolt.Tx) error {
		st.Records = tx.Bucket(s.records).Stats().KeyN
		st.Indexed = tx.Bucket(s.index).Stats().KeyN
		return nil
	})
	if err != nil {
		return Stats{}, wrap("stats", err)
	}
	return st, nil
}

// Count implements session.Counter: the records, expired ones included
// until swept, as Stats counts them.
func (s *Store) Count(ctx context.Context) (int, error) {
	st, err := s.Stats(ctx)
	return st.Records, err
}

// userPrefix is the users index prefix of uid.
func userPrefix(uid string) []byte { return userKey([]byte(uid), nil) }

// UserKeys implements session.UserIndexer: one range scan of the users
// index, O(the user's sessions).
func (s *Store) UserKeys(ctx context.Context, uid string) ([]string, error) {
	if err := s.closed.Check(ctx); err != nil {
		return nil, err
	}
	var keys []string
	now := s.opts.Now()
	prefix := userPrefix(uid)
	err := s.view("user keys", func(tx *bbolt.Tx) error {
		c := tx.Bucket(s.users).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			key := k[len(prefix):]
			if rec, ok := s.getRecord(tx, key); ok && rec.UserID == uid && !rec.Expired(now) {
				keys = append(keys, string(key))
			}
		}
		return nil
	})
	if err != nil {
		return nil, wrap("user keys", err)
	}
	return keys, nil
}

// DeleteUser implements session.UserIndexer: the user's records and all
// their index entries go in one transaction, O(the user's sessions).
func (s *Store) DeleteUser(ctx context.Context, uid string) (int, error) {
	if err := s.closed.Check(ctx); err != nil {
		return 0, err
	}
	n := 0
	prefix := userPrefix(uid)
	remove := func(tx *bbolt.Tx) error {
		n = 0
		now := s.opts.Now()
		var keys [][]byte
		c := tx.Bucket(s.users).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			keys = append(keys, bytes.Clone(k[len(prefix):]))
		}
		for _, key := range keys {
			rec, ok := s.getRecord(tx, key)
			live := ok && !rec.Expired(now)
			if ok && rec.UserID != uid {
				continue // not this user's (cannot happen: the index moves with the record)
			}
			if _, err := s.del(tx, key); err != nil {
				return err
			}
			if live {
				n++
			}
		}
		return nil
	}
	err := s.write(ctx, func(tx *bbolt.Tx) error {
		return s.contain("delete user", func() error { return remove(tx) })
	})
	if err != nil {
		return 0, wrap("delete user", err)
	}
	return n, nil
}

// RangeExpired implements session.ExpiredRanger. It walks the expiry index
// up to the current time slot, so it costs O(expired records), in chunks of
// short read transactions; fn runs outside any transaction.
func (s *Store) RangeExpired(ctx context.Context, fn func(key string, rec session.Record) bool) error {
	return s.walk(ctx, "range expired", s.index, fn, func(tx *bbolt.Tx, k []byte, now time.Time) ([]byte, session.Record, bool, bool) {
		if len(k) < 8 || binary.BigEndian.Uint64(k) > uint64(now.UnixNano()) {
			return nil, session.Record{}, false, true
		}
		key := k[8:]
		rec, ok := s.getRecord(tx, key)
		// Only the record's own entry: a rewritten record is listed under
		// its current slot, if at all.
		own := ok && slot(expiryNanos(rec.Expires)) == binary.BigEndian.Uint64(k)
		return key, rec, own && rec.Expired(now), false
	})
}
