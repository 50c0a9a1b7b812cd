package cachestore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/cachestore"
	"github.com/sessionkv/session/filestore"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/memstore"
	"github.com/sessionkv/session/storetest"
)

func TestConformance_OverMemstore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store {
		return newCache(t, memstore.New(), nil)
	})
}

func TestConformance_OverBoltstore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store {
		return newCache(t, openBolt(t, &boltstore.Options{NoSync: true}), nil)
	})
}

func TestConformance_OverFilestore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store {
		return newCache(t, openFiles(t, "", &filestore.Options{NoSync: true}), nil)
	})
}

// A small cache evicts all the time: the contract must hold regardless.
func TestConformance_TinyCache(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store {
		return newCache(t, memstore.New(), &cachestore.Options{MaxEntries: 3})
	})
}

// Over a store with no optional capability, the Store has none either, as
// session.As sees it, and passes the conformance suite on that footing.
func TestConformance_OverBareStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store {
		return newCache(t, bareStore{memstore.New()}, nil)
	})
}

// TestStore_HasExactlyItsBackingsCapabilities: over a bare store, session.As
// finds no optional capability and every capability's method fails with
// ErrNotSupported, UpdateRecord included (no weaker stand-in); over a store with
// them all, As finds each one.
func TestStore_HasExactlyItsBackingsCapabilities(t *testing.T) {
	s := newCache(t, bareStore{memstore.New()}, nil)
	ctx := t.Context()
	each := func(string, session.Record) bool { return true }
	for name, err := range map[string]error{
		"Update": s.UpdateRecord(ctx, storetest.Key("a"), func(session.Record, bool) (session.Record, error) {
			t.Error("Update called its function over a store that cannot update atomically")
			return session.Record{}, nil
		}),
		"DeleteExpired": second(s.DeleteExpired(ctx)),
		"Range":         s.Range(ctx, each),
		"RangeExpired":  s.RangeExpired(ctx, each),
		"UserKeys":      second(s.UserKeys(ctx, "alice")),
		"DeleteUser":    second(s.DeleteUser(ctx, "alice")),
		"Count":         second(s.Count(ctx)),
	} {
		if !errors.Is(err, session.ErrNotSupported) {
			t.Errorf("%s over a bare store = %v, want ErrNotSupported", name, err)
		}
	}
	has := func(st session.Store) []bool {
		_, u := session.As[session.Updater](st)
		_, sw := session.As[session.Sweeper](st)
		_, r := session.As[session.Ranger](st)
		_, er := session.As[session.ExpiredRanger](st)
		_, ui := session.As[session.UserIndexer](st)
		_, c := session.As[session.Counter](st)
		return []bool{u, sw, r, er, ui, c}
	}
	for i, ok := range has(s) {
		if ok {
			t.Errorf("session.As found capability %d over a bare store", i)
		}
	}
	full := newCache(t, openBolt(t, &boltstore.Options{NoSync: true}), nil)
	for i, ok := range has(full) {
		if !ok {
			t.Errorf("session.As missed capability %d over a bolt store", i)
		}
	}
	// The engine reports the same through its own API.
	e, err := session.New(s, &session.Options{SweepInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, err := e.UserSessions(ctx, "alice"); !errors.Is(err, session.ErrNotSupported) {
		t.Errorf("engine UserSessions = %v, want ErrNotSupported", err)
	}
}

// second returns the error of a two-result call.
func second[T any](_ T, err error) error { return err }

func TestNew_Options(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts *cachestore.Options
		ok   bool
	}{
		{"nil", nil, true},
		{"entries", &cachestore.Options{MaxEntries: 10}, true},
		{"bytes", &cachestore.Options{MaxBytes: 1 << 20}, true},
		{"both", &cachestore.Options{MaxEntries: 10, MaxBytes: 1 << 20}, false},
		{"negative entries", &cachestore.Options{MaxEntries: -1}, false},
		{"negative bytes", &cachestore.Options{MaxBytes: -1}, false},
		{"no TTL bound", &cachestore.Options{TTL: -1}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := cachestore.New(memstore.New(), tc.opts)
			if (err == nil) != tc.ok {
				t.Fatalf("New = %v, want ok %v", err, tc.ok)
			}
			if err == nil {
				s.Close()
			} else if !strings.HasPrefix(err.Error(), "cachestore: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	if _, err := cachestore.New(nil, nil); err == nil {
		t.Error("New(nil) succeeded")
	}
}

func TestStore_ReadThroughAndWriteThrough(t *testing.T) {
	backing := newCountingStore(nil)
	s := newCache(t, backing, &cachestore.Options{TTL: -1})
	k := storetest.Key("a")

	mustSave(t, s, k, session.Record{Data: []byte("v1"), Expires: live(), UserID: "alice"})
	if got := mustLoad(t, s, k); string(got.Data) != "v1" || got.UserID != "alice" {
		t.Fatalf("Load = %q/%q, want v1/alice", got.Data, got.UserID)
	}
	if n := backing.loads.Load(); n != 0 {
		t.Errorf("a Load after Save reached the backing store %d times; want a cache hit", n)
	}

	// A record written behind the cache's back is read through once.
	other := storetest.Key("b")
	mustSave(t, backing.Store, other, session.Record{Data: []byte("w"), Expires: live()})
	for range 3 {
		if got := mustLoad(t, s, other); string(got.Data) != "w" {
			t.Fatalf("Load = %q, want w", got.Data)
		}
	}
	if n := backing.loads.Load(); n != 1 {
		t.Errorf("three Loads of an uncached record reached the backing store %d times, want 1", n)
	}

	// A miss is not cached: the next Load asks again.
	missing := storetest.Key("missing")
	wantNotFound(t, s, missing)
	wantNotFound(t, s, missing)
	if n := backing.loads.Load(); n != 3 {
		t.Errorf("backing loads = %d after two misses, want 3", n)
	}
}

func TestStore_DeleteInvalidates(t *testing.T) {
	backing := newCountingStore(nil)
	s := newCache(t, backing, &cachestore.Options{TTL: -1})
	k := storetest.Key("a")
	mustSave(t, s, k, session.Record{Data: []byte("v1"), Expires: live()})
	if err := s.Delete(t.Context(), k); err != nil {
		t.Fatal(err)
	}
	if _, ok := cachestore.Peek(s, k); ok {
		t.Error("Delete left the record in the cache")
	}
	wantNotFound(t, s, k)
}

func TestStore_UpdateRefreshesTheCache(t *testing.T) {
	for _, tc := range []struct {
		name    string
		backing func(t *testing.T) session.Store
	}{
		{"forwarded", func(*testing.T) session.Store { return newCountingStore(nil) }},
		{"bolt", func(t *testing.T) session.Store { return openBolt(t, &boltstore.Options{NoSync: true}) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newCache(t, tc.backing(t), &cachestore.Options{TTL: -1})
			ctx := t.Context()
			k := storetest.Key("a")
			mustSave(t, s, k, session.Record{Data: []byte("v1"), Expires: live()})
			buf := []byte("v2, in a buffer the caller reuses")
			err := s.UpdateRecord(ctx, k, func(cur session.Record, found bool) (session.Record, error) {
				if !found || string(cur.Data) != "v1" {
					return session.Record{}, fmt.Errorf("fn got %q, %v", cur.Data, found)
				}
				return session.Record{Data: buf, Expires: live(), UserID: "carol"}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			copy(buf, "XX")
			got, ok := cachestore.Peek(s, k)
			if !ok || !bytes.HasPrefix(got.Data, []byte("v2,")) || got.UserID != "carol" {
				t.Fatalf("cache after Update = %q/%q, %v; want the updated record", got.Data, got.UserID, ok)
			}
			// An update that keeps the current data (the engine's expiry
			// refresh returns cur.Data itself) must cache a copy of it.
			err = s.UpdateRecord(ctx, k, func(cur session.Record, _ bool) (session.Record, error) {
				return session.Record{Data: cur.Data, Expires: live(), UserID: cur.UserID}, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := mustLoad(t, s, k); !bytes.HasPrefix(got.Data, []byte("v2,")) {
				t.Fatalf("Load after a refresh = %q", got.Data)
			}
			// An aborted update leaves the backing store as it was, and the
			// next Load reads it again.
			abort := errors.New("abort")
			if err := s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) {
				return session.Record{}, abort
			}); !errors.Is(err, abort) {
				t.Fatalf("Update = %v, want the fn's error", err)
			}
			if got := mustLoad(t, s, k); !bytes.HasPrefix(got.Data, []byte("v2,")) {
				t.Fatalf("Load after an aborted update = %q", got.Data)
			}
			// Returning an expired record removes the session.
			if err := s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) {
				return session.Record{}, nil
			}); err != nil {
				t.Fatal(err)
			}
			if _, ok := cachestore.Peek(s, k); ok {
				t.Error("an update that removed the session left it in the cache")
			}
			wantNotFound(t, s, k)
		})
	}
}

func TestStore_FailedWriteDropsTheEntry(t *testing.T) {
	backing := newCountingStore(nil)
	s := newCache(t, backing, &cachestore.Options{TTL: -1})
	ctx := t.Context()
	k := storetest.Key("a")
	mustSave(t, s, k, session.Record{Data: []byte("v1"), Expires: live()})
	backing.failWrite.Store(true)
	if err := s.Save(ctx, k, session.Record{Data: []byte("v2"), Expires: live()}); !errors.Is(err, errInjected) {
		t.Fatalf("Save = %v, want the backing store's error", err)
	}
	if _, ok := cachestore.Peek(s, k); ok {
		t.Error("a failed Save left an entry in the cache")
	}
	mustSave(t, backing.Store, k, session.Record{Data: []byte("v1"), Expires: live()})
	if got := mustLoad(t, s, k); string(got.Data) != "v1" {
		t.Fatalf("Load = %q, want the backing store's v1", got.Data)
	}
	if err := s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) {
		return session.Record{Data: []byte("v3"), Expires: live()}, nil
	}); !errors.Is(err, errInjected) {
		t.Fatalf("Update = %v, want the backing store's error", err)
	}
	if _, ok := cachestore.Peek(s, k); ok {
		t.Error("a failed Update left an entry in the cache")
	}
}

func TestStore_NeverServesExpiredRecords(t *testing.T) {
	clk := newFakeClock()
	backing := newCountingStore(clk.Now)
	s := newCache(t, backing, &cachestore.Options{TTL: -1, Now: clk.Now})
	k := storetest.Key("a")
	mustSave(t, s, k, session.Record{Data: []byte("v1"), Expires: clk.Now().Add(10 * time.Second)})
	clk.Advance(10*time.Second - time.Millisecond)
	mustLoad(t, s, k)
	if n := backing.loads.Load(); n != 0 {
		t.Fatalf("a live cached record was read from the backing store")
	}
	clk.Advance(time.Millisecond)
	wantNotFound(t, s, k)
	if n := backing.loads.Load(); n != 1 {
		t.Errorf("an expired cached record did not send the Load to the backing store (%d loads)", n)
	}
	// Saving an expired record drops the entry.
	mustSave(t, s, k, session.Record{Data: []byte("v2"), Expires: clk.Now().Add(time.Minute)})
	mustSave(t, s, k, session.Record{Data: []byte("v3"), Expires: clk.Now().Add(-time.Second)})
	if _, ok := cachestore.Peek(s, k); ok {
		t.Error("an expired record was cached")
	}
	wantNotFound(t, s, k)
}

// A backing store whose clock runs behind the cache's returns records the
// cache considers expired: they are treated as missing and logged.
func TestStore_ExpiredRecordFromBackingIsMissing(t *testing.T) {
	clk := newFakeClock()
	clk.Advance(2 * time.Hour)
	logs := &testkit.LogBuffer{}
	backing := memstore.New() // real clock, two hours behind
	s := newCache(t, backing, &cachestore.Options{Now: clk.Now, Logger: textLogger(logs)})
	k := storetest.Key("a")
	mustSave(t, backing, k, session.Record{Data: []byte("v1"), Expires: live()})
	wantNotFound(t, s, k)
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "expired record") {
		t.Errorf("no warning logged: %q", logs.String())
	}
}

