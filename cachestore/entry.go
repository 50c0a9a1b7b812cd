package cachestore

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"time"

	"github.com/maypok86/otter/v2"

	"github.com/sessionkv/session"
)

// entry is one cached record. It is never modified once in the cache:
// writes replace it, and Load hands out copies of data.
type entry struct {
	data    []byte
	expires time.Time
	userID  string
	// synced is when, by Options.Now, the record was last known to be the
	// backing store's: the start of the write that stored it or of the load
	// that read it (Unix nanoseconds).
	synced int64
}

// newEntry returns the entry of rec, synced at synced. With copyData false
// the entry takes rec.Data, which nobody may modify afterwards.
func newEntry(rec session.Record, synced time.Time, copyData bool) *entry {
	data := rec.Data
	if copyData {
		data = bytes.Clone(data)
	}
	return &entry{data: data, expires: rec.Expires, userID: rec.UserID, synced: synced.UnixNano()}
}

// usable reports whether e may be returned at now: not expired, and synced
// less than ttl ago (any time ago for a negative ttl).
func (e *entry) usable(now time.Time, ttl time.Duration) bool {
	return now.Before(e.expires) && (ttl < 0 || now.UnixNano()-e.synced < int64(ttl))
}

// lifetime is how long from now e stays usable: until it expires or, with a
// non-negative ttl, until ttl after it was synced, whichever comes first.
func (e *entry) lifetime(now time.Time, ttl time.Duration) time.Duration {
	d := e.expires.Sub(now)
	if ttl >= 0 {
		if left := time.Duration(e.synced + int64(ttl) - now.UnixNano()); left < d {
			d = left
		}
	}
	return max(d, 0)
}

// record returns the cached record with a copy of its data, which then
// belongs to the caller.
func (e *entry) record() session.Record {
	return session.Record{Data: bytes.Clone(e.data), Expires: e.expires, UserID: e.userID}
}

// weight is the approximate memory e costs in the cache under key.
func (e *entry) weight(key string) uint32 {
	n := uint64(len(key)) + uint64(len(e.data)) + uint64(len(e.userID)) + entryOverhead
	return uint32(min(n, math.MaxUint32))
}

// weigh is the cache's Weigher.
func weigh(key string, e *entry) uint32 { return e.weight(key) }

// expiryCalculator makes the cache drop an entry as soon as the Store would
// no longer return it, so stale entries do not take up room. Reads do not
// extend an entry's life.
type expiryCalculator struct{ s *Store }

func (c expiryCalculator) ExpireAfterCreate(e otter.Entry[string, *entry]) time.Duration {
	return e.Value.lifetime(c.s.now(), c.s.ttl)
}

func (c expiryCalculator) ExpireAfterUpdate(e otter.Entry[string, *entry], _ *entry) time.Duration {
	return e.Value.lifetime(c.s.now(), c.s.ttl)
}

func (c expiryCalculator) ExpireAfterRead(e otter.Entry[string, *entry]) time.Duration {
	return e.ExpiresAfter()
}

// clock gives the cache the Store's time source, so that a fake clock moves
// both.
type clock struct{ now func() time.Time }

func (c clock) NowNano() int64 { return c.now().UnixNano() }

// Tick paces the cache's periodic clean-up in real time.
func (c clock) Tick(d time.Duration) <-chan time.Time { return time.Tick(d) }

// otterLogger sends the cache's own reports to the Store's logger, at Warn
// level: nothing the cache does can fail a request.
type otterLogger struct{ log *slog.Logger }

func (l otterLogger) Warn(ctx context.Context, msg string, err error) {
	l.log.WarnContext(ctx, "cachestore: "+msg, "err", err)
}

func (l otterLogger) Error(ctx context.Context, msg string, err error) {
	l.log.WarnContext(ctx, "cachestore: "+msg, "err", err)
}
