package sqlstore_test

// Attacks on the store, as a hostile client and as an unlucky operator:
// keys and user IDs the engines disagree on, extreme expiries, URL
// parameters that change how SQLite opens the file, symbolic links,
// tables someone else made, races between writers, a lock held by another
// process, damaged files and a full disk. Each test names what must hold.

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/sqlstore"
	"github.com/sessionkv/session/sqlstore/sqltest"
	"github.com/sessionkv/session/storetest"
)

// atkEngine is one of the three engines an attack runs on.
type atkEngine struct {
	name string
	// url returns the URL of a fresh, empty database.
	url func(t *testing.T) string
}

func atkEngines() []atkEngine {
	es := []atkEngine{{"SQLite", func(t *testing.T) string {
		return "sqlite:" + filepath.Join(t.TempDir(), "db.sqlite3")
	}}}
	for _, e := range engines {
		es = append(es, atkEngine{e.name, func(t *testing.T) string { return e.shared(t).NewDatabase(t) }})
	}
	return es
}

// onEach runs fn on each engine, in parallel subtests.
func onEach(t *testing.T, fn func(t *testing.T, url string)) {
	for _, e := range atkEngines() {
		t.Run(e.name, func(t *testing.T) {
			t.Parallel()
			fn(t, e.url(t))
		})
	}
}

func hour() time.Time { return time.Now().Add(time.Hour) }

// TestAttack_HostileKeys: keys that are not store keys, and that the
// engines would store differently (MySQL's PAD SPACE collation makes "k"
// and "k " one key, PostgreSQL refuses a NUL or invalid UTF-8, MySQL
// without strict mode truncates long keys and turns non-ASCII into "?",
// an empty key escapes Range), are refused by every method with
// ErrInvalidKey, before anything is read or written; the update function
// is never called. The keys that are accepted stay distinct.
func TestAttack_HostileKeys(t *testing.T) {
	bad := []string{"", strings.Repeat("a", 256), strings.Repeat("a", 4096), "k\x00x", "k\xff", "é", "k ", " k", "a b", "k\n", "k\t", "\x7f"}
	onEach(t, func(t *testing.T, url string) {
		s := openURL(t, url, nil)
		ctx := t.Context()
		for _, k := range bad {
			if err := s.Save(ctx, k, session.Record{Data: []byte("x"), Expires: hour()}); !errors.Is(err, sqlstore.ErrInvalidKey) {
				t.Errorf("Save(%q) = %v; want ErrInvalidKey", k, err)
			}
			if _, err := s.Load(ctx, k); !errors.Is(err, sqlstore.ErrInvalidKey) {
				t.Errorf("Load(%q) = %v; want ErrInvalidKey", k, err)
			}
			if err := s.Delete(ctx, k); !errors.Is(err, sqlstore.ErrInvalidKey) {
				t.Errorf("Delete(%q) = %v; want ErrInvalidKey", k, err)
			}
			called := false
			err := s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) {
				called = true
				return session.Record{Data: []byte("x"), Expires: hour()}, nil
			})
			if !errors.Is(err, sqlstore.ErrInvalidKey) || called {
				t.Errorf("UpdateRecord(%q) = %v, called %v; want ErrInvalidKey, not called", k, err, called)
			}
			if err != nil && strings.Contains(err.Error(), k) && len(k) > 2 {
				t.Errorf("the error echoes the key: %.80s", err)
			}
		}
		if n, err := s.Count(ctx); err != nil || n != 0 {
			t.Fatalf("Count after refused writes = %d, %v; want 0", n, err)
		}
		// Accepted keys, some a collation would fold together, stay
		// distinct.
		good := []string{"k", "K", "k~", strings.Repeat("z", 255), strings.Repeat("z", 254) + "y", "!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", storetest.Key("x")}
		for i, k := range good {
			mustSave(t, s, k, session.Record{Data: []byte(strconv.Itoa(i)), Expires: hour()})
		}
		for i, k := range good {
			rec, err := s.Load(ctx, k)
			if err != nil || string(rec.Data) != strconv.Itoa(i) {
				t.Errorf("Load(%.20q) = %q, %v; want %d", k, rec.Data, err, i)
			}
		}
		seen := map[string]bool{}
		if err := s.Range(ctx, func(k string, _ session.Record) bool { seen[k] = true; return true }); err != nil {
			t.Fatal(err)
		}
		if len(seen) != len(good) {
			t.Errorf("Range listed %d keys; want %d", len(seen), len(good))
		}
	})
}

