//go:build linux

package main

// Tests of sessionctl's output escaping and of its file handling.
// Each reproduces an attack or an unlucky operator's mistake and checks
// that it fails.

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/sqlstore"
)

const attackOtherUser = 65534

// runInProcess runs one command line in this process, as main does.
func runInProcess(args ...string) result {
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr, false)
	return result{code, stdout.String(), stderr.String()}
}

// hostileValues are session values a visitor can choose (a search term, a
// "next" URL): C1 controls (U+009B is CSI for terminals that honour 8-bit
// controls), a bidi override, a line separator.
var hostileValues = map[string]any{
	"csi":  "a\u009b2Jb",
	"osc":  "\u009d0;pwned\u009c",
	"bidi": "\u202etxt.exe",
	"ls":   "x\u2028y",
}

// TestJSONOutput_EscapesC1AndBidi: show always prints JSON, and
// ls/stats --json too; printable() is applied to human output only, on the
// ground that "JSON output escapes on its own". encoding/json escapes
// U+0000-U+001F, U+2028 and U+2029, but prints C1 controls (U+0080-U+009F)
// and bidi overrides as they are, so a visitor's session value reaches the
// operator's terminal raw through show (and a user ID through ls --json).
func TestJSONOutput_EscapesC1AndBidi(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	st, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	opts := session.DefaultOptions()
	opts.SweepInterval = -1
	e, err := session.New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s, _ := e.Load(ctx, "")
	for k, v := range hostileValues {
		s.Set(k, v)
	}
	s.SetUserID("eve\u009b2J\u202e")
	if err := e.Save(ctx, s); err != nil {
		t.Fatal(err)
	}
	id := s.ID()
	e.Close()
	st.Close()
	store := "bolt:" + path
	for _, args := range [][]string{
		{"show", "--store", store, "--cookie", id},
		{"ls", "--json", "--store", store},
	} {
		r := runInProcess(args...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d, %s", args, r.code, r.stderr)
		}
		if hasRawControl(r.stdout) {
			t.Errorf("sessionctl %s printed raw C1/bidi characters: %q", args[0], r.stdout)
		}
	}
}

// asOtherUserThread runs fn on a thread that creates files as uid 65534.
func asOtherUserThread(t *testing.T, fn func()) (wait func()) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("playing another user needs root")
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		syscall.RawSyscall(syscall.SYS_SETFSGID, attackOtherUser, 0, 0)
		syscall.RawSyscall(syscall.SYS_SETFSUID, attackOtherUser, 0, 0)
		fn()
	}()
	return func() { <-done }
}

// TestCompact_TempFileCannotBePlanted: the location rule allows a bolt
// file in a sticky directory such as /tmp. compact removes PATH.compact
// and then has bbolt open it with O_CREATE but without O_EXCL, checking
// nothing about what it opened. Another local user who creates
// PATH.compact between the two gets the compacted database written into
// a file they made and hold open; compact then renames it over PATH, so
// they keep a read-write descriptor on the live session database (read
// every session, plant an admin one).
func TestCompact_TempFileCannotBePlanted(t *testing.T) {
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} {
		if err := os.Chmod(d, 0o755); err != nil { // as the directories above /tmp are
			t.Fatal(err)
		}
	}
	sticky := filepath.Join(base, "tmp")
	if err := os.Mkdir(sticky, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(sticky, "sessions.db")
	st, err := boltstore.Open(path, &boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	rec := session.Record{Data: []byte("secret session"), Expires: time.Now().Add(time.Hour)}
	if err := st.Save(context.Background(), session.StoreKey("victim"), rec); err != nil {
		t.Fatal(err)
	}
	st.Close()

	var stop atomic.Bool
	var mu sync.Mutex
	var fds []int
	wait := asOtherUserThread(t, func() {
		for !stop.Load() {
			fd, err := syscall.Open(path+".compact", syscall.O_RDWR|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o666)
			if err != nil {
				continue
			}
			syscall.Fchmod(fd, 0o666)
			mu.Lock()
			fds = append(fds, fd)
			mu.Unlock()
			for end := time.Now().Add(time.Duration(rand.IntN(200)) * time.Microsecond); time.Now().Before(end); {
			}
		}
	})
	defer func() {
		stop.Store(true)
		wait()
		for _, fd := range fds {
			syscall.Close(fd)
		}
	}()
	runs, failures := 0, 0
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
		r := runInProcess("compact", "--store", "bolt:"+path)
		runs++
		if r.code != 0 {
			failures++
			continue
		}
		var live syscall.Stat_t
		if err := syscall.Stat(path, &live); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		for _, fd := range fds {
			var st syscall.Stat_t
			if syscall.Fstat(fd, &st) == nil && st.Ino == live.Ino && st.Dev == live.Dev {
				mu.Unlock()
				t.Fatalf("after %d compacts: %s is now the file uid %d created as %s.compact, and that user holds it open read-write (%d bytes)",
					runs, path, attackOtherUser, filepath.Base(path), st.Size)
			}
		}
		mu.Unlock()
	}
	t.Logf("no breach in %d compacts (%d failed)", runs, failures)
}

