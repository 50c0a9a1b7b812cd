package cachestore_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/cachestore"
	"github.com/sessionkv/session/memstore"
	"github.com/sessionkv/session/storetest"
)

// slowLoadStore is a memstore whose Load yields the processor after reading,
// so that writes land between a Load's read and its return: the window in
// which a cache could put an older record back over a newer one.
type slowLoadStore struct{ *memstore.Store }

func (s slowLoadStore) Load(ctx context.Context, key string) (session.Record, error) {
	rec, err := s.Store.Load(ctx, key)
	for range 3 {
		runtime.Gosched()
	}
	return rec, err
}

// TestStore_LoadRacingWrites_NeverCachesAnOlderRecord runs one writer per
// key (Save, UpdateRecord and Delete in turn, each writing a new version) against
// readers that keep missing and filling the cache. After each write returns,
// the cache must hold that write's record or nothing; and a Load must never
// return a version older than a write that returned before it started.
func TestStore_LoadRacingWrites_NeverCachesAnOlderRecord(t *testing.T) {
	const keys, versions, readers = 4, 300, 6
	backing := slowLoadStore{memstore.New()}
	// A tiny cache, so that readers keep missing and filling.
	s := newCache(t, backing, &cachestore.Options{MaxEntries: 2, TTL: -1})
	ctx := context.Background()

	// started[k] is the version of the last write to key k that started,
	// done[k] that of the last one that returned; a negative version in done
	// is a delete.
	var started, done [keys]atomic.Int64
	var stop atomic.Bool
	errs := make(chan error, keys+readers)
	fail := func(err error) {
		select {
		case errs <- err:
		default:
		}
		stop.Store(true)
	}
	key := func(i int) string { return storetest.Key(fmt.Sprint("race-", i)) }

	var readersWG, writersWG sync.WaitGroup
	for r := range readers {
		readersWG.Add(1)
		go func() {
			defer readersWG.Done()
			for i := r; !stop.Load(); i++ {
				k := i % keys
				before := done[k].Load()
				rec, err := s.Load(ctx, key(k))
				switch {
				case errors.Is(err, session.ErrNotFound):
					if before > 0 && started[k].Load() == before {
						fail(fmt.Errorf("key %d: Load found nothing after version %d was written", k, before))
					}
				case err != nil:
					fail(err)
				default:
					v, _ := strconv.ParseInt(string(rec.Data), 10, 64)
					if v < abs(before) {
						fail(fmt.Errorf("key %d: Load returned version %d after version %d had been written", k, v, abs(before)))
					}
				}
			}
		}()
	}
	for k := range keys {
		writersWG.Add(1)
		go func() {
			defer writersWG.Done()
			for v := int64(1); v <= versions && !stop.Load(); v++ {
				rec := session.Record{Data: []byte(strconv.FormatInt(v, 10)), Expires: live()}
				var err error
				state := v
				started[k].Store(v)
				switch v % 3 {
				case 0:
					err = s.Save(ctx, key(k), rec)
				case 1:
					err = s.UpdateRecord(ctx, key(k), func(session.Record, bool) (session.Record, error) { return rec, nil })
				case 2:
					err = s.Delete(ctx, key(k))
					state = -v
				}
				if err != nil {
					fail(err)
					return
				}
				done[k].Store(state)
				// Give racing readers the chance to fill, then check what the
				// cache holds.
				for range 3 {
					runtime.Gosched()
					if err := checkCached(s, key(k), state); err != nil {
						fail(fmt.Errorf("key %d: %w", k, err))
						return
					}
				}
			}
		}()
	}
	writersWG.Wait()
	stop.Store(true)
	readersWG.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for k := range keys {
		if err := checkCached(s, key(k), done[k].Load()); err != nil {
			t.Errorf("key %d at the end: %v", k, err)
		}
	}
}

// checkCached checks that the cache holds version state of key (negative:
// deleted), or nothing.
func checkCached(s *cachestore.Store, key string, state int64) error {
	rec, ok := cachestore.Peek(s, key)
	if !ok {
		return nil
	}
	v, _ := strconv.ParseInt(string(rec.Data), 10, 64)
	if state < 0 {
		return fmt.Errorf("cache holds version %d after the delete of version %d returned", v, -state)
	}
	if v != state {
		return fmt.Errorf("cache holds version %d after version %d was written", v, state)
	}
	return nil
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
