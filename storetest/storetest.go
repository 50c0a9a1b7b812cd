// Package storetest is the conformance suite for session.Store
// implementations, in the spirit of testing/fstest.TestFS: every store in
// this module runs it, and so should third-party ones.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) session.Store { return mystore.New(...) })
//	}
//
// The suite checks the Store contract (round trip, overwrite, delete, expiry
// honoured on load, data isolation, context cancellation, concurrent use) and
// each optional capability the store has (as session.As finds it):
// session.Sweeper, session.Updater, session.Ranger, session.ExpiredRanger,
// session.UserIndexer, session.Counter and io.Closer. It also checks that
// user IDs longer than session.MaxUserIDLen are refused with
// session.ErrUserIDTooLong. Run it with -race.
//
// Run may be called from parallel tests; each subtest uses a store of its
// own. The suite keeps no state, so a crash loses nothing of its own.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sessionkv/session"
)

// NewStore returns a fresh, empty store for one subtest. It should register
// any cleanup with t.Cleanup. The suite closes nothing itself except in the
// io.Closer test, which asks for a store of its own.
type NewStore func(t *testing.T) session.Store

// Run runs the whole suite against stores made by newStore.
func Run(t *testing.T, newStore NewStore) {
	t.Helper()
	tests := []struct {
		name string
		fn   func(*testing.T, session.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"LoadMissing", testLoadMissing},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"ExpiredIsNotFound", testExpired},
		{"DataIsolation", testIsolation},
		{"EmptyAndLargeData", testSizes},
		{"ManyKeys", testManyKeys},
		{"ContextCanceled", testCanceled},
		{"Concurrent", testConcurrent},
		{"EngineRoundTrip", testEngine},
		{"Sweeper", testSweeper},
		{"Updater", testUpdater},
		{"UpdaterConcurrentIncrements", testUpdaterConcurrent},
		{"UpdaterIsolationAndExpiry", testUpdaterIsolation},
		{"UpdaterLeavesLoadedDataAlone", testUpdaterLeavesLoadedData},
		{"LoadAppender", testLoadAppender},
		{"Ranger", testRanger},
		{"UserIndexer", testUserIndex},
		{"ExpiredRanger", testExpiredRanger},
		{"Counter", testCounter},
		{"UserIDLimit", testUserIDLimit},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
	t.Run("Closer", func(t *testing.T) { testCloser(t, newStore(t)) })
}

// Key returns a store key of the shape the engine uses, derived from name.
func Key(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])
}

func live() time.Time { return time.Now().Add(time.Hour) }

func past() time.Time { return time.Now().Add(-time.Hour) }

func ctx(t *testing.T) context.Context { return t.Context() }

// canceled returns a context that is already canceled.
func canceled() context.Context {
	c, cancel := context.WithCancel(context.Background())
	cancel()
	return c
}

func mustSave(t *testing.T, s session.Store, key string, rec session.Record) {
	t.Helper()
	if err := s.Save(ctx(t), key, rec); err != nil {
		t.Fatalf("Save(%s): %v", key[:8], err)
	}
}

func mustLoad(t *testing.T, s session.Store, key string) session.Record {
	t.Helper()
	rec, err := s.Load(ctx(t), key)
	if err != nil {
		t.Fatalf("Load(%s): %v", key[:8], err)
	}
	return rec
}

func wantNotFound(t *testing.T, s session.Store, key string) {
	t.Helper()
	rec, err := s.Load(ctx(t), key)
	if !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load(%s) = %q, %v; want ErrNotFound", key[:8], rec.Data, err)
	}
}

func sameInstant(a, b time.Time) bool {
	d := a.Sub(b)
	return d < time.Millisecond && d > -time.Millisecond
}

