package filestore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/testkit"
)

// TestStore_DeleteExpired lays out one shard per situation and checks what
// a sweep removes and what it keeps.
func TestStore_DeleteExpired(t *testing.T) {
	c := testkit.NewClock(time.Now().Truncate(time.Second))
	s, logs := newTestStore(t, func(o *Options) {
		o.Now = c.Now
		o.TempFileGrace = 10 * time.Minute
	})
	ctx := t.Context()
	live := session.Record{Data: []byte("live"), Expires: c.Now().Add(time.Hour)}
	old := session.Record{Data: []byte("old"), Expires: c.Now().Add(-time.Second)}
	save := func(k string, rec session.Record) {
		t.Helper()
		if err := s.Save(ctx, k, rec); err != nil {
			t.Fatal(err)
		}
	}
	touch := func(shard, name string, content []byte, age time.Duration) {
		t.Helper()
		dir := filepath.Join(s.Dir(), shard)
		if err := os.MkdirAll(dir, dirPerm); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, content, filePerm); err != nil {
			t.Fatal(err)
		}
		mtime := c.Now().Add(-age)
		if err := os.Chtimes(path, mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}

	// 10: expired sessions only: files and directory go.
	expiredOnly := keysInShard("sweep", "10", 3)
	for _, k := range expiredOnly {
		save(k, old)
	}
	// 11: expired and live sessions, and temporary files old and new.
	mixed := keysInShard("sweep", "11", 4)
	save(mixed[0], old)
	save(mixed[1], old)
	save(mixed[2], live)
	save(mixed[3], live)
	touch("11", tmpPrefix+"stale", []byte("half a write"), time.Hour)
	touch("11", tmpPrefix+"fresh", []byte("half a write"), time.Minute)
	// 12: a stale temporary file alone.
	touch("12", tmpPrefix+"alone", nil, time.Hour)
	// 13: corrupt files: a stale one goes, a fresh one and one from a later
	// format version stay.
	corrupt := keysInShard("sweep", "13", 3)
	touch("13", corrupt[0], []byte("garbage"), time.Hour)
	touch("13", corrupt[1], []byte("garbage"), time.Minute)
	future := encodeFile(live.Expires, []byte("from the future"))
	future[4] = formatVersion + 1
	touch("13", corrupt[2], future, time.Hour)
	// 14: left empty by a Delete.
	deleted := keysInShard("sweep", "14", 1)[0]
	save(deleted, live)
	if err := s.Delete(ctx, deleted); err != nil {
		t.Fatal(err)
	}
	// 15: a file the store does not know is kept, with its directory.
	touch("15", "README", []byte("not a session"), time.Hour)
	save(keysInShard("sweep", "15", 1)[0], old)
	// A directory that is not a shard is ignored.
	if err := os.Mkdir(filepath.Join(s.Dir(), "backup"), dirPerm); err != nil {
		t.Fatal(err)
	}

	n, err := s.DeleteExpired(ctx)
	if err != nil || n != 6 {
		t.Fatalf("DeleteExpired = %d, %v; want 6 expired sessions", n, err)
	}
	want := []string{
		".locks",
		"11", "11/" + tmpPrefix + "fresh", "11/" + mixed[2], "11/" + mixed[3],
		"13", "13/" + corrupt[1], "13/" + corrupt[2],
		"15", "15/README",
		"backup",
	}
	got := slices.DeleteFunc(tree(t, s.Dir()), func(p string) bool { return strings.HasPrefix(p, ".locks/") })
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("after the sweep:\n got %v\nwant %v", got, want)
	}
	if !strings.Contains(logs.String(), "removing corrupt session file") {
		t.Errorf("removing a corrupt file was not logged: %s", logs)
	}
	for _, k := range mixed[2:] {
		if _, err := s.Load(ctx, k); err != nil {
			t.Errorf("live session lost: %v", err)
		}
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 0 {
		t.Errorf("second sweep = %d, %v; want 0", n, err)
	}

	// An hour on, the rest has expired, and the fresh debris is stale.
	c.Advance(time.Hour)
	if n, err := s.DeleteExpired(ctx); err != nil || n != 2 {
		t.Fatalf("sweep an hour later = %d, %v; want 2", n, err)
	}
	got = slices.DeleteFunc(tree(t, s.Dir()), func(p string) bool { return strings.HasPrefix(p, ".locks/") })
	want = []string{".locks", "13", "13/" + corrupt[2], "15", "15/README", "backup"}
	if !slices.Equal(got, want) {
		t.Errorf("after the last sweep:\n got %v\nwant %v", got, want)
	}
	// A removed shard is recreated by the next write.
	save(expiredOnly[0], session.Record{Data: []byte("live"), Expires: c.Now().Add(time.Hour)})
	if rec, err := s.Load(ctx, expiredOnly[0]); err != nil || string(rec.Data) != "live" {
		t.Errorf("Load after the shard was swept away = %q, %v", rec.Data, err)
	}
}

