package djangosession_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangosession"
	"github.com/sessionkv/session/storetest"
)

// clock is a settable clock for Settings.Now.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock {
	c := &clock{}
	c.set(t)
	return c
}

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()) }
func (c *clock) set(t time.Time)     { c.ns.Store(t.UnixNano()) }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }

// sessionPath is the file of a session, named as Django's file backend
// names it with the default cookie name.
func sessionPath(fs *djangosession.FileStore, key string) string {
	return filepath.Join(fs.Dir(), "sessionid"+key)
}

func newFileStore(t *testing.T, st *djangosession.Settings, opts *djangosession.FileStoreOptions) *djangosession.FileStore {
	t.Helper()
	fs, err := djangosession.NewFileStore(t.TempDir(), st, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fs.Close() })
	return fs
}

// writeSession writes Django session data for values as the file of key,
// modified at mtime.
func writeSession(t *testing.T, fs *djangosession.FileStore, st *djangosession.Settings, key string, values map[string]any, mtime time.Time) {
	t.Helper()
	data, err := st.EncodeSession(values)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, sessionPath(fs, key), data, mtime)
}

func writeFile(t *testing.T, path, data string, mtime time.Time) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

func newDjangoEngine(t *testing.T, st *djangosession.Settings, store session.Store) *session.Engine {
	t.Helper()
	o := session.DefaultOptions()
	st.Options(o)
	o.SweepInterval = -1
	e, err := session.New(store, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// TestFileStore_Engine runs the engine over a FileStore: each session is
// one file of Django's session data, named as Django names it.
func TestFileStore_Engine(t *testing.T) {
	ctx := context.Background()
	st := &djangosession.Settings{SecretKey: "django-insecure-files"}
	fs := newFileStore(t, st, nil)
	e := newDjangoEngine(t, st, fs)

	s, _ := e.Load(ctx, "")
	s.Set("name", "Sonam")
	s.Set(djangosession.UserIDKey, "42")
	s.SetMaxAge(time.Hour)
	if err := e.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	id := s.ID()
	path := filepath.Join(fs.Dir(), "sessionid"+id)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no file named as Django's: %v", err)
	}
	values, err := st.DecodeSession(string(data))
	if err != nil || canonical(t, values) != `{"_auth_user_id":"42","_session_expiry":3600,"name":"Sonam"}` {
		t.Fatalf("file holds %s (%v)", data, err)
	}
	if fi, _ := os.Stat(path); runtime.GOOS != "windows" && fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, want 0600", fi.Mode().Perm())
	}
	rec, err := fs.Load(ctx, id)
	if err != nil || rec.UserID != "42" || string(rec.Data) != string(data) {
		t.Fatalf("Load = %+v, %v", rec, err)
	}
	fi, _ := os.Stat(path)
	if want := fi.ModTime().Add(time.Hour); rec.Expires.Sub(want).Abs() > time.Microsecond {
		t.Errorf("Expires = %v, want mtime + 1h = %v", rec.Expires, want)
	}

	// Two requests change different keys: both survive (UpdateRecord merges).
	a, _ := e.Load(ctx, id)
	b, _ := e.Load(ctx, id)
	a.Set("a", 1)
	b.Set("b", 2)
	if err := e.Save(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := e.Save(ctx, b); err != nil {
		t.Fatal(err)
	}
	got, _ := e.Load(ctx, id)
	if !got.Has("a") || !got.Has("b") || got.ExpiryAge() != time.Hour || got.UserID() != "42" {
		t.Errorf("after two saves: %v, age %v, owner %q", maps.Collect(got.Items()), got.ExpiryAge(), got.UserID())
	}

	// CycleKey moves the file; Flush removes it, and a late save of an
	// older copy does not bring it back.
	if err := got.CycleKey(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("old file after CycleKey: %v", err)
	}
	if _, err := os.Stat(sessionPath(fs, got.ID())); err != nil {
		t.Errorf("new file after CycleKey: %v", err)
	}
	stale, _ := e.Load(ctx, got.ID())
	stale.Get("name")
	if err := got.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	stale.Set("late", true)
	if err := e.Save(ctx, stale); !errors.Is(err, session.ErrSessionInterrupted) {
		t.Errorf("save after Flush = %v, want ErrSessionInterrupted", err)
	}
	if n, _ := fs.Count(ctx); n != 0 {
		t.Errorf("%d files left", n)
	}
}

func TestFileStore_Keys(t *testing.T) {
	ctx := context.Background()
	st := &djangosession.Settings{SecretKey: "k"}
	fs := newFileStore(t, st, nil)
	data := must(st.EncodeSession(map[string]any{"a": 1}))
	rec := session.Record{Data: []byte(data), Expires: time.Now().Add(time.Hour)}
	for _, key := range []string{"", "short", "ABCDEFGHIJ", "../../../../etc/passwd", "abcdefgh/ij", "abcdefgh\x00", "abcdefgh_out_x", strings.Repeat("a", 129), "abcdéfghij"} {
		if _, err := fs.Load(ctx, key); !errors.Is(err, session.ErrNotFound) || !errors.Is(err, djangosession.ErrInvalidKey) {
			t.Errorf("Load(%q) = %v; want ErrNotFound and ErrInvalidKey", key, err)
		}
		if err := fs.Save(ctx, key, rec); !errors.Is(err, djangosession.ErrInvalidKey) {
			t.Errorf("Save(%q) = %v", key, err)
		}
		if err := fs.Delete(ctx, key); !errors.Is(err, djangosession.ErrInvalidKey) {
			t.Errorf("Delete(%q) = %v", key, err)
		}
		err := fs.UpdateRecord(ctx, key, func(session.Record, bool) (session.Record, error) {
			t.Errorf("UpdateRecord(%q) called fn", key)
			return rec, nil
		})
		if !errors.Is(err, djangosession.ErrInvalidKey) {
			t.Errorf("UpdateRecord(%q) = %v", key, err)
		}
	}
	// Keys Django's file backend accepts: 8 or more of [a-z0-9].
	for _, key := range []string{"abcdefgh", strings.Repeat("z9", 64), djangosession.NewSessionKey(), storetest.Key("x")} {
		if err := fs.Save(ctx, key, rec); err != nil {
			t.Errorf("Save(%q): %v", key, err)
		}
		if _, err := fs.Load(ctx, key); err != nil {
			t.Errorf("Load(%q): %v", key, err)
		}
	}
	entries, _ := os.ReadDir(fs.Dir())
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if len(names) != 5 { // four sessions and the lock directory
		t.Errorf("directory holds %v", names)
	}
}

func TestFileStore_ForeignData(t *testing.T) {
	ctx := context.Background()
	st := &djangosession.Settings{SecretKey: "k"}
	fs := newFileStore(t, st, nil)
	key := djangosession.NewSessionKey()
	live := time.Now().Add(time.Hour)
	for what, data := range map[string]string{
		"msgpack":     "\x81\xa1a\x01",
		"empty":       "",
		"cookie salt": must(st.EncodeCookie(map[string]any{"a": 1})),
		"other key":   must((&djangosession.Settings{SecretKey: "other"}).EncodeSession(map[string]any{"a": 1})),
	} {
		if err := fs.Save(ctx, key, session.Record{Data: []byte(data), Expires: live}); !errors.Is(err, djangosession.ErrForeignData) {
			t.Errorf("%s: Save = %v, want ErrForeignData", what, err)
		}
	}
	if _, err := os.Stat(sessionPath(fs, key)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused record was written: %v", err)
	}
	// A fallback key signs what the store still reads.
	rotated := &djangosession.Settings{SecretKey: "new", SecretKeyFallbacks: []string{"k"}}
	fs2, err := djangosession.NewFileStore(fs.Dir(), rotated, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer fs2.Close()
	if err := fs.Save(ctx, key, session.Record{Data: []byte(must(st.EncodeSession(map[string]any{"a": 1}))), Expires: live}); err != nil {
		t.Fatal(err)
	}
	if _, err := fs2.Load(ctx, key); err != nil {
		t.Errorf("rotated key, old one a fallback: %v", err)
	}
	long := strings.Repeat("x", session.MaxUserIDLen+1)
	if err := fs.Save(ctx, key, session.Record{Data: []byte(must(st.EncodeSession(nil))), Expires: live, UserID: long}); !errors.Is(err, session.ErrUserIDTooLong) {
		t.Errorf("long user ID: %v", err)
	}
}

// TestFileStore_Expiry checks the expiry rules of Django's file backend
// with a fixed clock and chosen modification times.
func TestFileStore_Expiry(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	clk := newClock(now)
	const age = 3600 * time.Second
	st := &djangosession.Settings{SecretKey: "k", SessionCookieAge: age, Now: clk.now}
	fs := newFileStore(t, st, nil)
	cases := []struct {
		name    string
		values  map[string]any
		mtime   time.Time
		expires time.Time // zero: not loaded
		loaded  bool
	}{
		{"default, fresh", map[string]any{}, now.Add(-time.Minute), now.Add(-time.Minute + age), true},
		{"default, a second left", map[string]any{}, now.Add(-age + time.Second), now.Add(time.Second), true},
		{"default, under a second left", map[string]any{}, now.Add(-age + 999*time.Millisecond), now.Add(999 * time.Millisecond), false},
		{"default, past", map[string]any{}, now.Add(-2 * age), now.Add(-age), false},
		{"browser close", map[string]any{djangosession.ExpiryKey: 0}, now.Add(-time.Minute), now.Add(-time.Minute + age), true},
		{"browser close, past", map[string]any{djangosession.ExpiryKey: 0}, now.Add(-2 * age), now.Add(-age), false},
		{"max age", map[string]any{djangosession.ExpiryKey: 300}, now.Add(-299 * time.Second), now.Add(time.Second), true},
		{"max age, past", map[string]any{djangosession.ExpiryKey: 300}, now.Add(-301 * time.Second), now.Add(-time.Second), false},
		{"max age beyond the cookie age", map[string]any{djangosession.ExpiryKey: 7200}, now.Add(-5000 * time.Second), now.Add(2200 * time.Second), true},
		{"negative max age", map[string]any{djangosession.ExpiryKey: -1}, now, now.Add(-time.Second), false},
		{"at", map[string]any{djangosession.ExpiryKey: "2026-05-01T13:00:00+00:00"}, now.Add(-10 * age), now.Add(time.Hour), true},
		{"at, passed", map[string]any{djangosession.ExpiryKey: "2026-05-01T11:59:59.500000+00:00"}, now, now.Add(-500 * time.Millisecond), false},
		{"at, naive", map[string]any{djangosession.ExpiryKey: "2026-05-01T12:30:00"}, now, now.Add(30 * time.Minute), true},
	}
	for i, c := range cases {
		key := fmt.Sprintf("expiry%04d", i)
		writeSession(t, fs, st, key, c.values, c.mtime)
		rec, err := fs.Load(ctx, key)
		if c.loaded != (err == nil) {
			t.Errorf("%s: Load = %v, want loaded %v", c.name, err, c.loaded)
		}
		if err != nil && !errors.Is(err, session.ErrNotFound) {
			t.Errorf("%s: %v, want ErrNotFound", c.name, err)
		}
		if err == nil && !rec.Expires.Equal(c.expires) {
			t.Errorf("%s: Expires %v, want %v", c.name, rec.Expires, c.expires)
		}
	}
	// Range and RangeExpired split them the same way.
	live, expired := map[string]time.Time{}, map[string]time.Time{}
	if err := fs.Range(ctx, func(k string, r session.Record) bool { live[k] = r.Expires; return true }); err != nil {
		t.Fatal(err)
	}
	if err := fs.RangeExpired(ctx, func(k string, r session.Record) bool { expired[k] = r.Expires; return true }); err != nil {
		t.Fatal(err)
	}
	for i, c := range cases {
		key := fmt.Sprintf("expiry%04d", i)
		exp, inLive := live[key]
		if !inLive {
			exp = expired[key]
		}
		if inLive != c.loaded || !exp.Equal(c.expires) {
			t.Errorf("%s: listed live %v expiring %v", c.name, inLive, exp)
		}
	}
	if len(live)+len(expired) != len(cases) {
		t.Errorf("listed %d + %d of %d", len(live), len(expired), len(cases))
	}

	// Corrupt and empty files are no sessions.
	writeFile(t, sessionPath(fs, "corruptfile"), "garbage:1:2", now)
	if _, err := fs.Load(ctx, "corruptfile"); !errors.Is(err, session.ErrCorrupt) {
		t.Errorf("corrupt file: %v, want ErrCorrupt", err)
	}
	writeFile(t, sessionPath(fs, "emptyfile"), "", now)
	if _, err := fs.Load(ctx, "emptyfile"); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("empty file: %v, want ErrNotFound", err)
	}
	if err := os.Mkdir(sessionPath(fs, "adirectory"), 0o700); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Load(ctx, "adirectory"); !errors.Is(err, session.ErrCorrupt) {
		t.Errorf("a directory: %v, want ErrCorrupt", err)
	}
	n, _ := fs.Count(ctx)
	if want := len(cases) + 2; n != want {
		t.Errorf("Count = %d, want %d (files, not directories)", n, want)
	}
}

// TestFileStore_Sweep checks DeleteExpired: expired sessions, old corrupt
// and empty files and old temporary files go; the rest stays.
func TestFileStore_Sweep(t *testing.T) {
	ctx := context.Background()
	now := time.Now()
	clk := newClock(now)
	const age = time.Hour
	st := &djangosession.Settings{SecretKey: "k", SessionCookieAge: age, Now: clk.now}
	fs := newFileStore(t, st, &djangosession.FileStoreOptions{TempFileGrace: 10 * time.Minute})
	old := now.Add(-2 * age)
	writeSession(t, fs, st, "livesession", map[string]any{}, now)
	writeSession(t, fs, st, "oldsession1", map[string]any{}, old)
	writeSession(t, fs, st, "oldsession2", map[string]any{djangosession.ExpiryKey: 60}, now.Add(-61*time.Second))
	writeSession(t, fs, st, "livesession2", map[string]any{djangosession.ExpiryKey: "2099-01-01T00:00:00+00:00"}, old)
	writeFile(t, sessionPath(fs, "oldcorrupt"), "garbage", old)
	writeFile(t, sessionPath(fs, "newcorrupt"), "garbage", now)
	writeFile(t, sessionPath(fs, "oldempty1"), "", old)
	writeFile(t, sessionPath(fs, "newempty1"), "", now)
	writeFile(t, sessionPath(fs, "abcdefgh")+"_out_old", "x", now.Add(-11*time.Minute))
	writeFile(t, sessionPath(fs, "abcdefgh")+"_out_new", "x", now)
	writeFile(t, filepath.Join(fs.Dir(), "notes.txt"), "mine", old)
	writeFile(t, filepath.Join(fs.Dir(), "sessionidUPPERCASE"), "x", old)

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := fs.DeleteExpired(canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	n, err := fs.DeleteExpired(ctx)
	if err != nil || n != 4 {
		t.Errorf("DeleteExpired = %d, %v; want 4", n, err)
	}
	entries, _ := os.ReadDir(fs.Dir())
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	want := []string{".djangosession-locks", "notes.txt", "sessionidUPPERCASE", "sessionidabcdefgh_out_new", "sessionidlivesession", "sessionidlivesession2", "sessionidnewcorrupt", "sessionidnewempty1"}
	if !slices.Equal(names, want) {
		t.Errorf("left\n%v\nwant\n%v", names, want)
	}
	if n, err := fs.DeleteExpired(ctx); n != 0 || err != nil {
		t.Errorf("second sweep = %d, %v", n, err)
	}
}

func TestFileStore_New(t *testing.T) {
	dir := t.TempDir()
	if _, err := djangosession.NewFileStore(dir, &djangosession.Settings{}, nil); !errors.Is(err, djangosession.ErrNoKey) {
		t.Errorf("no key: %v", err)
	}
	if _, err := djangosession.NewFileStore(dir, nil, nil); !errors.Is(err, djangosession.ErrNoKey) {
		t.Errorf("nil settings: %v", err)
	}
	if _, err := djangosession.NewFileStore("", &djangosession.Settings{SecretKey: "k"}, nil); err == nil {
		t.Error("no directory: no error")
	}
	for _, name := range []string{"a/b", `a\b`, "a b", "a;b", strings.Repeat("n", 101)} {
		if _, err := djangosession.NewFileStore(dir, &djangosession.Settings{SecretKey: "k", SessionCookieName: name}, nil); err == nil {
			t.Errorf("cookie name %q accepted", name)
		}
	}
	// Another cookie name, another prefix.
	st := &djangosession.Settings{SecretKey: "k", SessionCookieName: "my_sid"}
	fs, err := djangosession.NewFileStore(filepath.Join(dir, "new", "sub"), st, nil)
	if err != nil {
		t.Fatalf("missing directory not created: %v", err)
	}
	defer fs.Close()
	if fi, err := os.Stat(fs.Dir()); err != nil || runtime.GOOS != "windows" && fi.Mode().Perm() != 0o700 {
		t.Errorf("created directory: %v, %v", fi.Mode(), err)
	}
	data := must(st.EncodeSession(map[string]any{"a": 1}))
	if err := fs.Save(context.Background(), "abcdefgh", session.Record{Data: []byte(data), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(fs.Dir(), "my_sidabcdefgh")); err != nil {
		t.Errorf("not named after the cookie: %v", err)
	}
	if !strings.Contains(fs.String(), fs.Dir()) {
		t.Errorf("String() = %s", fs.String())
	}
}

func TestFileStore_Location(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no Unix permissions")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	st := &djangosession.Settings{SecretKey: "k"}
	if _, err := djangosession.NewFileStore(dir, st, nil); !errors.Is(err, session.ErrUnsafeLocation) {
		t.Fatalf("world-writable directory: %v, want ErrUnsafeLocation", err)
	}
	var warned strings.Builder
	log := slog.New(slog.NewTextHandler(&warned, nil))
	fs, err := djangosession.NewFileStore(dir, st, &djangosession.FileStoreOptions{AllowSharedLocation: true, Logger: log})
	if err != nil {
		t.Fatalf("AllowSharedLocation: %v", err)
	}
	fs.Close()
	if !strings.Contains(warned.String(), "shared location") {
		t.Errorf("no warning logged: %q", warned.String())
	}
}

func TestFileStore_Close(t *testing.T) {
	ctx := context.Background()
	st := &djangosession.Settings{SecretKey: "k"}
	fs := newFileStore(t, st, nil)
	if err := fs.Close(); err != nil {
		t.Fatal(err)
	}
	if err := fs.Close(); err != nil {
		t.Fatal(err)
	}
	rec := session.Record{Data: []byte(must(st.EncodeSession(nil))), Expires: time.Now().Add(time.Hour)}
	for what, err := range map[string]error{
		"Load":   func() error { _, err := fs.Load(ctx, "abcdefgh"); return err }(),
		"Save":   fs.Save(ctx, "abcdefgh", rec),
		"Delete": fs.Delete(ctx, "abcdefgh"),
		"Range":  fs.Range(ctx, func(string, session.Record) bool { return true }),
		"Sweep":  func() error { _, err := fs.DeleteExpired(ctx); return err }(),
	} {
		if !errors.Is(err, session.ErrClosed) {
			t.Errorf("%s after Close: %v", what, err)
		}
	}
}

// TestFileStore_ConcurrentUpdates has two stores on one directory, as two
// processes would, increment one counter through UpdateRecord: the lock
// files make every read-modify-write atomic.
func TestFileStore_ConcurrentUpdates(t *testing.T) {
	t.Parallel()
	st := &djangosession.Settings{SecretKey: "k"}
	a := newFileStore(t, st, &djangosession.FileStoreOptions{NoSync: true})
	b, err := djangosession.NewFileStore(a.Dir(), st, &djangosession.FileStoreOptions{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	codec := st.SessionCodec()
	key := djangosession.NewSessionKey()
	const workers, each = 8, 20
	var wg sync.WaitGroup
	for w := range workers {
		store := a
		if w%2 == 1 {
			store = b
		}
		wg.Go(func() {
			for range each {
				err := store.UpdateRecord(context.Background(), key, func(cur session.Record, found bool) (session.Record, error) {
					n := int64(0)
					if found {
						values, _, err := codec.DecodeRecord(cur.Data)
						if err != nil {
							return session.Record{}, err
						}
						n = values["n"].(int64)
					}
					data, err := codec.EncodeRecord(nil, map[string]any{"n": n + 1}, session.Expiry{})
					return session.Record{Data: data, Expires: time.Now().Add(time.Hour)}, err
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	rec, err := a.Load(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	values, _, _ := codec.DecodeRecord(rec.Data)
	if values["n"] != int64(workers*each) {
		t.Errorf("n = %v, want %d: UpdateRecord is not atomic", values["n"], workers*each)
	}
}

// TestFileStore_Conformance runs storetest on a FileStore. The suite saves
// arbitrary bytes with arbitrary expiries and owners, which a FileStore
// works out from Django session data instead of storing them; so it runs
// through recordStore, which carries each record in a Django session:
// the bytes in base64, Expires as the session's set_expiry(datetime) and
// UserID as its _auth_user_id. Every call reaches the FileStore, whose
// expiry, owner, locking, sweeping, listing and counting are what the
// suite checks.
func TestFileStore_Conformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, func(t *testing.T) session.Store {
		// The suite saves 1 MiB records, 1.33 MiB in base64.
		st := &djangosession.Settings{SecretKey: "conformance", MaxPayload: 2 << 20}
		return &recordStore{fs: newFileStore(t, st, &djangosession.FileStoreOptions{NoSync: true}), codec: st.SessionCodec()}
	})
}

// recordStore carries arbitrary records in Django session data through a
// FileStore.
type recordStore struct {
	fs    *djangosession.FileStore
	codec djangosession.SessionCodec
}

func (r *recordStore) wrap(rec session.Record) (session.Record, error) {
	values := map[string]any{"data": base64.StdEncoding.EncodeToString(rec.Data)}
	if rec.UserID != "" {
		values[djangosession.UserIDKey] = rec.UserID
	}
	data, err := r.codec.EncodeRecord(nil, values, session.Expiry{Kind: session.ExpiryAt, At: rec.Expires})
	return session.Record{Data: data, Expires: rec.Expires, UserID: rec.UserID}, err
}

func (r *recordStore) unwrap(rec session.Record) (session.Record, error) {
	values, _, err := r.codec.DecodeRecord(rec.Data)
	if err != nil {
		return rec, err
	}
	s, _ := values["data"].(string)
	data, err := base64.StdEncoding.DecodeString(s)
	return session.Record{Data: data, Expires: rec.Expires, UserID: rec.UserID}, err
}

func (r *recordStore) Load(ctx context.Context, key string) (session.Record, error) {
	rec, err := r.fs.Load(ctx, key)
	if err != nil {
		return rec, err
	}
	return r.unwrap(rec)
}

func (r *recordStore) Save(ctx context.Context, key string, rec session.Record) error {
	w, err := r.wrap(rec)
	if err != nil {
		return err
	}
	return r.fs.Save(ctx, key, w)
}

func (r *recordStore) Delete(ctx context.Context, key string) error { return r.fs.Delete(ctx, key) }

func (r *recordStore) UpdateRecord(ctx context.Context, key string, fn session.UpdateFunc) error {
	return r.fs.UpdateRecord(ctx, key, func(cur session.Record, found bool) (session.Record, error) {
		if found {
			var err error
			if cur, err = r.unwrap(cur); err != nil {
				return session.Record{}, err
			}
		}
		next, err := fn(cur, found)
		if err != nil {
			return next, err
		}
		return r.wrap(next)
	})
}

func (r *recordStore) DeleteExpired(ctx context.Context) (int, error) { return r.fs.DeleteExpired(ctx) }
func (r *recordStore) Count(ctx context.Context) (int, error)         { return r.fs.Count(ctx) }
func (r *recordStore) Close() error                                   { return r.fs.Close() }

func (r *recordStore) Range(ctx context.Context, fn func(string, session.Record) bool) error {
	return r.fs.Range(ctx, r.unwrapping(fn))
}

func (r *recordStore) RangeExpired(ctx context.Context, fn func(string, session.Record) bool) error {
	return r.fs.RangeExpired(ctx, r.unwrapping(fn))
}

func (r *recordStore) unwrapping(fn func(string, session.Record) bool) func(string, session.Record) bool {
	return func(key string, rec session.Record) bool {
		rec, err := r.unwrap(rec)
		if err != nil {
			panic(err)
		}
		return fn(key, rec)
	}
}

// TestFileStore_ManyWriters saves and deletes many sessions from several
// goroutines while others load and range: every load sees a whole file.
func TestFileStore_ManyWriters(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := &djangosession.Settings{SecretKey: "k"}
	fs := newFileStore(t, st, &djangosession.FileStoreOptions{NoSync: true})
	keys := make([]string, 16)
	for i := range keys {
		keys[i] = "key" + strconv.Itoa(100000+i)
	}
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 4 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				for _, k := range keys {
					if _, err := fs.Load(ctx, k); err != nil && !errors.Is(err, session.ErrNotFound) {
						t.Errorf("Load: %v", err)
						return
					}
				}
				if err := fs.Range(ctx, func(string, session.Record) bool { return true }); err != nil {
					t.Errorf("Range: %v", err)
					return
				}
			}
		})
	}
	var writers sync.WaitGroup
	for w := range 4 {
		writers.Go(func() {
			for i := range 50 {
				k := keys[(w*7+i)%len(keys)]
				if i%5 == 4 {
					if err := fs.Delete(ctx, k); err != nil {
						t.Error(err)
					}
					continue
				}
				data := must(st.EncodeSession(map[string]any{"w": w, "i": i, "pad": strings.Repeat("x", i*100)}))
				if err := fs.Save(ctx, k, session.Record{Data: []byte(data), Expires: time.Now().Add(time.Hour)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	writers.Wait()
	close(stop)
	readers.Wait()
	entries, _ := os.ReadDir(fs.Dir())
	for _, e := range entries {
		if strings.Contains(e.Name(), "_out_") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}