func TestStore_TTLSendsLoadsBackToTheBackingStore(t *testing.T) {
	clk := newFakeClock()
	backing := newCountingStore(nil)
	s := newCache(t, backing, &cachestore.Options{TTL: 5 * time.Second, Now: clk.Now})
	k := storetest.Key("a")
	mustSave(t, s, k, session.Record{Data: []byte("v1"), Expires: live()})
	clk.Advance(5*time.Second - time.Millisecond)
	mustLoad(t, s, k)
	if n := backing.loads.Load(); n != 0 {
		t.Fatalf("a fresh record was read from the backing store")
	}
	clk.Advance(time.Millisecond)
	mustLoad(t, s, k) // stale: read through, and cached again
	mustLoad(t, s, k)
	if n := backing.loads.Load(); n != 1 {
		t.Errorf("backing loads = %d, want 1 (stale once, then fresh)", n)
	}
}

func TestStore_DefaultTTL(t *testing.T) {
	clk := newFakeClock()
	backing := newCountingStore(nil)
	s := newCache(t, backing, &cachestore.Options{Now: clk.Now})
	k := storetest.Key("a")
	mustSave(t, s, k, session.Record{Data: []byte("v1"), Expires: live()})
	clk.Advance(cachestore.DefaultTTL - time.Millisecond)
	mustLoad(t, s, k)
	clk.Advance(time.Millisecond)
	mustLoad(t, s, k)
	if n := backing.loads.Load(); n != 1 {
		t.Errorf("backing loads = %d, want 1: the default TTL is not %v", n, cachestore.DefaultTTL)
	}
}