// TestAttack_MySQLWithoutStrictMode: through New, a MySQL connection
// whose sql_mode is not strict (as on old servers) would truncate keys
// and replace bytes silently; the keys that would collide there are
// refused before they reach it.
func TestAttack_MySQLWithoutStrictMode(t *testing.T) {
	srv := sqltest.SharedMySQL(t)
	db, err := sql.Open("mysql", srv.DSN(srv.CreateDatabase(t))+"?clientFoundRows=true&sql_mode=''")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := sqlstore.New(db, sqlstore.MySQL, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	long := strings.Repeat("a", 255)
	mustSave(t, s, long, session.Record{Data: []byte("mine"), Expires: hour()})
	for _, k := range []string{long + "b", "é", "\xe9"} {
		if err := s.Save(ctx, k, session.Record{Data: []byte("theirs"), Expires: hour()}); !errors.Is(err, sqlstore.ErrInvalidKey) {
			t.Errorf("Save(%.8q...) on a non-strict MySQL = %v; want ErrInvalidKey", k, err)
		}
	}
	if rec, err := s.Load(ctx, long); err != nil || string(rec.Data) != "mine" {
		t.Fatalf("the 255-byte key's record = %q, %v; want \"mine\"", rec.Data, err)
	}
}

// farPastThatWraps returns an instant hundreds of millions of years ago
// whose Unix milliseconds, computed in an int64 without care, wrap around
// to about an hour from now.
func farPastThatWraps() time.Time {
	// 2^64 = 18446744073709551616: sec·1000 wraps to 1000·q + 616 when
	// sec = q - 18446744073709551.
	q := time.Now().Add(time.Hour).Unix()
	return time.Unix(q-18446744073709551, 0)
}

// TestAttack_ExtremeExpiry: expiries beyond what Unix milliseconds in an
// int64 hold are clamped, never wrapped: one in the far future stays live
// (it did vanish at once), one in the far past stays expired (it did come
// back to life), on Save and UpdateRecord alike. The zero Time and the
// year 9999 behave.
func TestAttack_ExtremeExpiry(t *testing.T) {
	onEach(t, func(t *testing.T, url string) {
		s := openURL(t, url, nil)
		ctx := t.Context()
		year9999 := time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)
		for _, tc := range []struct {
			name string
			exp  time.Time
			live bool
		}{
			{"far future", time.Unix(1<<62, 0), true},
			{"max time", time.Unix(math.MaxInt64-62135596800, 999999999), true},
			{"year 9999", year9999, true},
			{"far past that wraps", farPastThatWraps(), false},
			{"min time", time.Unix(math.MinInt64, 0), false},
			{"zero", time.Time{}, false},
		} {
			for _, via := range []string{"Save", "UpdateRecord"} {
				k := storetest.Key(tc.name + via)
				rec := session.Record{Data: []byte(tc.name), Expires: tc.exp}
				if via == "Save" {
					mustSave(t, s, k, rec)
				} else if err := s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) { return rec, nil }); err != nil {
					t.Fatalf("%s: UpdateRecord: %v", tc.name, err)
				}
				got, err := s.Load(ctx, k)
				switch {
				case tc.live && err != nil:
					t.Errorf("%s via %s: Load = %v; want the record", tc.name, via, err)
				case tc.live && got.Expires.Before(year9999):
					t.Errorf("%s via %s: Expires came back as %v", tc.name, via, got.Expires)
				case !tc.live && !errors.Is(err, session.ErrNotFound):
					t.Errorf("%s via %s: Load = %q, %v; want ErrNotFound", tc.name, via, got.Data, err)
				}
			}
		}
		if got, err := s.Load(ctx, storetest.Key("year 9999Save")); err != nil || !got.Expires.Equal(year9999) {
			t.Errorf("year 9999 came back as %v, %v", got.Expires, err)
		}
	})
}