// TestStoreOfAnotherUser_IsRefusedWithTheWayOut: root running sessionctl
// on the store of the server's user is refused by the location rule (that
// user could otherwise swap the file under root), and the error says to
// run as the store's owner, as the compact example does (sudo -u).
func TestStoreOfAnotherUser_IsRefusedWithTheWayOut(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	dir := filepath.Join(t.TempDir(), "app")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "sessions.db")
	st, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db := filepath.Join(dir, "db.sqlite3") // an SQLite store keeps companion files beside it
	sq, err := sqlstore.Open("sqlite:"+db, nil)
	if err != nil {
		t.Fatal(err)
	}
	sq.Close()
	for _, p := range []string{dir, path, db} {
		if err := os.Chown(p, attackOtherUser, attackOtherUser); err != nil { // the app's user
			t.Fatal(err)
		}
	}
	for _, cmd := range []string{"clearsessions", "compact", "stats"} {
		r := runInProcess(cmd, "--store", "bolt:"+path)
		if r.code != exitError || !strings.Contains(r.stderr, "run as the user who owns the store") {
			t.Errorf("root: sessionctl %s on the app's store: exit %d: %s", cmd, r.code, strings.TrimSpace(r.stderr))
		}
	}
	for _, cmd := range []string{"clearsessions", "stats"} {
		r := runInProcess(cmd, "--store", "sqlite:"+db)
		if r.code != exitError || !strings.Contains(r.stderr, "run as the user who owns the store") {
			t.Errorf("root: sessionctl %s on the app's SQLite store: exit %d: %s", cmd, r.code, strings.TrimSpace(r.stderr))
		}
	}
}

// TestHumanOutput_HostileStorePathIsEscapedEverywhere: a store path holding
// escape sequences (a file name another user chose, or a pasted one) is
// escaped in every human-readable output and error of the committed
// commands, --help included.
func TestHumanOutput_HostileStorePathIsEscapedEverywhere(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d\x1b]0;pwned\x07\u202e")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "s\x1b[2J.db")
	st, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := session.Record{Data: []byte{0x80}, Expires: time.Now().Add(-time.Hour), UserID: "u\x1b[2J"}
	if err := st.Save(context.Background(), session.StoreKey("k"), rec); err != nil {
		t.Fatal(err)
	}
	st.Close()
	store := "bolt:" + path
	other := "bolt:" + filepath.Join(dir, "t\x1b[2J.db")
	files := filepath.Join(t.TempDir(), "f\x1b[2J")
	sqlite := "sqlite:" + filepath.Join(dir, "q\x1b[2J.sqlite3")
	cases := [][]string{
		{"stats", "--store", store},
		{"ls", "--store", store},
		{"ls", "--expired", "--store", store},
		{"clearsessions", "--store", store},
		{"compact", "--store", store},
		{"revoke", "--user", "u\x1b[2J", "--store", store},
		{"migrate", "--from", store, "--to", other},
		{"migrate", "--from", store, "--to", "file:" + files},
		{"show", "--store", store, strings.Repeat("0", 64)},
		{"show", "--store", store, "\x1b[2J"},
		{"stats", "--store", "bolt:" + filepath.Join(dir, "missing\x1b[2J.db")},
		{"stats", "--store", "nosuch\x1b[2J:x"},
		{"stats", "--store", "redis://\x1b[2J:1/0"},
		{"stats", "--bogus\x1b[2J"},
		{"no\x1b[2Jcommand"},
		{"help", "no\x1b[2Jcommand"},
		{"compact", "--store", "file:" + files},
		{"migrate", "--from", store, "--to", sqlite},
		{"stats", "--store", sqlite},
		{"ls", "--store", sqlite + "?table=missing"},
		{"revoke", "--user", "u\x1b[2J", "--store", sqlite},
		{"compact", "--store", sqlite},
		{"schema", "--store", sqlite},
		{"schema", "--store", sqlite + "?table=\x1b[2J"},
		{"schema", "--dialect", "\x1b[2J"},
		{"stats", "--store", "postgres://\x1b[2J@127.0.0.1:1/x?connect_timeout=1"},
	}
	for _, c := range []string{"stats", "ls", "show", "clearsessions", "revoke", "migrate", "compact", "schema"} {
		cases = append(cases, []string{c, "--help"}, []string{"help", c})
	}
	for _, args := range cases {
		r := runInProcess(args...)
		if hasRawControl(r.stdout) || hasRawControl(r.stderr) {
			t.Errorf("sessionctl %q: exit %d, raw control characters:\nstdout %q\nstderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestUsageErrors_EmptyPathsCreateNothing: bolt: and file: without a path are
// usage errors, never the default store.
func TestUsageErrors_EmptyPathsCreateNothing(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	for _, url := range []string{"bolt:", "file:", "bolt://", "file://"} {
		r := runInProcess("stats", "--store", url)
		if r.code != exitUsage {
			t.Errorf("stats --store %q: exit %d, want %d (%s)", url, r.code, exitUsage, strings.TrimSpace(r.stderr))
		}
	}
	if entries, _ := os.ReadDir(os.Getenv("TMPDIR")); len(entries) != 0 {
		t.Errorf("an empty path created %v", entries)
	}
}

// TestWarnings_HostileKeysAreEscaped: a damaged store whose
// keys hold escape sequences makes the commands log warnings (corrupt
// records); slog's text handler quotes them, so stderr stays clean.
func TestWarnings_HostileKeysAreEscaped(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	st, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	db, err := bbolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket([]byte("sessions"))
		for _, k := range []string{"\x1b[2Jkey", "k\u009b2J", "\u202ek", "k\ny"} {
			if err := b.Put([]byte(k), []byte("\x1b[2Jjunk")); err != nil {
				return err
			}
		}
		return nil
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	store := "bolt:" + path
	for _, args := range [][]string{
		{"ls", "--store", store},
		{"ls", "--json", "--store", store},
		{"stats", "--store", store},
		{"clearsessions", "--store", store},
		{"migrate", "--from", store, "--to", "bolt:" + filepath.Join(t.TempDir(), "t.db")},
		{"compact", "--store", store},
	} {
		r := runInProcess(args...)
		if hasRawControl(r.stdout) || hasRawControl(r.stderr) {
			t.Errorf("sessionctl %q: exit %d, raw control characters:\nstdout %q\nstderr %q", args, r.code, r.stdout, r.stderr)
		}
	}
}