func TestStore_BoundedByEntries(t *testing.T) {
	const max, n = 50, 500
	s := newCache(t, memstore.New(), &cachestore.Options{MaxEntries: max, TTL: -1})
	for i := range n {
		mustSave(t, s, storetest.Key(fmt.Sprint(i)), session.Record{Data: []byte(fmt.Sprint(i)), Expires: live()})
	}
	if entries, _ := cachestore.Cached(s); entries > max || entries == 0 {
		t.Errorf("cache holds %d entries, want 1..%d", entries, max)
	}
	for i := range n {
		if got := mustLoad(t, s, storetest.Key(fmt.Sprint(i))); string(got.Data) != fmt.Sprint(i) {
			t.Fatalf("record %d = %q after eviction", i, got.Data)
		}
	}
	if entries, _ := cachestore.Cached(s); entries > max {
		t.Errorf("cache holds %d entries after read-through, want at most %d", entries, max)
	}
}

func TestStore_BoundedByBytes(t *testing.T) {
	const max, n = 32 << 10, 200
	logs := &testkit.LogBuffer{}
	s := newCache(t, memstore.New(), &cachestore.Options{MaxBytes: max, TTL: -1, Logger: textLogger(logs)})
	data := bytes.Repeat([]byte("x"), 1000)
	for i := range n {
		mustSave(t, s, storetest.Key(fmt.Sprint(i)), session.Record{Data: data, Expires: live()})
	}
	entries, weight := cachestore.Cached(s)
	if weight > max || entries == 0 {
		t.Errorf("cache holds %d entries weighing %d bytes, want at most %d bytes", entries, weight, max)
	}
	if entries*len(data) > max {
		t.Errorf("cache holds %d records of %d bytes, over %d bytes", entries, len(data), max)
	}
	// A record larger than the whole cache is served from the backing
	// store, never cached, and logged once.
	big := storetest.Key("big")
	for range 2 {
		mustSave(t, s, big, session.Record{Data: bytes.Repeat([]byte("y"), max), Expires: live()})
	}
	if _, ok := cachestore.Peek(s, big); ok {
		t.Error("a record larger than MaxBytes was cached")
	}
	if got := mustLoad(t, s, big); len(got.Data) != max {
		t.Errorf("large record came back with %d bytes", len(got.Data))
	}
	if c := strings.Count(logs.String(), "larger than MaxBytes"); c != 1 {
		t.Errorf("the warning about a large record was logged %d times, want once: %q", c, logs.String())
	}
}

