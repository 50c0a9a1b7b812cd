package cachestore

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/closer"
)

// Defaults of Options.
const (
	// DefaultTTL is how long a cached record is served without looking at
	// the backing store again, when Options.TTL is zero.
	DefaultTTL = 2 * time.Second
	// DefaultMaxBytes bounds the cache when neither Options.MaxEntries nor
	// Options.MaxBytes is set.
	DefaultMaxBytes = 64 << 20
)

// entryOverhead approximates what one cached record costs beyond its key,
// data and user ID: the entry, the cache's node, its hash table slot and
// its share of the frequency sketch.
const entryOverhead = 200

// Options configures a Store. A nil *Options, like the zero value, selects
// every default.
type Options struct {
	// MaxEntries bounds the cache by the number of records it holds. It
	// cannot be combined with MaxBytes. Default 0: bounded by MaxBytes.
	MaxEntries int
	// MaxBytes bounds the cache by the approximate memory its records use
	// (data, key and user ID, plus about 200 bytes of bookkeeping each). A
	// record larger than MaxBytes is not cached. Default DefaultMaxBytes
	// (64 MiB) when MaxEntries is 0.
	MaxBytes int64
	// TTL is how long after it was read from or written to the backing
	// store a cached record is served; after that the next Load reads the
	// backing store again. It bounds how stale the view of a record changed
	// by another process can be (see the package documentation). Default
	// DefaultTTL (2 s); negative means no bound, for a backing store that
	// only this Store writes.
	TTL time.Duration
	// Logger receives warnings about what the cache had to work around.
	// Default slog.Default().
	Logger *slog.Logger
	// Now returns the current time, against which record expiry and TTL
	// are judged. It should agree with the backing store's clock. Default
	// time.Now; tests set a fake clock.
	Now func() time.Time
}

// Store is a session.Store that caches the records of a backing store in
// memory. It is safe for concurrent use. The zero value is not usable; call
// New.
type Store struct {
	backing session.Store
	updater session.Updater       // backing as an Updater, or nil
	sweeper session.Sweeper       // backing as a Sweeper, or nil
	ranger  session.Ranger        // backing as a Ranger, or nil
	expired session.ExpiredRanger // backing as an ExpiredRanger, or nil
	users   session.UserIndexer   // backing as a UserIndexer, or nil
	counter session.Counter       // backing as a Counter, or nil

	cache    *otter.Cache[string, *entry]
	maxBytes uint64 // the weight bound, 0 when bounded by entries
	stripes  *stripes
	ttl      time.Duration // negative: no bound
	now      func() time.Time
	log      *slog.Logger
	closed   closer.Flag

	warnedTooLarge atomic.Bool // the record-too-large warning is logged once
}

// The methods of every capability, each forwarding to the backing store or
// failing with session.ErrNotSupported; session.As tells which ones hold.
var (
	_ session.Store         = (*Store)(nil)
	_ session.Wrapper       = (*Store)(nil)
	_ session.Sweeper       = (*Store)(nil)
	_ session.Updater       = (*Store)(nil)
	_ session.Ranger        = (*Store)(nil)
	_ session.ExpiredRanger = (*Store)(nil)
	_ session.UserIndexer   = (*Store)(nil)
	_ session.Counter       = (*Store)(nil)
	_ io.Closer             = (*Store)(nil)
)

