//go:build !nostores

// The nostores tag leaves out the tests that need the module's stores, for
// the fuzzing build of this package (scripts/test.sh).

package session_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/cookiestore"
	"github.com/sessionkv/session/filestore"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/memstore"
	"github.com/sessionkv/session/sqlstore"
)

// rig is one store behind an engine, with everything the battery checks.
type rig struct {
	name   string
	store  session.Store
	engine *session.Engine
	clock  *testkit.Clock // shared by the engine and its store
	logs   *testkit.LogBuffer
	parent string // a directory holding the store's directory, if it has one
	server bool   // keeps records server-side (stored-record attacks apply)
}

var oldCookieKey = bytes.Repeat([]byte("retired-key-"), 3)

// rigs opens every store of this module behind an engine with a fake clock.
func rigs(t *testing.T) []*rig {
	t.Helper()
	var out []*rig
	add := func(name string, server bool, parent string, open func(c *testkit.Clock, log *slog.Logger) session.Store) {
		c := testkit.NewClock(time.Date(2026, 6, 1, 9, 0, 0, 0, time.UTC))
		logs := &testkit.LogBuffer{}
		log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
		st := open(c, log)
		opts := session.DefaultOptions()
		opts.Now, opts.Logger, opts.SweepInterval = c.Now, log, -1
		e, err := session.New(st, opts)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { e.Close() })
		out = append(out, &rig{name: name, store: st, engine: e, clock: c, logs: logs, parent: parent, server: server})
	}
	add("memstore", true, "", func(c *testkit.Clock, _ *slog.Logger) session.Store { return memstore.NewWithClock(c.Now) })
	boltParent := t.TempDir()
	add("boltstore", true, boltParent, func(c *testkit.Clock, log *slog.Logger) session.Store {
		s, err := boltstore.Open(filepath.Join(boltParent, "store", "sessions.db"), &boltstore.Options{Now: c.Now, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
	fileParent := t.TempDir()
	add("filestore", true, fileParent, func(c *testkit.Clock, log *slog.Logger) session.Store {
		s, err := filestore.New(filepath.Join(fileParent, "store"), &filestore.Options{Now: c.Now, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
	sqlParent := t.TempDir()
	add("sqlstore", true, sqlParent, func(c *testkit.Clock, log *slog.Logger) session.Store {
		s, err := sqlstore.Open("sqlite:"+filepath.Join(sqlParent, "store", "db.sqlite3"), &sqlstore.Options{Now: c.Now, Logger: log})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
	add("cookiestore", false, "", func(c *testkit.Clock, log *slog.Logger) session.Store {
		s, err := cookiestore.NewWithOptions(&cookiestore.Options{Now: c.Now, Logger: log},
			bytes.Repeat([]byte("current-key-"), 3), oldCookieKey)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
	return out
}

// request sends one request with a raw cookie header value (none if
// cookie is "") to a handler that reports what the session held and then
// stores a key.
func (r *rig) request(t *testing.T, cookie string) (resp *http.Response, held int) {
	t.Helper()
	req := httptest.NewRequest("GET", "/", nil)
	if cookie != "" {
		req.Header.Set("Cookie", "sessionid="+cookie)
	}
	rec := httptest.NewRecorder()
	r.engine.Middleware(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		s := session.FromContext(req.Context())
		held = s.Len()
		s.Set("after", true)
	})).ServeHTTP(rec, req)
	return rec.Result(), held
}

// valid creates a session holding one key and returns its cookie value.
func (r *rig) valid(t *testing.T) string {
	t.Helper()
	resp, _ := r.request(t, "")
	for _, c := range resp.Cookies() {
		if c.Name == "sessionid" {
			return c.Value
		}
	}
	t.Fatalf("%s: no cookie issued", r.name)
	return ""
}

// tree lists every path under dir with its size, to prove nothing was
// written outside a store's directory.
func tree(t *testing.T, dir string) map[string]bool {
	out := map[string]bool{}
	if dir == "" {
		return out
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !strings.Contains(p, string(filepath.Separator)+"store") {
			out[p] = true
		}
		return nil
	})
	return out
}

// wantFreshSession checks the battery's promise for one hostile input: a
// 200 with a new, empty session and a new cookie, never the hostile value.
func wantFreshSession(t *testing.T, r *rig, hostile string, resp *http.Response, held int) {
	t.Helper()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status %d, want 200 with a new session", resp.StatusCode)
	}
	if held != 0 {
		t.Errorf("the handler saw %d keys, want a new empty session", held)
	}
	var issued string
	for _, c := range resp.Cookies() {
		if c.Name == "sessionid" && c.MaxAge > 0 {
			issued = c.Value
		}
	}
	if issued == "" || issued == hostile {
		t.Errorf("cookie after a hostile value: %q, want a new session's", issued)
	}
}

func TestBattery_HostileCookieValues(t *testing.T) {
	for _, r := range rigs(t) {
		t.Run(r.name, func(t *testing.T) {
			expired := r.valid(t)
			r.clock.Advance(15 * 24 * time.Hour) // past the two-week cookie age
			good := r.valid(t)
			raw, _ := base64.RawURLEncoding.DecodeString(good)
			flipped := bytes.Clone(raw)
			flipped[len(flipped)/2] ^= 1
			values := map[string]string{
				"8KB":               strings.Repeat("A", 8<<10),
				"non-ASCII":         "séssion-ünïcode-" + strings.Repeat("x", 30),
				"path traversal":    "../../etc/passwd",
				"encoded NUL":       "%00",
				"NUL in value":      good[:5] + "%00" + good[8:],
				"base64 wrong len":  base64.RawURLEncoding.EncodeToString(make([]byte, 31)),
				"base64 long":       base64.RawURLEncoding.EncodeToString(make([]byte, 64)),
				"valid but expired": expired,
				"flipped bit":       base64.RawURLEncoding.EncodeToString(flipped),
				"quoted":            `"` + good + `"x`,
			}
			if r.name == "cookiestore" {
				old, _ := cookiestore.New(oldCookieKey)
				sealed, err := old.Seal(session.Record{Data: []byte{1, 0, 0x80}, Expires: r.clock.Now().Add(time.Hour)}, 4000)
				if err != nil {
					t.Fatal(err)
				}
				// A key that is still listed opens; one that was rotated out
				// must not: use a store without it.
				retired, _ := cookiestore.New(bytes.Repeat([]byte("current-key-"), 3))
				if _, err := retired.Open(sealed); !errors.Is(err, session.ErrNotFound) {
					t.Errorf("a cookie sealed with a rotated-out key opened: %v", err)
				}
			}
			before := tree(t, r.parent)
			for name, v := range values {
				t.Run(name, func(t *testing.T) {
					resp, held := r.request(t, v)
					wantFreshSession(t, r, v, resp, held)
				})
			}
			if after := tree(t, r.parent); len(after) != len(before) {
				t.Errorf("hostile cookies changed files outside the store: %v", after)
			}
		})
	}
}

func TestBattery_HostileStoredRecords(t *testing.T) {
	// A msgpack map header claiming 2^31 entries, inside a valid envelope.
	records := map[string][]byte{
		"truncated":     {1, 0, 0x82, 0xa1, 'a'},
		"zero-length":   {},
		"garbage":       []byte("\xde\xad\xbe\xef not a session at all"),
		"2^31 entries":  {1, 0, 0xdf, 0x80, 0x00, 0x00, 0x00},
		"4 GiB string":  {1, 0, 0x81, 0xa1, 'k', 0xdb, 0xff, 0xff, 0xff, 0xff},
		"wrong version": {9, 0, 0x80},
	}
	for _, r := range rigs(t) {
		if !r.server {
			continue
		}
		t.Run(r.name, func(t *testing.T) {
			for name, data := range records {
				t.Run(name, func(t *testing.T) {
					id := r.valid(t)
					key := session.StoreKey(id)
					err := r.store.Save(context.Background(), key, session.Record{Data: data, Expires: r.clock.Now().Add(time.Hour)})
					if err != nil {
						t.Fatal(err)
					}
					resp, held := r.request(t, id)
					wantFreshSession(t, r, id, resp, held)
					if !strings.Contains(r.logs.String(), "corrupt") {
						t.Errorf("no log line for a corrupt record:\n%s", r.logs.String())
					}
				})
			}
		})
	}
}

// TestBattery_FullDisk fills a tiny tmpfs under the file and bolt stores:
// a save that cannot be written fails with a clear error and a log line
// (500 through the middleware), and the previous version of the session
// survives. Without root (no mount), it skips; the stores' own tests inject
// ENOSPC.
func TestBattery_FullDisk(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs (%v: %s); filestore's tests inject ENOSPC instead", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	for _, kind := range []string{"filestore", "boltstore", "sqlstore"} {
		t.Run(kind, func(t *testing.T) {
			var st session.Store
			var err error
			switch kind {
			case "sqlstore":
				st, err = sqlstore.Open("sqlite:"+filepath.Join(dir, kind, "db.sqlite3"), nil)
			case "filestore":
				st, err = filestore.New(filepath.Join(dir, kind), nil)
			case "boltstore":
				st, err = boltstore.Open(filepath.Join(dir, kind, "sessions.db"), &boltstore.Options{InitialMmapSize: 1 << 16})
			}
			if err != nil {
				t.Fatal(err)
			}
			defer st.(interface{ Close() error }).Close()
			logs := &testkit.LogBuffer{}
			opts := session.DefaultOptions()
			opts.Logger = slog.New(slog.NewTextHandler(logs, nil))
			opts.SweepInterval = -1
			e, _ := session.New(st, opts)
			defer e.Close()
			ctx := context.Background()
			s, _ := e.Load(ctx, "")
			s.Set("version", "previous")
			if err := e.Save(ctx, s); err != nil {
				t.Fatalf("first save on an empty tmpfs: %v", err)
			}
			id := s.ID()
			fill(t, filepath.Join(dir, "filler-"+kind))

			req := httptest.NewRequest("GET", "/", nil)
			req.AddCookie(&http.Cookie{Name: "sessionid", Value: id})
			rec := httptest.NewRecorder()
			big := strings.Repeat("x", 256<<10)
			e.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				s := session.FromContext(r.Context())
				s.Set("version", "next")
				s.Set("big", big)
			})).ServeHTTP(rec, req)
			if rec.Code != http.StatusInternalServerError {
				t.Errorf("status %d on a full disk, want 500", rec.Code)
			}
			if !strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("no error logged:\n%s", logs.String())
			}
			again, err := e.Load(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if v, _ := again.GetString("version"); v != "previous" {
				t.Errorf("after a failed save the session holds %q, want the previous version", v)
			}
			os.Remove(filepath.Join(dir, "filler-"+kind))
		})
	}
}

// fill writes to path until the file system is full.
func fill(t *testing.T, path string) {
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 4096)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the disk: %v", err)
			}
			return
		}
	}
}