func TestStore_DeleteUserInvalidatesTheUsersRecords(t *testing.T) {
	backing := newCountingStore(nil)
	s := newCache(t, backing, &cachestore.Options{TTL: -1})
	ctx := t.Context()
	for _, name := range []string{"a1", "a2", "b1"} {
		uid := map[byte]string{'a': "alice", 'b': "bob"}[name[0]]
		mustSave(t, s, storetest.Key(name), session.Record{Data: []byte(name), Expires: live(), UserID: uid})
	}
	n, err := s.DeleteUser(ctx, "alice")
	if err != nil || n != 2 {
		t.Fatalf("DeleteUser = %d, %v; want 2", n, err)
	}
	for _, name := range []string{"a1", "a2"} {
		if _, ok := cachestore.Peek(s, storetest.Key(name)); ok {
			t.Errorf("%s still cached after DeleteUser", name)
		}
		wantNotFound(t, s, storetest.Key(name))
	}
	loads := backing.loads.Load()
	mustLoad(t, s, storetest.Key("b1"))
	if backing.loads.Load() != loads {
		t.Error("DeleteUser dropped another user's record from the cache")
	}
	keys, err := s.UserKeys(ctx, "bob")
	if err != nil || len(keys) != 1 || keys[0] != storetest.Key("b1") {
		t.Errorf("UserKeys(bob) = %v, %v", keys, err)
	}
}