// New returns a Store that caches the records of backing. A nil opts means
// the defaults. New fails if backing is nil or the options are invalid:
// MaxEntries and MaxBytes both set, or either negative.
//
// The Store does not take ownership of backing: closing the Store does not
// close it.
func New(backing session.Store, opts *Options) (*Store, error) {
	if backing == nil {
		return nil, errors.New("cachestore: New: nil backing store")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	switch {
	case o.MaxEntries < 0 || o.MaxBytes < 0:
		return nil, fmt.Errorf("cachestore: New: negative bound (MaxEntries %d, MaxBytes %d)", o.MaxEntries, o.MaxBytes)
	case o.MaxEntries > 0 && o.MaxBytes > 0:
		return nil, errors.New("cachestore: New: set MaxEntries or MaxBytes, not both")
	case o.MaxEntries == 0 && o.MaxBytes == 0:
		o.MaxBytes = DefaultMaxBytes
	}
	if o.TTL == 0 {
		o.TTL = DefaultTTL
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Store{
		backing: backing,
		stripes: newStripes(),
		ttl:     o.TTL,
		now:     o.Now,
		log:     o.Logger,
	}
	if s.now == nil {
		s.now = time.Now
	}
	s.updater, _ = session.As[session.Updater](backing)
	s.sweeper, _ = session.As[session.Sweeper](backing)
	s.ranger, _ = session.As[session.Ranger](backing)
	s.expired, _ = session.As[session.ExpiredRanger](backing)
	s.users, _ = session.As[session.UserIndexer](backing)
	s.counter, _ = session.As[session.Counter](backing)

	co := &otter.Options[string, *entry]{
		ExpiryCalculator: expiryCalculator{s},
		Logger:           otterLogger{o.Logger},
	}
	if o.MaxEntries > 0 {
		co.MaximumSize = o.MaxEntries
	} else {
		s.maxBytes = uint64(o.MaxBytes)
		co.MaximumWeight = s.maxBytes
		co.Weigher = weigh
	}
	if o.Now != nil {
		co.Clock = clock{o.Now}
	}
	cache, err := otter.New(co)
	if err != nil {
		return nil, fmt.Errorf("cachestore: New: %w", err)
	}
	s.cache = cache
	return s, nil
}

// Load implements session.Store. It returns the cached record when there is
// a fresh one (see Options.TTL); otherwise it loads the record from the
// backing store and caches it. Errors are the backing store's.
func (s *Store) Load(ctx context.Context, key string) (session.Record, error) {
	if err := s.closed.Check(ctx); err != nil {
		return session.Record{}, err
	}
	now := s.now()
	if e, ok := s.cache.GetIfPresent(key); ok && e.usable(now, s.ttl) {
		return e.record(), nil
	}
	// Take the stripe's write count before reading: if a write through this
	// Store lands while the backing store is read, what was read may be
	// older than what that write left in the cache, and must not replace it.
	st := s.stripes.of(key)
	seen := st.writes.Load()
	rec, err := s.backing.Load(ctx, key)
	if err != nil {
		return session.Record{}, err
	}
	if rec.Expired(s.now()) {
		s.log.WarnContext(ctx, "cachestore: the backing store returned an expired record; treated as missing (do the clocks agree?)",
			"key", key, "expires", rec.Expires)
		return session.Record{}, fmt.Errorf("cachestore: load: %w", session.ErrNotFound)
	}
	s.fill(key, st, seen, rec, now)
	return rec, nil
}

// fill caches rec, read from the backing store by a Load that started at
// synced, unless a write through this Store to the same stripe happened
// since the Load read the stripe's write count seen, or is under way. The
// caller keeps rec.Data: the cache keeps a copy.
func (s *Store) fill(key string, st *stripe, seen uint64, rec session.Record, synced time.Time) {
	if !st.tryLock() {
		return // a write is under way; it will set the entry itself
	}
	defer st.release()
	if st.writes.Load() != seen {
		return
	}
	if old, ok := s.cache.GetEntryQuietly(key); ok && old.Value.synced > synced.UnixNano() {
		return // a concurrent Load read the backing store later
	}
	s.set(key, newEntry(rec, synced, true))
}

// Save implements session.Store: the record is written to the backing store,
// then to the cache. If the backing store fails, the cache entry is dropped
// and the error returned.
func (s *Store) Save(ctx context.Context, key string, rec session.Record) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	st, err := s.stripes.lock(ctx, key)
	if err != nil {
		return err
	}
	defer s.stripes.unlock(st)
	synced := s.now()
	if err := s.backing.Save(ctx, key, rec); err != nil {
		s.cache.Invalidate(key)
		return err
	}
	s.store(key, rec, synced, true)
	return nil
}

// Delete implements session.Store: the record is deleted from the backing
// store and dropped from the cache, even if the backing store fails.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	st, err := s.stripes.lock(ctx, key)
	if err != nil {
		return err
	}
	defer s.stripes.unlock(st)
	s.cache.Invalidate(key)
	return s.backing.Delete(ctx, key)
}