func testRoundTrip(t *testing.T, s session.Store) {
	k := Key("round-trip")
	want := session.Record{Data: []byte("\x01\x00payload"), Expires: live(), UserID: "user-1"}
	mustSave(t, s, k, want)
	got := mustLoad(t, s, k)
	if got.UserID != want.UserID {
		t.Errorf("UserID = %q, want %q", got.UserID, want.UserID)
	}
	if !bytes.Equal(got.Data, want.Data) {
		t.Errorf("Data = %q, want %q", got.Data, want.Data)
	}
	if !sameInstant(got.Expires, want.Expires) {
		t.Errorf("Expires = %v, want %v (to the millisecond)", got.Expires, want.Expires)
	}
}

func testLoadMissing(t *testing.T, s session.Store) {
	wantNotFound(t, s, Key("never-saved"))
}

func testOverwrite(t *testing.T, s session.Store) {
	k := Key("overwrite")
	mustSave(t, s, k, session.Record{Data: []byte("first, and longer than the second"), Expires: live()})
	mustSave(t, s, k, session.Record{Data: []byte("second"), Expires: live()})
	if got := mustLoad(t, s, k); string(got.Data) != "second" {
		t.Errorf("Data = %q, want %q", got.Data, "second")
	}
}

func testDelete(t *testing.T, s session.Store) {
	k, other := Key("delete"), Key("delete-other")
	mustSave(t, s, k, session.Record{Data: []byte("x"), Expires: live()})
	mustSave(t, s, other, session.Record{Data: []byte("y"), Expires: live()})
	if err := s.Delete(ctx(t), k); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	wantNotFound(t, s, k)
	if got := mustLoad(t, s, other); string(got.Data) != "y" {
		t.Errorf("Delete removed another key's record: %q", got.Data)
	}
	if err := s.Delete(ctx(t), k); err != nil {
		t.Errorf("Delete of a missing key = %v, want nil", err)
	}
	if err := s.Delete(ctx(t), Key("never-saved")); err != nil {
		t.Errorf("Delete of a never-saved key = %v, want nil", err)
	}
}

func testExpired(t *testing.T, s session.Store) {
	k := Key("expired")
	mustSave(t, s, k, session.Record{Data: []byte("old"), Expires: past()})
	wantNotFound(t, s, k)
	// An expired record is replaced like any other.
	mustSave(t, s, k, session.Record{Data: []byte("new"), Expires: live()})
	if got := mustLoad(t, s, k); string(got.Data) != "new" {
		t.Errorf("Data = %q, want %q", got.Data, "new")
	}
}

func testIsolation(t *testing.T, s session.Store) {
	k := Key("isolation")
	in := []byte("original")
	mustSave(t, s, k, session.Record{Data: in, Expires: live()})
	copy(in, "XXXXXXXX")
	got := mustLoad(t, s, k)
	if string(got.Data) != "original" {
		t.Fatalf("store kept the caller's slice: %q", got.Data)
	}
	copy(got.Data, "YYYYYYYY")
	if again := mustLoad(t, s, k); string(again.Data) != "original" {
		t.Fatalf("Load returned the store's own slice: %q", again.Data)
	}
}