func TestStore_RangeAndSweepForward(t *testing.T) {
	clk := newFakeClock()
	backing := memstore.NewWithClock(clk.Now)
	s := newCache(t, backing, &cachestore.Options{Now: clk.Now})
	ctx := t.Context()
	mustSave(t, s, storetest.Key("short"), session.Record{Data: []byte("s"), Expires: clk.Now().Add(time.Minute)})
	mustSave(t, s, storetest.Key("long"), session.Record{Data: []byte("l"), Expires: clk.Now().Add(time.Hour)})
	clk.Advance(2 * time.Minute)
	if n, err := s.DeleteExpired(ctx); n != 1 || err != nil {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	var keys []string
	if err := s.Range(ctx, func(k string, _ session.Record) bool { keys = append(keys, k); return true }); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0] != storetest.Key("long") {
		t.Errorf("Range saw %d keys, want the live one", len(keys))
	}
	if backing.Len() != 1 {
		t.Errorf("backing store holds %d records after the sweep, want 1", backing.Len())
	}
}

func TestStore_Closed(t *testing.T) {
	backing := memstore.New()
	s, err := cachestore.New(backing, nil)
	if err != nil {
		t.Fatal(err)
	}
	k := storetest.Key("a")
	mustSave(t, s, k, session.Record{Data: []byte("v1"), Expires: live()})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := s.Load(ctx, k); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Load after Close = %v, want ErrClosed", err)
	}
	if err := s.Save(ctx, k, session.Record{Data: []byte("v2"), Expires: live()}); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Save after Close = %v, want ErrClosed", err)
	}
	// The backing store is the caller's: still open, still holding v1.
	if got := mustLoad(t, backing, k); string(got.Data) != "v1" {
		t.Errorf("backing store after Close = %q", got.Data)
	}
}