// TestStore_DeleteExpired_KeepsRewrittenFile rewrites an expired session
// with a later expiry between the sweeper's header read and its delete: the
// check under the lock keeps it.
func TestStore_DeleteExpired_KeepsRewrittenFile(t *testing.T) {
	c := testkit.NewClock(time.Now())
	s, _ := newTestStore(t, func(o *Options) { o.Now = c.Now })
	ctx := t.Context()
	keys := keysInShard("rewrite", "3a", 2)
	for _, k := range keys {
		if err := s.Save(ctx, k, session.Record{Data: []byte("old"), Expires: c.Now().Add(-time.Minute)}); err != nil {
			t.Fatal(err)
		}
	}
	renewed := session.Record{Data: []byte("renewed"), Expires: c.Now().Add(time.Hour)}
	hooked := 0
	s.hooks.beforeSweepLock = func(shard string) {
		if shard != "3a" {
			return
		}
		hooked++
		if err := s.Save(ctx, keys[0], renewed); err != nil {
			t.Error(err)
		}
	}
	n, err := s.DeleteExpired(ctx)
	if err != nil || n != 1 || hooked != 1 {
		t.Fatalf("DeleteExpired = %d, %v (hook ran %d times); want only the untouched session removed", n, err, hooked)
	}
	if rec, err := s.Load(ctx, keys[0]); err != nil || string(rec.Data) != "renewed" {
		t.Errorf("the rewritten session = %q, %v; want it kept", rec.Data, err)
	}
	if _, err := s.Load(ctx, keys[1]); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("the expired session = %v, want it removed", err)
	}
}

// TestStore_DeleteExpired_RacesWriters sweeps in a loop while writers keep
// filling and emptying one shard: the sweeper removes the shard directory
// whenever it is empty, and no write fails or is lost.
func TestStore_DeleteExpired_RacesWriters(t *testing.T) {
	s, _ := newTestStore(t, func(o *Options) { o.NoSync = true })
	ctx := t.Context()
	keys := keysInShard("race", "5e", 2)
	stopSweeping := sweepInLoop(t, s)
	var wg sync.WaitGroup
	for w, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				data := []byte(fmt.Sprint(w, "-", i))
				if err := s.Save(ctx, k, session.Record{Data: data, Expires: time.Now().Add(time.Hour)}); err != nil {
					t.Errorf("Save: %v", err)
					return
				}
				if rec, err := s.Load(ctx, k); err != nil || string(rec.Data) != string(data) {
					t.Errorf("Load = %q, %v; want %q", rec.Data, err, data)
					return
				}
				if err := s.Delete(ctx, k); err != nil {
					t.Errorf("Delete: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if stopSweeping() == 0 {
		t.Error("the sweeper never ran")
	}
}

// sweepInLoop runs DeleteExpired over and over in the background until the
// returned stop is called. stop waits for the sweep under way, fails t if
// any sweep failed, and returns how many sweeps ran.
func sweepInLoop(t *testing.T, s *Store) (stop func() int) {
	t.Helper()
	ctx := t.Context()
	quit := make(chan struct{})
	var sweeps int
	var sweepErr error
	var sweeper sync.WaitGroup
	sweeper.Go(func() {
		for {
			select {
			case <-quit:
				return
			default:
			}
			if _, err := s.DeleteExpired(ctx); err != nil {
				sweepErr = err
				return
			}
			sweeps++
		}
	})
	return func() int {
		t.Helper()
		close(quit)
		sweeper.Wait()
		if sweepErr != nil {
			t.Fatal(sweepErr)
		}
		return sweeps
	}
}