// TestAttack_UserIDs: user IDs are bytes: a NUL, invalid UTF-8, a
// trailing space or NUL (which a padding collation would ignore) make
// distinct users; 1 KiB is accepted and one byte more is
// ErrUserIDTooLong, from Save and UpdateRecord, with nothing written.
func TestAttack_UserIDs(t *testing.T) {
	onEach(t, func(t *testing.T, url string) {
		s := openURL(t, url, nil)
		ctx := t.Context()
		users := []string{"u", "u ", "u\x00", "\x00u", "u\xff\xfe", "U", strings.Repeat("\xff", session.MaxUserIDLen)}
		for i, u := range users {
			mustSave(t, s, storetest.Key(strconv.Itoa(i)), session.Record{Data: []byte("x"), Expires: hour(), UserID: u})
		}
		for i, u := range users {
			keys, err := s.UserKeys(ctx, u)
			if err != nil || len(keys) != 1 || keys[0] != storetest.Key(strconv.Itoa(i)) {
				t.Errorf("UserKeys(%.8q) = %v, %v; want only its own key", u, keys, err)
			}
			rec, err := s.Load(ctx, storetest.Key(strconv.Itoa(i)))
			if err != nil || rec.UserID != u {
				t.Errorf("Load: UserID %.8q, %v; want %.8q", rec.UserID, err, u)
			}
		}
		if n, err := s.DeleteUser(ctx, "u\x00"); err != nil || n != 1 {
			t.Errorf("DeleteUser(u NUL) = %d, %v; want 1", n, err)
		}
		if keys, _ := s.UserKeys(ctx, "u"); len(keys) != 1 {
			t.Errorf("DeleteUser(u NUL) touched user u: %v", keys)
		}
		tooLong := strings.Repeat("x", session.MaxUserIDLen+1)
		k := storetest.Key("long")
		if err := s.Save(ctx, k, session.Record{Data: []byte("x"), Expires: hour(), UserID: tooLong}); !errors.Is(err, session.ErrUserIDTooLong) {
			t.Errorf("Save with a 1025-byte user ID = %v", err)
		}
		err := s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) {
			return session.Record{Data: []byte("x"), Expires: hour(), UserID: tooLong}, nil
		})
		if !errors.Is(err, session.ErrUserIDTooLong) {
			t.Errorf("UpdateRecord to a 1025-byte user ID = %v", err)
		}
		if _, err := s.Load(ctx, k); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("a refused user ID left a record: %v", err)
		}
	})
}

// TestAttack_LargeData: a record larger than MariaDB's default packet
// limit, and one that is empty: a Save either stores the exact bytes or
// fails and leaves the previous record; the store works afterwards.
func TestAttack_LargeData(t *testing.T) {
	if testing.Short() {
		t.Skip("moves tens of MiB")
	}
	onEach(t, func(t *testing.T, url string) {
		s := openURL(t, url, nil)
		ctx := t.Context()
		k := storetest.Key("big")
		mustSave(t, s, k, session.Record{Data: []byte("before"), Expires: hour()})
		big := bytes.Repeat([]byte{0, 1, 2, 0xff}, 17<<18) // 17 MiB, past MariaDB's 16
		err := s.Save(ctx, k, session.Record{Data: big, Expires: hour()})
		rec, lerr := s.Load(ctx, k)
		switch {
		case lerr != nil:
			t.Fatalf("Load after a 17 MiB Save (%v) = %v", err, lerr)
		case err == nil && !bytes.Equal(rec.Data, big):
			t.Fatalf("17 MiB saved, %d different bytes loaded", len(rec.Data))
		case err != nil && string(rec.Data) != "before":
			t.Fatalf("a failed Save (%v) left %d bytes", err, len(rec.Data))
		}
		mustSave(t, s, k, session.Record{Data: nil, Expires: hour()})
		if rec, err := s.Load(ctx, k); err != nil || rec.Data == nil || len(rec.Data) != 0 {
			t.Fatalf("nil Data came back as %v, %v; want empty, not nil", rec.Data, err)
		}
	})
}