// plantedRecord is a stored record whose values are encoded as sessionkv
// never encodes them (an int64 code for 5, a str16 for "abc"), so a test
// can tell bytes copied from bytes encoded again, and the entries to find.
func plantedRecord() (data []byte, planted [][]byte) {
	n := []byte{0xa1, 'n', 0xd3, 0, 0, 0, 0, 0, 0, 0, 5}
	s := []byte{0xa1, 's', 0xda, 0, 3, 'a', 'b', 'c'}
	data = append([]byte{1, 0, 0x82}, n...) // the envelope: version 1, the default expiry
	return append(data, s...), [][]byte{n, s}
}

// TestBattery_CommitKeepsUntouchedBytes checks, on every server-side
// store, that a request which changes one key writes the others back as
// they were stored, without decoding and encoding them again.
func TestBattery_CommitKeepsUntouchedBytes(t *testing.T) {
	ctx := context.Background()
	for _, r := range rigs(t) {
		if !r.server {
			continue
		}
		t.Run(r.name, func(t *testing.T) {
			id := session.DefaultIDs.NewID()
			data, planted := plantedRecord()
			if err := r.store.Save(ctx, session.StoreKey(id), session.Record{Data: data, Expires: r.clock.Now().Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
			resp, held := r.request(t, id)
			if resp.StatusCode != http.StatusOK || held != 2 {
				t.Fatalf("status %d, the session held %d keys, want 2", resp.StatusCode, held)
			}
			rec, err := r.store.Load(ctx, session.StoreKey(id))
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range planted {
				if !bytes.Contains(rec.Data, p) {
					t.Errorf("the untouched entry % x was encoded again: % x", p, rec.Data)
				}
			}
			got, err := session.DecodeRecord(rec, session.MsgpackCodec{})
			if err != nil || got.Values["n"] != int64(5) || got.Values["s"] != "abc" || got.Values["after"] != true {
				t.Fatalf("stored values %v (%v)", got.Values, err)
			}
		})
	}
}
