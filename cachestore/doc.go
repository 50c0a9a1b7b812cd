// Package cachestore puts a bounded in-process cache in front of any
// session.Store, like Django's "cached_db" backend: reads are served from
// memory, while every write still goes to the backing store, which stays the
// authority.
//
// # Basics
//
// New wraps a backing store. The cache is write-through: Save, Delete and
// UpdateRecord change the backing store first, then the cache (a failed write
// drops the cache entry instead). It is read-through: a Load that misses
// reads the backing store and keeps the record. A cached record is never
// returned once its Expires has passed, nor once it is older than
// Options.TTL (see Coherence).
//
// The cache is bounded by Options.MaxEntries or by Options.MaxBytes, and
// uses github.com/maypok86/otter/v2, whose W-TinyLFU policy admits a new
// record only if it is likely to be read more often than the one it would
// evict, so a burst of one-off sessions (crawlers, sessions created and
// never reused) does not flush the hot ones.
//
// Otter was chosen over github.com/dgraph-io/ristretto/v2 because its
// writes are synchronous: once Set or Invalidate returns, every reader sees
// it. Ristretto buffers a Set, applies it later and may drop it: side by
// side, a ristretto Get right after a Set of the same key missed almost
// every time, and a few Gets right after a Del still found the value, which
// would let a Load return a record older than the last Save. Otter also
// kept more hits on a Zipf-distributed trace of 100,000 sessions with room
// for 10,000 (79-80% against 73-78%) and served a hit faster (100-140 ns
// against 165 ns).
//
// A cache failure never fails a request: the cache's bookkeeping returns no
// errors, and what looks wrong (a backing store that returns expired
// records, a record too large to cache) is logged at Warn level through
// Options.Logger. Only the backing store's errors reach the caller.
//
// # Optional capabilities
//
// A Store has exactly the optional capabilities of its backing store. Go's
// method sets are static, so it has the methods of session.Sweeper,
// session.Updater, session.Ranger, session.ExpiredRanger,
// session.UserIndexer and session.Counter whatever it wraps; it also
// implements session.Wrapper, so session.As, which the engine and the
// sessionctl tool use, finds a capability only where the backing store has
// it. Where it does, the method forwards to the backing store; where it
// does not, the method returns an error wrapping session.ErrNotSupported,
// never a weaker stand-in:
//
//   - UpdateRecord runs inside the backing store's atomic UpdateRecord, then the cache
//     takes the record the update wrote, or drops the entry if the update
//     removed the session.
//   - DeleteExpired forwards to the backing store's sweep; the cache itself
//     drops each entry when it expires.
//   - Range, RangeExpired, UserKeys and Count forward without touching the
//     cache.
//   - DeleteUser forwards, then drops the cached records of the user (the
//     keys come from the backing store's index).
//
// # Concurrency
//
// A Store is safe for concurrent use. A Load that hits the cache takes no
// lock of this package. Writes of one key are serialized by a striped lock
// (1024 stripes), held while the backing store is written and the cache
// updated, so the cache always ends up holding what the last write left in
// the backing store. A Load that misses reads the backing store without a
// lock, and keeps what it read only if no write to the same stripe happened
// in the meantime (each stripe has a write counter), so it can never put an
// older record back over a newer one. DeleteUser takes every stripe for the
// duration of the backing store's DeleteUser, which stops writes through
// this Store for that time. A write waiting for its stripe, or DeleteUser
// for all of them, gives up when its context ends, with an error wrapping
// the context's; DeleteUser then releases the stripes it had taken.
//
// # Coherence
//
// In one process the cache is exact: every write goes through the Store and
// updates or drops the cache entry under the key's stripe lock, so a Load
// never returns a record older than the last write that returned before it
// started.
//
// The cache cannot see writes that bypass it: another process sharing a
// filestore directory, or code using the backing store directly. For them
// Options.TTL bounds the staleness: a cached record is served only for TTL
// after it was read from or written to the backing store, so a Load returns
// a record that the backing store held at most TTL ago. The default, two
// seconds, covers the burst of requests a page load makes (the page, its
// XHRs, its redirects) while a logout or "log out everywhere" made through
// another process is seen here within two seconds. Staleness affects reads
// only: the engine commits through UpdateRecord, which goes to the backing store,
// so a session deleted elsewhere is never brought back (the commit fails
// with session.ErrSessionInterrupted) and a merge always applies to the
// current record. A negative TTL serves cached records until they expire or
// are evicted; use it only when every writer of the backing store goes
// through this Store, for example over a boltstore, which one process owns.
//
// # Durability
//
// The cache adds none and takes none away: a write returns only once the
// backing store has acknowledged it, so a crash loses exactly what the
// backing store's own durability settings lose, and the cache, which lives
// in memory, starts empty after a restart.
package cachestore