// TestAttack_SQLiteURIParameters: SQLite's own URI parameters would open
// the database in memory (sessions lost at Close, or each connection a
// database of its own), read-only, or without locks (several processes
// then corrupt it): Open refuses them. The driver's parameters still
// pass, and a URL cannot undo BEGIN IMMEDIATE.
func TestAttack_SQLiteURIParameters(t *testing.T) {
	for _, p := range []string{"mode=memory", "mode=ro", "nolock=1", "immutable=1", "cache=shared", "vfs=memdb", "psow=0", "table=t&nolock=true"} {
		path := filepath.Join(t.TempDir(), "db.sqlite3")
		s, err := sqlstore.Open("sqlite:"+path+"?"+p, nil)
		if err == nil {
			s.Close()
		}
		if !errors.Is(err, sqlstore.ErrBadURL) {
			t.Errorf("Open with %s = %v; want ErrBadURL", p, err)
		}
	}
	path := filepath.Join(t.TempDir(), "db.sqlite3")
	s, err := sqlstore.Open("sqlite:"+path+"?_txlock=deferred&_busy_timeout=1000&_pragma=cache_size(-1000)&table=t", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	mustSave(t, s, storetest.Key("a"), session.Record{Data: []byte("a"), Expires: hour()})
	var mode string
	if err := s.DB().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v; want wal", mode, err)
	}
	// Two stores on one file, each URL asking for deferred transactions:
	// the increments stay atomic because the store takes the write lock at
	// BEGIN regardless.
	a, b := s, openURL(t, "sqlite:"+path+"?_txlock=deferred&table=t", nil)
	err = testkit.InParallel(8, 200, func(i int) error {
		if i%2 == 0 {
			return increment(t.Context(), a)
		}
		return increment(t.Context(), b)
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := a.Load(t.Context(), counterKey); err != nil || string(rec.Data) != "200" {
		t.Fatalf("counter = %q, %v; want 200", rec.Data, err)
	}
}

// TestAttack_SQLiteSymlink: a database path that is a symbolic link leads
// SQLite to the file it points at, and SQLite keeps the -wal and -shm
// files beside that file: its directory is held to the store's rule (a
// shared one is refused, nothing is created there), a link to a missing
// file is refused rather than followed (SQLite would create it there,
// world-readable), and a link into a private directory works.
func TestAttack_SQLiteSymlink(t *testing.T) {
	shared := filepath.Join(t.TempDir(), "shared")
	if err := os.Mkdir(shared, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	inShared := filepath.Join(shared, "real.db")
	if err := os.WriteFile(inShared, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{"into a shared directory": inShared, "to a missing file": filepath.Join(shared, "missing.db")} {
		link := filepath.Join(t.TempDir(), "db.sqlite3")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		s, err := sqlstore.Open("sqlite:"+link, nil)
		if err == nil {
			mustSave(t, s, storetest.Key("k"), session.Record{Data: []byte("x"), Expires: hour()})
			s.Close()
			t.Errorf("Open of a link %s succeeded", name)
		}
	}
	ents, _ := os.ReadDir(shared)
	if len(ents) != 1 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("files in the shared directory: %v; want only real.db", names)
	}

	private := t.TempDir()
	link := filepath.Join(t.TempDir(), "db.sqlite3")
	if err := os.Symlink(filepath.Join(private, "real.db"), link); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(private, "real.db"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s := openURL(t, "sqlite:"+link, nil)
	mustSave(t, s, storetest.Key("k"), session.Record{Data: []byte("x"), Expires: hour()})
	if _, err := os.Stat(filepath.Join(private, "real.db-wal")); err != nil {
		t.Errorf("the -wal file is not beside the real database: %v", err)
	}
}

// TestAttack_DeleteUserRacingSaves: sessions of one user saved while
// DeleteUser runs again and again: every session saved is either counted
// by a DeleteUser or still there at the end. (On PostgreSQL, deleting the
// live rows first and the expired ones next deleted rows saved in
// between without counting them.)
func TestAttack_DeleteUserRacingSaves(t *testing.T) {
	onEach(t, func(t *testing.T, url string) {
		s := openURL(t, url, nil)
		ctx := t.Context()
		var saved, counted atomic.Int64
		var wg sync.WaitGroup
		done := make(chan struct{})
		for w := range 8 {
			wg.Go(func() {
				for i := range 100 {
					k := storetest.Key(fmt.Sprint(w, "-", i))
					if err := s.Save(ctx, k, session.Record{Data: []byte("x"), Expires: hour(), UserID: "victim"}); err != nil {
						t.Error(err)
						return
					}
					saved.Add(1)
				}
			})
		}
		go func() { wg.Wait(); close(done) }()
		for running := true; running; {
			select {
			case <-done:
				running = false
			default:
			}
			n, err := s.DeleteUser(ctx, "victim")
			if err != nil {
				t.Fatal(err)
			}
			counted.Add(int64(n))
		}
		left, err := s.UserKeys(ctx, "victim")
		if err != nil {
			t.Fatal(err)
		}
		if got := counted.Load() + int64(len(left)); got != saved.Load() {
			t.Fatalf("%d sessions saved; %d counted by DeleteUser + %d left = %d", saved.Load(), counted.Load(), len(left), got)
		}
	})
}

// TestAttack_UpdatesAcrossTwoStores: 64 goroutines, half through each of
// two Stores on one database (two hosts, or two processes on one SQLite
// file), increment one counter: none is lost.
func TestAttack_UpdatesAcrossTwoStores(t *testing.T) {
	onEach(t, func(t *testing.T, url string) {
		a, b := openURL(t, url, nil), openURL(t, url, nil)
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		const n = 64 * 3
		err := testkit.InParallel(64, n, func(i int) error {
			if i%2 == 0 {
				return increment(ctx, a)
			}
			return increment(ctx, b)
		})
		if err != nil {
			t.Fatal(err)
		}
		if rec, err := b.Load(ctx, counterKey); err != nil || string(rec.Data) != strconv.Itoa(n) {
			t.Fatalf("counter = %q, %v; want %d", rec.Data, err, n)
		}
	})
}

// TestAttack_DeleteRacingUpdate: a logout (Delete) racing a request's
// commit (UpdateRecord refusing a session that is gone, as the engine
// does) never resurrects the session, whichever wins, through one Store
// or two.
func TestAttack_DeleteRacingUpdate(t *testing.T) {
	onEach(t, func(t *testing.T, url string) {
		a, b := openURL(t, url, nil), openURL(t, url, nil)
		ctx := t.Context()
		for i := range 40 {
			k := storetest.Key(strconv.Itoa(i))
			mustSave(t, a, k, session.Record{Data: []byte("v"), Expires: hour()})
			if _, err := a.Load(ctx, k); err != nil { // leaves a hint on the server engines
				t.Fatal(err)
			}
			deleter := a
			if i%2 == 1 {
				deleter = b
			}
			var wg sync.WaitGroup
			wg.Go(func() {
				if err := deleter.Delete(ctx, k); err != nil {
					t.Error(err)
				}
			})
			wg.Go(func() {
				err := a.UpdateRecord(ctx, k, func(cur session.Record, found bool) (session.Record, error) {
					if !found {
						return session.Record{}, session.ErrSessionInterrupted
					}
					return session.Record{Data: append(bytes.Clone(cur.Data), '+'), Expires: hour()}, nil
				})
				if err != nil && !errors.Is(err, session.ErrSessionInterrupted) {
					t.Error(err)
				}
			})
			wg.Wait()
			if rec, err := b.Load(ctx, k); !errors.Is(err, session.ErrNotFound) {
				t.Fatalf("round %d: the deleted session is back: %q, %v", i, rec.Data, err)
			}
		}
	})
}

// TestAttack_SweepRacingRefresh: expired sessions refreshed (by Save or
// UpdateRecord) while sweeps run: the sweeper removes none of the
// refreshed ones.
func TestAttack_SweepRacingRefresh(t *testing.T) {
	onEach(t, func(t *testing.T, url string) {
		s := openURL(t, url, &sqlstore.Options{SweepBatch: 7})
		ctx := t.Context()
		const n = 100
		for i := range n {
			mustSave(t, s, storetest.Key(strconv.Itoa(i)), session.Record{Data: []byte("old"), Expires: time.Now().Add(-time.Minute)})
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := range n {
				k := storetest.Key(strconv.Itoa(i))
				var err error
				if i%2 == 0 {
					err = s.Save(ctx, k, session.Record{Data: []byte("new"), Expires: hour()})
				} else {
					err = s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) {
						return session.Record{Data: []byte("new"), Expires: hour()}, nil
					})
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
		for running := true; running; {
			select {
			case <-done:
				running = false
			default:
			}
			if _, err := s.DeleteExpired(ctx); err != nil {
				t.Fatal(err)
			}
		}
		for i := range n {
			if rec, err := s.Load(ctx, storetest.Key(strconv.Itoa(i))); err != nil || string(rec.Data) != "new" {
				t.Fatalf("refreshed session %d: %q, %v; the sweep removed it", i, rec.Data, err)
			}
		}
	})
}

// TestAttack_CancelInsideWrite: calls whose context ends inside their own
// update (as a client that hangs up) fail with the context's error and
// write nothing, while the writes sharing their transactions (SQLite's
// group commit) or their server all land.
func TestAttack_CancelInsideWrite(t *testing.T) {
	onEach(t, func(t *testing.T, url string) {
		s := openURL(t, url, nil)
		var wg sync.WaitGroup
		var mu sync.Mutex
		failures := map[string]error{} // key → the call's outcome when wrong
		for w := range 16 {
			wg.Go(func() {
				for i := range 15 {
					k := storetest.Key(fmt.Sprint(w, "-", i))
					var err error
					if w%2 == 0 {
						ctx, cancel := context.WithCancel(context.Background())
						err = s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) {
							cancel()
							return session.Record{Data: []byte("c"), Expires: hour()}, nil
						})
						cancel()
						if !errors.Is(err, context.Canceled) {
							mu.Lock()
							failures[k] = fmt.Errorf("canceled update returned %v", err)
							mu.Unlock()
						}
					} else if err = s.Save(context.Background(), k, session.Record{Data: []byte("s"), Expires: hour()}); err != nil {
						mu.Lock()
						failures[k] = err
						mu.Unlock()
					}
				}
			})
		}
		wg.Wait()
		for k, err := range failures {
			t.Errorf("%s: %v", k[:8], err)
		}
		for w := range 16 {
			for i := range 15 {
				_, err := s.Load(context.Background(), storetest.Key(fmt.Sprint(w, "-", i)))
				if w%2 == 0 && !errors.Is(err, session.ErrNotFound) {
					t.Fatalf("a canceled update was written: %v", err)
				}
				if w%2 == 1 && err != nil {
					t.Fatalf("a Save beside canceled updates is missing: %v", err)
				}
			}
		}
	})
}

// TestAttack_CloseWhileBusy: calls racing Close succeed or fail with
// ErrClosed, nothing else, and never hang.
func TestAttack_CloseWhileBusy(t *testing.T) {
	onEach(t, func(t *testing.T, url string) {
		s, err := sqlstore.Open(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		k := storetest.Key("k")
		mustSave(t, s, k, session.Record{Data: []byte("x"), Expires: hour()})
		var wg sync.WaitGroup
		var bad atomic.Value
		for range 16 {
			wg.Go(func() {
				for range 100 {
					_, err := s.Load(context.Background(), k)
					if err == nil {
						err = s.UpdateRecord(context.Background(), k, func(cur session.Record, _ bool) (session.Record, error) {
							return session.Record{Data: []byte("y"), Expires: hour()}, nil
						})
					}
					if err != nil && !errors.Is(err, session.ErrClosed) {
						bad.Store(err)
					}
				}
			})
		}
		time.Sleep(20 * time.Millisecond)
		s.Close()
		wg.Wait()
		if err := bad.Load(); err != nil {
			t.Fatalf("a call racing Close = %v; want nil or ErrClosed", err)
		}
	})
}

// TestAttack_MySQLForeignTable: a sessions table that someone else made
// on MySQL without session_key as its key would take a second row for a
// key on every Save, and Load return the first, stale one: Open refuses
// it, with or without NoCreate.
func TestAttack_MySQLForeignTable(t *testing.T) {
	srv := sqltest.SharedMySQL(t)
	name := srv.CreateDatabase(t)
	db := srv.Open(t, name)
	if _, err := db.Exec(`CREATE TABLE sessions (session_key VARCHAR(255) NOT NULL, data LONGBLOB NOT NULL,
		expires_ms BIGINT NOT NULL, user_id VARBINARY(1024) NOT NULL DEFAULT '', token BIGINT NOT NULL, sweep_ms BIGINT NOT NULL, KEY (session_key))`); err != nil {
		t.Fatal(err)
	}
	for _, noCreate := range []bool{false, true} {
		s, err := sqlstore.Open(srv.URL(name), &sqlstore.Options{NoCreate: noCreate})
		if err == nil {
			k := storetest.Key("k")
			mustSave(t, s, k, session.Record{Data: []byte("1"), Expires: hour()})
			mustSave(t, s, k, session.Record{Data: []byte("2"), Expires: hour()})
			rec, _ := s.Load(t.Context(), k)
			s.Close()
			t.Fatalf("Open (NoCreate %v) of a table without a key on session_key succeeded; after saving 1 then 2, Load gives %q", noCreate, rec.Data)
		}
		if !strings.Contains(err.Error(), "session_key") {
			t.Errorf("Open (NoCreate %v) = %v; want it to name session_key", noCreate, err)
		}
	}
	var n int
	if err := db.QueryRow(`SELECT COUNT(*) FROM sessions`).Scan(&n); err != nil || n != 0 {
		t.Errorf("the probe left %d rows, %v", n, err)
	}
}

// TestAttack_MySQLWithoutFoundRows: New on a MySQL connection that reports
// changed rows rather than found ones fails, as documented, with NoCreate
// too (the check used to be skipped there).
func TestAttack_MySQLWithoutFoundRows(t *testing.T) {
	srv := sqltest.SharedMySQL(t)
	name := srv.CreateDatabase(t)
	db := srv.Open(t, name) // no clientFoundRows
	schema, err := sqlstore.Schema(sqlstore.MySQL, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(strings.TrimSuffix(strings.TrimSpace(schema), ";")); err != nil {
		t.Fatal(err)
	}
	for _, noCreate := range []bool{false, true} {
		if _, err := sqlstore.New(db, sqlstore.MySQL, &sqlstore.Options{NoCreate: noCreate}); err == nil || !strings.Contains(err.Error(), "clientFoundRows") {
			t.Errorf("New (NoCreate %v) without clientFoundRows = %v; want an error naming clientFoundRows", noCreate, err)
		}
	}
}

// TestAttack_RangeMemory: Range over large sessions holds a bounded amount
// of memory (a page of 500 one-MiB rows held half a GiB), and still lists
// every record once, in key order, on every engine.
func TestAttack_RangeMemory(t *testing.T) {
	const size = 1 << 20
	fill := func(t *testing.T, s *sqlstore.Store, n int) {
		for i := range n {
			mustSave(t, s, storetest.Key(strconv.Itoa(i)), session.Record{Data: bytes.Repeat([]byte{byte(i)}, size), Expires: hour()})
		}
	}
	onEach(t, func(t *testing.T, url string) {
		const n = 12 // two pages: 8 MiB, then the rest
		s := openURL(t, url, nil)
		fill(t, s, n)
		var keys []string
		err := s.Range(t.Context(), func(k string, rec session.Record) bool {
			if len(rec.Data) != size {
				t.Errorf("%s: %d bytes", k[:8], len(rec.Data))
			}
			keys = append(keys, k)
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != n || !sortedUnique(keys) {
			t.Fatalf("Range listed %d keys (sorted and unique: %v); want %d", len(keys), sortedUnique(keys), n)
		}
	})
	t.Run("heap", func(t *testing.T) {
		const n = 40
		s, _ := openSQLite(t, &sqlstore.Options{NoSync: true})
		fill(t, s, n)
		var before, during runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		first := true
		err := s.Range(t.Context(), func(string, session.Record) bool {
			if first {
				first = false
				runtime.GC()
				runtime.ReadMemStats(&during)
			}
			return true
		})
		if err != nil {
			t.Fatal(err)
		}
		if grew := int64(during.HeapAlloc) - int64(before.HeapAlloc); grew > 24<<20 {
			t.Fatalf("Range held %d MiB at its first record, of %d MiB stored", grew>>20, n*size>>20)
		}
	})
}

func sortedUnique(keys []string) bool {
	for i := 1; i < len(keys); i++ {
		if keys[i-1] >= keys[i] {
			return false
		}
	}
	return true
}

// TestAttack_SQLiteWriteLockHeld: another process holds the database's
// write lock (a transaction left open): a Save or UpdateRecord gives up
// when its context ends, without writing later nor calling its function
// afterwards; without a deadline it fails after the busy timeout; Load still works (WAL); once the lock is released, writes
// work again.
func TestAttack_SQLiteWriteLockHeld(t *testing.T) {
	s, path := openSQLite(t, &sqlstore.Options{BusyTimeout: 300 * time.Millisecond})
	k, other := storetest.Key("k"), storetest.Key("other")
	mustSave(t, s, other, session.Record{Data: []byte("o"), Expires: hour()})
	db, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`DELETE FROM sessions`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	start := time.Now()
	err = s.Save(ctx, k, session.Record{Data: []byte("late"), Expires: hour()})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("Save under a held lock, 100ms deadline = %v after %v", err, time.Since(start))
	}
	// An update queued behind the lock, whose context ends: its function
	// is never called after UpdateRecord returned.
	var returned, calledAfter atomic.Bool
	ctx, cancel = context.WithTimeout(t.Context(), 100*time.Millisecond)
	err = s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) {
		if returned.Load() {
			calledAfter.Store(true)
		}
		return session.Record{Data: []byte("late"), Expires: hour()}, nil
	})
	returned.Store(true)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("UpdateRecord under a held lock, 100ms deadline = %v", err)
	}
	start = time.Now()
	err = s.UpdateRecord(t.Context(), k, func(session.Record, bool) (session.Record, error) {
		return session.Record{Data: []byte("late"), Expires: hour()}, nil
	})
	if err == nil || !strings.Contains(err.Error(), "locked") || time.Since(start) > 3*time.Second {
		t.Errorf("UpdateRecord under a held lock = %v after %v; want a locked error within the busy timeout", err, time.Since(start))
	}
	if rec, err := s.Load(t.Context(), other); err != nil || string(rec.Data) != "o" {
		t.Errorf("Load under a held write lock = %q, %v", rec.Data, err)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // a queued write, if any, would land now
	if _, err := s.Load(t.Context(), k); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("a write that failed landed once the lock was free: %v", err)
	}
	if calledAfter.Load() {
		t.Errorf("an update function ran after its UpdateRecord had returned")
	}
	mustSave(t, s, k, session.Record{Data: []byte("now"), Expires: hour()})
}

// TestAttack_SQLiteDamagedFile: a database whose pages were overwritten,
// or that lost its second half, gives errors from Open or from each call,
// never a panic or a hang.
func TestAttack_SQLiteDamagedFile(t *testing.T) {
	for _, damage := range []string{"flipped", "truncated", "header"} {
		t.Run(damage, func(t *testing.T) {
			s, path := openSQLite(t, &sqlstore.Options{NoSync: true})
			for i := range 300 {
				mustSave(t, s, storetest.Key(strconv.Itoa(i)), session.Record{Data: make([]byte, 900), Expires: hour(), UserID: "u"})
			}
			s.Close()
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			switch damage {
			case "flipped":
				for i := 4096; i < len(b); i += 97 {
					b[i] ^= 0x5a
				}
			case "truncated":
				b = b[:len(b)/2+100]
			case "header":
				for i := 16; i < 100; i++ {
					b[i] = 0xff
				}
			}
			if err := os.WriteFile(path, b, 0o600); err != nil {
				t.Fatal(err)
			}
			s, err = sqlstore.Open("sqlite:"+path, nil)
			if err != nil {
				return // refused: fine
			}
			defer s.Close()
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			defer cancel()
			s.Load(ctx, storetest.Key("5"))
			s.Save(ctx, storetest.Key("new"), session.Record{Data: []byte("x"), Expires: hour()})
			s.UpdateRecord(ctx, storetest.Key("6"), func(cur session.Record, _ bool) (session.Record, error) { return cur, nil })
			s.Range(ctx, func(string, session.Record) bool { return true })
			s.RangeExpired(ctx, func(string, session.Record) bool { return true })
			s.DeleteExpired(ctx)
			s.DeleteUser(ctx, "u")
			s.UserKeys(ctx, "u")
			s.Count(ctx)
			if ctx.Err() != nil {
				t.Fatal("calls on a damaged database hung")
			}
		})
	}
}

// TestAttack_SQLiteDiskFull: on a file system that fills up, writes fail
// with a clear error, the sessions saved before load, the database opens
// again with all of them.
func TestAttack_SQLiteDiskFull(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k,mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	url := "sqlite:" + filepath.Join(dir, "db.sqlite3")
	s, err := sqlstore.Open(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	saved := 0
	for ; saved < 1000; saved++ {
		err = s.Save(ctx, storetest.Key(strconv.Itoa(saved)), session.Record{Data: make([]byte, 4000), Expires: hour()})
		if err != nil {
			break
		}
	}
	if err == nil || !strings.Contains(err.Error(), "full") {
		t.Fatalf("after %d saves of 4 KB on 512 KiB: %v; want a disk full error", saved, err)
	}
	err = s.UpdateRecord(ctx, storetest.Key("0"), func(session.Record, bool) (session.Record, error) {
		return session.Record{Data: make([]byte, 64<<10), Expires: hour()}, nil
	})
	if err == nil {
		t.Errorf("a 64 KiB update on a full disk succeeded")
	}
	for i := range saved {
		if rec, err := s.Load(ctx, storetest.Key(strconv.Itoa(i))); err != nil || len(rec.Data) != 4000 {
			t.Fatalf("session %d saved before the disk filled: %d bytes, %v", i, len(rec.Data), err)
		}
	}
	s.Close()
	s = openURL(t, url, nil)
	if n, err := s.Count(ctx); err != nil || n != saved {
		t.Fatalf("reopened: Count = %d, %v; want %d", n, err, saved)
	}
}

// TestAttack_PasswordsInURLErrors: URLs that are wrong in ways an
// operator might write them never show their password in the error: a
// PostgreSQL key=value connection string after the scheme, and a MySQL
// "password" parameter, which the driver would send as "SET password =
// ..." (the server's syntax error quoted it; MySQL 8 would set it as the
// account's new password).
func TestAttack_PasswordsInURLErrors(t *testing.T) {
	for _, u := range []string{
		"postgres:host=db user=app password=s3cret dbname=app",
		"postgresql:password=s3cret",
		"mysql://app@db/app?password=s3cret",
		"mysql://app@db/app?Password='s3cret'",
		"mysql://app@db/app?tls=true&new_password=s3cret",
	} {
		_, err := sqlstore.ParseURL(u)
		if !errors.Is(err, sqlstore.ErrBadURL) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("ParseURL(%q) = %v; want ErrBadURL without the password", u, err)
		}
	}
	srv := sqltest.SharedMySQL(t)
	u := srv.NewDatabase(t) + "?password=s3cret"
	s, err := sqlstore.Open(u, nil)
	if err == nil {
		s.Close()
	}
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("Open(%q) = %v; want an error without the password", u, err)
	}
}