func testSizes(t *testing.T, s session.Store) {
	empty, large := Key("empty"), Key("large")
	mustSave(t, s, empty, session.Record{Data: []byte{}, Expires: live()})
	if got := mustLoad(t, s, empty); len(got.Data) != 0 {
		t.Errorf("empty Data came back as %d bytes", len(got.Data))
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	mustSave(t, s, large, session.Record{Data: big, Expires: live()})
	if got := mustLoad(t, s, large); !bytes.Equal(got.Data, big) {
		t.Errorf("1 MiB record came back as %d different bytes", len(got.Data))
	}
}

func testManyKeys(t *testing.T, s session.Store) {
	const n = 200
	for i := range n {
		mustSave(t, s, Key(strconv.Itoa(i)), session.Record{Data: []byte(strconv.Itoa(i)), Expires: live()})
	}
	for i := range n {
		if got := mustLoad(t, s, Key(strconv.Itoa(i))); string(got.Data) != strconv.Itoa(i) {
			t.Fatalf("key %d: Data = %q", i, got.Data)
		}
	}
}

func testCanceled(t *testing.T, s session.Store) {
	k := Key("canceled")
	mustSave(t, s, k, session.Record{Data: []byte("x"), Expires: live()})
	c := canceled()
	if _, err := s.Load(c, k); !errors.Is(err, context.Canceled) {
		t.Errorf("Load with a canceled context = %v, want context.Canceled", err)
	}
	if err := s.Save(c, k, session.Record{Data: []byte("y"), Expires: live()}); !errors.Is(err, context.Canceled) {
		t.Errorf("Save with a canceled context = %v, want context.Canceled", err)
	}
	if err := s.Delete(c, k); !errors.Is(err, context.Canceled) {
		t.Errorf("Delete with a canceled context = %v, want context.Canceled", err)
	}
	if got := mustLoad(t, s, k); string(got.Data) != "x" {
		t.Errorf("a canceled call changed the record: %q", got.Data)
	}
}

// testConcurrent mixes Save, Load, Delete and, if the store has it, UpdateRecord
// on a few shared keys from many goroutines; under -race it finds
// unsynchronized state, and every load must see a whole record that some
// goroutine wrote.
func testConcurrent(t *testing.T, s session.Store) {
	const workers, ops, keys = 16, 60, 4
	u, isUpdater := session.As[session.Updater](s)
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range ops {
				k := Key(fmt.Sprint("concurrent-", (w+i)%keys))
				var err error
				op := i % 4
				if op == 3 && !isUpdater {
					op = 1
				}
				switch op {
				case 3:
					err = u.UpdateRecord(context.Background(), k, func(cur session.Record, found bool) (session.Record, error) {
						if found && !wellFormed(cur.Data) {
							return session.Record{}, fmt.Errorf("torn record in Update %q", cur.Data)
						}
						return session.Record{Data: concurrentData(w), Expires: live()}, nil
					})
				case 0:
					err = s.Save(context.Background(), k, session.Record{Data: concurrentData(w), Expires: live()})
				case 1:
					var rec session.Record
					rec, err = s.Load(context.Background(), k)
					if errors.Is(err, session.ErrNotFound) {
						err = nil
					} else if err == nil && !wellFormed(rec.Data) {
						err = fmt.Errorf("torn record %q", rec.Data)
					}
				case 2:
					err = s.Delete(context.Background(), k)
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// concurrentData is what worker w of testConcurrent writes: 64+w copies of
// the byte 'a'+w.
func concurrentData(w int) []byte { return bytes.Repeat([]byte{byte('a' + w)}, 64+w) }

// wellFormed reports whether data is one of testConcurrent's records.
func wellFormed(data []byte) bool {
	return len(data) >= 64 && bytes.Equal(data, concurrentData(len(data)-64))
}

// testEngine checks the store behind a real engine: a session saved, loaded,
// changed, and flushed.
func testEngine(t *testing.T, s session.Store) {
	opts := session.DefaultOptions()
	opts.SweepInterval = -1
	e, err := session.New(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	sess, err := e.Load(ctx(t), "")
	if err != nil {
		t.Fatal(err)
	}
	sess.Set("name", "Sonam")
	sess.Set("n", 41)
	if err := e.Save(ctx(t), sess); err != nil {
		t.Fatalf("Save: %v", err)
	}
	id := sess.ID()
	again, err := e.Load(ctx(t), id)
	if err != nil || again.ID() != id {
		t.Fatalf("Load(saved ID) = %q, %v; want the same ID", again.ID(), err)
	}
	if n, _ := again.GetInt("n"); n != 41 {
		t.Errorf("n = %d, want 41", n)
	}
	again.Set("n", 42)
	if err := e.Save(ctx(t), again); err != nil {
		t.Fatalf("second Save: %v", err)
	}
	if err := again.Flush(ctx(t)); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if gone, _ := e.Load(ctx(t), id); gone.ID() != "" {
		t.Errorf("flushed session still loads")
	}
	// The first copy commits after the flush: it must not come back.
	sess.Set("late", true)
	if err := e.Save(ctx(t), sess); !errors.Is(err, session.ErrSessionInterrupted) {
		t.Errorf("Save after Flush = %v, want ErrSessionInterrupted", err)
	}
	wantNotFound(t, s, session.StoreKey(id))
}

func testSweeper(t *testing.T, s session.Store) {
	sw, ok := session.As[session.Sweeper](s)
	if !ok {
		t.Skip("store does not implement session.Sweeper")
	}
	c := canceled()
	if _, err := sw.DeleteExpired(c); !errors.Is(err, context.Canceled) {
		t.Errorf("DeleteExpired with a canceled context = %v, want context.Canceled", err)
	}
	for i := range 3 {
		mustSave(t, s, Key(fmt.Sprint("sweep-old-", i)), session.Record{Data: []byte("old"), Expires: past()})
	}
	for i := range 2 {
		mustSave(t, s, Key(fmt.Sprint("sweep-live-", i)), session.Record{Data: []byte("live"), Expires: live()})
	}
	n, err := sw.DeleteExpired(ctx(t))
	if err != nil || n != 3 {
		t.Fatalf("DeleteExpired = %d, %v; want 3, nil", n, err)
	}
	for i := range 2 {
		mustLoad(t, s, Key(fmt.Sprint("sweep-live-", i)))
	}
	if n, err := sw.DeleteExpired(ctx(t)); err != nil || n != 0 {
		t.Errorf("second DeleteExpired = %d, %v; want 0, nil", n, err)
	}
}

func testUpdater(t *testing.T, s session.Store) {
	u, ok := session.As[session.Updater](s)
	if !ok {
		t.Skip("store does not implement session.Updater")
	}
	k := Key("update")
	var sawFound bool
	err := u.UpdateRecord(ctx(t), k, func(cur session.Record, found bool) (session.Record, error) {
		sawFound = found
		return session.Record{Data: []byte("created"), Expires: live()}, nil
	})
	if err != nil || sawFound {
		t.Fatalf("Update of a missing key: err %v, found %v; want nil, false", err, sawFound)
	}
	exp := live().Add(time.Minute)
	err = u.UpdateRecord(ctx(t), k, func(cur session.Record, found bool) (session.Record, error) {
		if !found || string(cur.Data) != "created" {
			return session.Record{}, fmt.Errorf("fn got %q, found %v", cur.Data, found)
		}
		return session.Record{Data: append(bytes.Clone(cur.Data), "+updated"...), Expires: exp}, nil
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	got := mustLoad(t, s, k)
	if string(got.Data) != "created+updated" || !sameInstant(got.Expires, exp) {
		t.Errorf("after Update: %q expiring %v", got.Data, got.Expires)
	}

	abort := errors.New("abort")
	err = u.UpdateRecord(ctx(t), k, func(session.Record, bool) (session.Record, error) {
		return session.Record{Data: []byte("must not be written"), Expires: live()}, abort
	})
	if !errors.Is(err, abort) {
		t.Errorf("Update returned %v, want the fn's error", err)
	}
	if got := mustLoad(t, s, k); string(got.Data) != "created+updated" {
		t.Errorf("an aborted Update wrote %q", got.Data)
	}

	old := Key("update-expired")
	mustSave(t, s, old, session.Record{Data: []byte("old"), Expires: past()})
	err = u.UpdateRecord(ctx(t), old, func(cur session.Record, found bool) (session.Record, error) {
		if found {
			return session.Record{}, fmt.Errorf("expired record passed as found: %q", cur.Data)
		}
		return session.Record{}, abort
	})
	if !errors.Is(err, abort) {
		t.Errorf("Update of an expired record: %v", err)
	}

	c := canceled()
	err = u.UpdateRecord(c, k, func(cur session.Record, _ bool) (session.Record, error) {
		return session.Record{Data: []byte("canceled"), Expires: live()}, nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update with a canceled context = %v, want context.Canceled", err)
	}
}

// testUpdaterConcurrent checks atomicity: concurrent increments through
// UpdateRecord must all count.
func testUpdaterConcurrent(t *testing.T, s session.Store) {
	u, ok := session.As[session.Updater](s)
	if !ok {
		t.Skip("store does not implement session.Updater")
	}
	const workers, each = 8, 25
	k := Key("counter")
	mustSave(t, s, k, session.Record{Data: []byte("0"), Expires: live()})
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				err := u.UpdateRecord(context.Background(), k, func(cur session.Record, found bool) (session.Record, error) {
					if !found {
						return session.Record{}, errors.New("counter vanished")
					}
					n, err := strconv.Atoi(string(cur.Data))
					if err != nil {
						return session.Record{}, err
					}
					return session.Record{Data: []byte(strconv.Itoa(n + 1)), Expires: cur.Expires}, nil
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := mustLoad(t, s, k); string(got.Data) != strconv.Itoa(workers*each) {
		t.Errorf("counter = %s, want %d: Update is not atomic", got.Data, workers*each)
	}
}

// testUpdaterIsolation checks that the store copies the Data an UpdateFunc
// returns (the engine reuses its buffer) and that returning an expired
// record removes the session.
func testUpdaterIsolation(t *testing.T, s session.Store) {
	u, ok := session.As[session.Updater](s)
	if !ok {
		t.Skip("store does not implement session.Updater")
	}
	k := Key("update-isolation")
	buf := []byte("written by update")
	err := u.UpdateRecord(ctx(t), k, func(session.Record, bool) (session.Record, error) {
		return session.Record{Data: buf, Expires: live()}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	copy(buf, "XXXXXXXXXXXXXXXXX")
	if got := mustLoad(t, s, k); string(got.Data) != "written by update" {
		t.Fatalf("store kept the slice Update's function returned: %q", got.Data)
	}
	err = u.UpdateRecord(ctx(t), k, func(cur session.Record, found bool) (session.Record, error) {
		if !found {
			return session.Record{}, errors.New("record missing")
		}
		return session.Record{}, nil // expired: the session is gone
	})
	if err != nil {
		t.Fatal(err)
	}
	wantNotFound(t, s, k)
}

// testUpdaterLeavesLoadedData checks that data Load handed out stays as it
// was when the record is updated afterwards (a store that
// rewrites a record's buffer in place must copy it out first).
func testUpdaterLeavesLoadedData(t *testing.T, s session.Store) {
	u, ok := session.As[session.Updater](s)
	if !ok {
		t.Skip("store does not implement session.Updater")
	}
	k := Key("update-in-place")
	mustSave(t, s, k, session.Record{Data: []byte("the first version"), Expires: live()})
	loaded := mustLoad(t, s, k)
	for _, next := range []string{"the other version", "shorter", ""} {
		err := u.UpdateRecord(ctx(t), k, func(cur session.Record, found bool) (session.Record, error) {
			return session.Record{Data: []byte(next), Expires: live()}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := mustLoad(t, s, k); string(got.Data) != next {
			t.Fatalf("after the update: %q, want %q", got.Data, next)
		}
	}
	if string(loaded.Data) != "the first version" {
		t.Fatalf("an update changed data Load returned earlier: %q", loaded.Data)
	}
}

func testLoadAppender(t *testing.T, s session.Store) {
	a, ok := session.As[session.LoadAppender](s)
	if !ok {
		t.Skip("store does not implement session.LoadAppender")
	}
	k := Key("load-append")
	data := bytes.Repeat([]byte("0123456789"), 1000)
	mustSave(t, s, k, session.Record{Data: data, Expires: live(), UserID: "u1"})
	dst := append(make([]byte, 0, 16), "prefix"...)
	rec, err := a.LoadAppend(ctx(t), k, dst)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(rec.Data, append([]byte("prefix"), data...)) || rec.UserID != "u1" || !sameInstant(rec.Expires, mustLoad(t, s, k).Expires) {
		t.Fatalf("LoadAppend = %d bytes %q…, user %q", len(rec.Data), rec.Data[:min(len(rec.Data), 16)], rec.UserID)
	}
	// The store keeps neither dst nor what it returned.
	clear(rec.Data)
	if got := mustLoad(t, s, k); !bytes.Equal(got.Data, data) {
		t.Fatal("changing LoadAppend's result changed the stored record")
	}
	big := make([]byte, 0, 64<<10)
	if rec, err = a.LoadAppend(ctx(t), k, big); err != nil || !bytes.Equal(rec.Data, data) || &rec.Data[0] != &big[:1][0] {
		t.Fatalf("LoadAppend into a large enough buffer: %v, reused %v", err, err == nil && &rec.Data[0] == &big[:1][0])
	}
	if _, err := a.LoadAppend(ctx(t), Key("load-append-missing"), nil); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("LoadAppend of a missing key: %v, want ErrNotFound", err)
	}
	mustSave(t, s, k, session.Record{Data: data, Expires: past()})
	if _, err := a.LoadAppend(ctx(t), k, nil); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("LoadAppend of an expired record: %v, want ErrNotFound", err)
	}
	if _, err := a.LoadAppend(canceled(), k, nil); err == nil {
		t.Fatal("LoadAppend with a canceled context succeeded")
	}
}

func testRanger(t *testing.T, s session.Store) {
	r, ok := session.As[session.Ranger](s)
	if !ok {
		t.Skip("store does not implement session.Ranger")
	}
	want := map[string]string{}
	for i := range 20 {
		k := Key(fmt.Sprint("range-", i))
		want[k] = fmt.Sprint("data-", i)
		mustSave(t, s, k, session.Record{Data: []byte(want[k]), Expires: live(), UserID: "u-" + want[k]})
	}
	for i := range 5 {
		mustSave(t, s, Key(fmt.Sprint("range-expired-", i)), session.Record{Data: []byte("old"), Expires: past()})
	}
	got := map[string]string{}
	err := r.Range(ctx(t), func(key string, rec session.Record) bool {
		if _, dup := got[key]; dup {
			t.Errorf("Range yielded %s twice", key[:8])
		}
		got[key] = string(rec.Data)
		if rec.UserID != "u-"+string(rec.Data) {
			t.Errorf("Range: %s has UserID %q, want %q", key[:8], rec.UserID, "u-"+string(rec.Data))
		}
		return true
	})
	if err != nil {
		t.Fatalf("Range: %v", err)
	}
	wantListed(t, "Range", "live", got, want)
	c := canceled()
	if err := r.Range(c, func(string, session.Record) bool { return true }); !errors.Is(err, context.Canceled) {
		t.Errorf("Range with a canceled context = %v, want context.Canceled", err)
	}
	calls := 0
	err = r.Range(ctx(t), func(string, session.Record) bool {
		calls++
		return calls < 3
	})
	if err != nil || calls != 3 {
		t.Errorf("Range after fn returned false: %d calls, err %v; want 3 calls", calls, err)
	}
}

// wantListed checks that method listed exactly want (key to data), the
// store's kind records.
func wantListed(t *testing.T, method, kind string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s yielded %d records, want the %d %s ones", method, len(got), len(want), kind)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %s = %q, want %q", method, k[:8], got[k], v)
		}
	}
}

func testCloser(t *testing.T, s session.Store) {
	c, ok := s.(io.Closer)
	if !ok {
		t.Skip("store does not implement io.Closer")
	}
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close = %v, want nil (Close must be idempotent)", err)
	}
}

func sortedKeys(t *testing.T, u session.UserIndexer, uid string) []string {
	t.Helper()
	keys, err := u.UserKeys(ctx(t), uid)
	if err != nil {
		t.Fatalf("UserKeys(%s): %v", uid, err)
	}
	slices.Sort(keys)
	return keys
}

func keysOf(names ...string) []string {
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = Key(n)
	}
	slices.Sort(keys)
	return keys
}

// testUserIndex checks the per-user index through Save, UpdateRecord, Delete,
// expiry and DeleteUser.
func testUserIndex(t *testing.T, s session.Store) {
	u, ok := session.As[session.UserIndexer](s)
	if !ok {
		t.Skip("store does not implement session.UserIndexer")
	}
	save := func(name, uid string, exp time.Time) {
		mustSave(t, s, Key(name), session.Record{Data: []byte(name), Expires: exp, UserID: uid})
	}
	save("a1", "alice", live())
	save("a2", "alice", live())
	save("a3", "alice", live())
	save("b1", "bob", live())
	save("anon", "", live())
	save("a-old", "alice", past())
	if got := sortedKeys(t, u, "alice"); !slices.Equal(got, keysOf("a1", "a2", "a3")) {
		t.Errorf("UserKeys(alice) = %d keys, want a1, a2, a3 (live ones only)", len(got))
	}
	if got := sortedKeys(t, u, "nobody"); len(got) != 0 {
		t.Errorf("UserKeys(nobody) = %v", got)
	}
	if got := sortedKeys(t, u, ""); len(got) != 0 {
		t.Errorf("UserKeys(\"\") lists %d sessions without an owner; \"\" means no owner", len(got))
	}
	// Re-saving under another owner moves the entry; deleting removes it.
	save("a3", "bob", live())
	if err := s.Delete(ctx(t), Key("a2")); err != nil {
		t.Fatal(err)
	}
	if got := sortedKeys(t, u, "alice"); !slices.Equal(got, keysOf("a1")) {
		t.Errorf("after moving a3 and deleting a2: UserKeys(alice) has %d keys, want a1", len(got))
	}
	if got := sortedKeys(t, u, "bob"); !slices.Equal(got, keysOf("a3", "b1")) {
		t.Errorf("UserKeys(bob) has %d keys, want a3, b1", len(got))
	}
	if up, ok := session.As[session.Updater](s); ok {
		err := up.UpdateRecord(ctx(t), Key("a1"), func(cur session.Record, found bool) (session.Record, error) {
			return session.Record{Data: []byte("a1"), Expires: live(), UserID: "carol"}, nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := sortedKeys(t, u, "carol"); !slices.Equal(got, keysOf("a1")) {
			t.Errorf("Update did not move the index entry to carol: %d keys", len(got))
		}
		if got := sortedKeys(t, u, "alice"); len(got) != 0 {
			t.Errorf("Update left %d index entries for alice", len(got))
		}
	}
	n, err := u.DeleteUser(ctx(t), "bob")
	if err != nil || n != 2 {
		t.Fatalf("DeleteUser(bob) = %d, %v; want 2", n, err)
	}
	wantNotFound(t, s, Key("a3"))
	wantNotFound(t, s, Key("b1"))
	mustLoad(t, s, Key("anon"))
	if n, err := u.DeleteUser(ctx(t), "bob"); err != nil || n != 0 {
		t.Errorf("second DeleteUser(bob) = %d, %v; want 0", n, err)
	}
	c := canceled()
	if _, err := u.UserKeys(c, "alice"); !errors.Is(err, context.Canceled) {
		t.Errorf("UserKeys with a canceled context = %v", err)
	}
	if _, err := u.DeleteUser(c, "carol"); !errors.Is(err, context.Canceled) {
		t.Errorf("DeleteUser with a canceled context = %v", err)
	}
}

// testExpiredRanger checks that the expired records not swept yet are
// listed, and only those.
func testExpiredRanger(t *testing.T, s session.Store) {
	r, ok := session.As[session.ExpiredRanger](s)
	if !ok {
		t.Skip("store does not implement session.ExpiredRanger")
	}
	want := map[string]string{}
	for i := range 3 {
		k := Key(fmt.Sprint("expired-listed-", i))
		want[k] = fmt.Sprint("old-", i)
		mustSave(t, s, k, session.Record{Data: []byte(want[k]), Expires: past(), UserID: "u"})
	}
	for i := range 2 {
		mustSave(t, s, Key(fmt.Sprint("live-not-listed-", i)), session.Record{Data: []byte("live"), Expires: live()})
	}
	got := map[string]string{}
	err := r.RangeExpired(ctx(t), func(key string, rec session.Record) bool {
		got[key] = string(rec.Data)
		if rec.UserID != "u" {
			t.Errorf("RangeExpired: %s has UserID %q", key[:8], rec.UserID)
		}
		return true
	})
	if err != nil {
		t.Fatalf("RangeExpired: %v", err)
	}
	wantListed(t, "RangeExpired", "expired", got, want)
	calls := 0
	if err := r.RangeExpired(ctx(t), func(string, session.Record) bool { calls++; return false }); err != nil || calls != 1 {
		t.Errorf("RangeExpired after fn returned false: %d calls, err %v", calls, err)
	}
	c := canceled()
	if err := r.RangeExpired(c, func(string, session.Record) bool { return true }); !errors.Is(err, context.Canceled) {
		t.Errorf("RangeExpired with a canceled context = %v, want context.Canceled", err)
	}
}

func testCounter(t *testing.T, s session.Store) {
	c, ok := session.As[session.Counter](s)
	if !ok {
		t.Skip("not a session.Counter")
	}
	count := func() int {
		t.Helper()
		n, err := c.Count(ctx(t))
		if err != nil {
			t.Fatalf("Count: %v", err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Fatalf("Count of an empty store = %d", n)
	}
	for i := range 5 {
		mustSave(t, s, Key(fmt.Sprint("count", i)), session.Record{Data: []byte("x"), Expires: live()})
	}
	mustSave(t, s, Key("count0"), session.Record{Data: []byte("again"), Expires: live()})
	if n := count(); n != 5 {
		t.Errorf("Count after 5 saves (one twice) = %d", n)
	}
	if err := s.Delete(ctx(t), Key("count1")); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 4 {
		t.Errorf("Count after a delete = %d, want 4", n)
	}
	if _, err := c.Count(canceled()); err == nil {
		t.Error("Count with a canceled context succeeded")
	}
}

func testUserIDLimit(t *testing.T, s session.Store) {
	longest := string(bytes.Repeat([]byte{'u'}, session.MaxUserIDLen))
	k := Key("longest user")
	mustSave(t, s, k, session.Record{Data: []byte("x"), Expires: live(), UserID: longest})
	if got := mustLoad(t, s, k); got.UserID != longest {
		t.Errorf("a user ID of MaxUserIDLen bytes came back as %d bytes", len(got.UserID))
	}
	tooLong := longest + "u"
	k = Key("too long a user")
	err := s.Save(ctx(t), k, session.Record{Data: []byte("x"), Expires: live(), UserID: tooLong})
	if !errors.Is(err, session.ErrUserIDTooLong) {
		t.Errorf("Save with a user ID of %d bytes = %v, want ErrUserIDTooLong", len(tooLong), err)
	}
	wantNotFound(t, s, k)
	u, ok := session.As[session.Updater](s)
	if !ok {
		return
	}
	mustSave(t, s, k, session.Record{Data: []byte("before"), Expires: live(), UserID: "alice"})
	err = u.UpdateRecord(ctx(t), k, func(cur session.Record, _ bool) (session.Record, error) {
		cur.UserID = tooLong
		return cur, nil
	})
	if !errors.Is(err, session.ErrUserIDTooLong) {
		t.Errorf("Update to a user ID of %d bytes = %v, want ErrUserIDTooLong", len(tooLong), err)
	}
	if got := mustLoad(t, s, k); string(got.Data) != "before" || got.UserID != "alice" {
		t.Errorf("a refused Update changed the record to %q of %q", got.Data, got.UserID)
	}
}