// store caches rec, just written to the backing store by a write that
// started at synced, or drops the entry if rec is already expired. The
// key's stripe lock must be held. If copyData is false the cache takes
// rec.Data as it is.
func (s *Store) store(key string, rec session.Record, synced time.Time, copyData bool) {
	if rec.Expired(s.now()) {
		s.cache.Invalidate(key)
		return
	}
	s.set(key, newEntry(rec, synced, copyData))
}

// set puts e in the cache, unless it is too large to be cached, in which
// case any previous entry is dropped.
func (s *Store) set(key string, e *entry) {
	if s.maxBytes > 0 && uint64(e.weight(key)) > s.maxBytes {
		s.cache.Invalidate(key)
		if !s.warnedTooLarge.Swap(true) {
			s.log.Warn("cachestore: a record is larger than MaxBytes and is not cached; this is logged once",
				"key", key, "bytes", len(e.data), "maxBytes", s.maxBytes)
		}
		return
	}
	s.cache.Set(key, e)
}

// Close empties the cache and stops its background clean-up; later calls
// return session.ErrClosed. It does not close the backing store, which the
// caller owns. Close is idempotent.
func (s *Store) Close() error {
	if s.closed.Close() {
		return nil
	}
	s.cache.InvalidateAll()
	s.cache.StopAllGoroutines()
	return nil
}

// stripeCount is the number of write locks. Writes of different keys that
// fall in one stripe wait for each other, so it is large enough that a
// group commit of dozens of concurrent writers rarely loses a member to a
// collision.
const stripeCount = 1024

// stripes are the write locks of a Store.
type stripes struct {
	seed maphash.Seed
	s    [stripeCount]stripe
}

// stripe serializes the writes of the keys that hash to it. A goroutine
// holds it from sending a value into sem until it receives that value
// back: a 1-buffered channel rather than a sync.Mutex, so that a wait for
// it can end with the context. writes counts the writes done under it; a
// Load that misses compares it before and after reading the backing store.
type stripe struct {
	sem    chan struct{}
	writes atomic.Uint64
	_      [48]byte // one cache line each, so unrelated stripes do not share one
}

func newStripes() *stripes {
	ss := &stripes{seed: maphash.MakeSeed()}
	for i := range ss.s {
		ss.s[i].sem = make(chan struct{}, 1)
	}
	return ss
}

// of returns the stripe of key.
func (ss *stripes) of(key string) *stripe {
	return &ss.s[maphash.String(ss.seed, key)%stripeCount]
}

// lock locks the stripe of key and returns it. It gives up when ctx is
// done first, with an error wrapping ctx.Err().
func (ss *stripes) lock(ctx context.Context, key string) (*stripe, error) {
	st := ss.of(key)
	if err := st.lock(ctx); err != nil {
		return nil, fmt.Errorf("cachestore: waiting for the key's write lock: %w", err)
	}
	return st, nil
}

// unlock counts a write on st and unlocks it. The count goes up after the
// backing store was written, so a Load that read the count afterwards also
// reads the backing store afterwards and sees the write.
func (ss *stripes) unlock(st *stripe) {
	st.writes.Add(1)
	st.release()
}

// lockAll locks every stripe, in order. If ctx is done first, it releases
// those it took and returns an error wrapping ctx.Err().
func (ss *stripes) lockAll(ctx context.Context) error {
	for i := range ss.s {
		if err := ss.s[i].lock(ctx); err != nil {
			for j := range i {
				ss.s[j].release()
			}
			return fmt.Errorf("cachestore: waiting for every write lock (%d of %d taken): %w", i, stripeCount, err)
		}
	}
	return nil
}

// unlockAll counts a write on every stripe and unlocks them all.
func (ss *stripes) unlockAll() {
	for i := range ss.s {
		ss.unlock(&ss.s[i])
	}
}

// lock takes st, or returns ctx.Err() if ctx is done first.
func (st *stripe) lock(ctx context.Context) error {
	select {
	case st.sem <- struct{}{}:
		return nil
	default:
	}
	select {
	case st.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// tryLock takes st if it is free and reports whether it did.
func (st *stripe) tryLock() bool {
	select {
	case st.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

// release unlocks st without counting a write.
func (st *stripe) release() { <-st.sem }
