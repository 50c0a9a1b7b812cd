package djangosession_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/djangosession"
)

// attackSettings are settings with a fixed key and the real clock.
func attackSettings() *djangosession.Settings {
	return &djangosession.Settings{SecretKey: "attack-secret-key"}
}

// TestAttack_LoadFIFO: a FIFO named like a session file must not hang Load
// or UpdateRecord (which would hold the key's lock stripe forever).
func TestAttack_LoadFIFO(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no FIFOs")
	}
	st := attackSettings()
	fs := newFileStore(t, st, &djangosession.FileStoreOptions{NoSync: true})
	key := djangosession.NewSessionKey()
	path := sessionPath(fs, key)
	if out, err := exec.Command("mkfifo", "-m", "600", path).CombinedOutput(); err != nil {
		t.Skipf("mkfifo: %v %s", err, out)
	}
	// Unblock a hung open on failure, so that the test binary can end.
	t.Cleanup(func() {
		if f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			f.Close()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan error, 2)
	go func() {
		_, err := fs.Load(ctx, key)
		done <- err
	}()
	go func() {
		done <- fs.UpdateRecord(ctx, key, func(cur session.Record, found bool) (session.Record, error) {
			if found {
				t.Error("a FIFO was found as a session")
			}
			return cur, errors.New("stop")
		})
	}()
	for range 2 {
		select {
		case err := <-done:
			if err == nil {
				t.Error("a FIFO loaded as a session")
			}
		case <-time.After(2 * time.Second):
			t.Fatal("Load or UpdateRecord hangs on a FIFO named like a session file")
		}
	}
}

// TestAttack_SymlinkOutside: a symlink named like a session file, pointing
// to a file outside the directory, is never read, written through or
// removed through.
func TestAttack_SymlinkOutside(t *testing.T) {
	st := attackSettings()
	fs := newFileStore(t, st, &djangosession.FileStoreOptions{NoSync: true})
	outside := filepath.Join(t.TempDir(), "victim")
	data, err := st.EncodeSession(map[string]any{djangosession.UserIDKey: "42"})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(outside, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	key := djangosession.NewSessionKey()
	link := sessionPath(fs, key)
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	if rec, err := fs.Load(ctx, key); err == nil {
		t.Errorf("Load followed a symlink out of the directory: %+v", rec)
	}
	n := 0
	if err := fs.Range(ctx, func(string, session.Record) bool { n++; return true }); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("Range saw %d sessions through a symlink", n)
	}
	old := time.Now().Add(-30 * 24 * time.Hour)
	if err := os.Chtimes(outside, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Fatalf("sweep removed a file outside the directory: %v", err)
	}
	// UpdateRecord sees no session, and its write replaces the link, not
	// the file it points to.
	rec, err := st.EncodeSession(map[string]any{"a": int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	err = fs.UpdateRecord(ctx, key, func(cur session.Record, found bool) (session.Record, error) {
		if found {
			t.Error("UpdateRecord found a session through a symlink")
		}
		return session.Record{Data: []byte(rec), Expires: time.Now().Add(time.Hour)}, nil
	})
	if err != nil {
		t.Fatalf("UpdateRecord over a symlink: %v", err)
	}
	if got, _ := os.ReadFile(outside); string(got) != data {
		t.Error("UpdateRecord wrote through a symlink")
	}
	if fi, err := os.Lstat(link); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("session file after UpdateRecord: %v, %v", fi, err)
	}
	// Delete removes the link itself, never its target.
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	if err := fs.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(outside); err != nil {
		t.Fatalf("Delete removed a file outside the directory: %v", err)
	}
}

// TestAttack_SymlinkToDevice: a symlink to a device is not opened (opening
// a device can have side effects, and a read of /dev/zero never ends).
func TestAttack_SymlinkToDevice(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	st := attackSettings()
	fs := newFileStore(t, st, &djangosession.FileStoreOptions{NoSync: true})
	key := djangosession.NewSessionKey()
	if err := os.Symlink("/dev/zero", sessionPath(fs, key)); err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Load(context.Background(), key); !errors.Is(err, session.ErrCorrupt) && !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Load of a symlink to /dev/zero: %v, want corrupt or not found", err)
	}
}

// TestAttack_HostileKeys: keys that could name a path outside the
// directory, another store's files or the lock directory are refused
// before anything is touched.
func TestAttack_HostileKeys(t *testing.T) {
	st := attackSettings()
	fs := newFileStore(t, st, &djangosession.FileStoreOptions{NoSync: true})
	ctx := context.Background()
	data, err := st.EncodeSession(map[string]any{"a": int64(1)})
	if err != nil {
		t.Fatal(err)
	}
	rec := session.Record{Data: []byte(data), Expires: time.Now().Add(time.Hour)}
	for _, key := range []string{
		"../../../../etc/passwd", "abcdefgh/../x", "abcdefgh\x00xyz", "ABCDEFGHIJKLMNOP",
		"abcdefgh_out_12345", "/.djangosession-locks", "../.djangosession-locks/0.lock",
		strings.Repeat("a", djangosession.MaxFileKeyLen+1), "abcdéfghij", "abcdefg", "",
		"abcdefgh\nabc", "abcdefgh.", "abcdefgh ",
	} {
		if _, err := fs.Load(ctx, key); !errors.Is(err, djangosession.ErrInvalidKey) || !errors.Is(err, session.ErrNotFound) {
			t.Errorf("Load(%q): %v", key, err)
		}
		if err := fs.Save(ctx, key, rec); !errors.Is(err, djangosession.ErrInvalidKey) {
			t.Errorf("Save(%q): %v", key, err)
		}
		if err := fs.Delete(ctx, key); !errors.Is(err, djangosession.ErrInvalidKey) {
			t.Errorf("Delete(%q): %v", key, err)
		}
		if err := fs.UpdateRecord(ctx, key, func(cur session.Record, _ bool) (session.Record, error) { return rec, nil }); !errors.Is(err, djangosession.ErrInvalidKey) {
			t.Errorf("UpdateRecord(%q): %v", key, err)
		}
	}
	entries, _ := os.ReadDir(fs.Dir())
	if len(entries) != 1 || entries[0].Name() != ".djangosession-locks" {
		t.Errorf("directory after hostile keys: %v", entries)
	}
}

// TestAttack_SweepLeavesOtherFiles: the sweeper, on a directory of many
// files that are not this store's sessions, removes none of them, and
// removes the expired sessions and old temporary files it owns.
func TestAttack_SweepLeavesOtherFiles(t *testing.T) {
	st := attackSettings()
	fs := newFileStore(t, st, &djangosession.FileStoreOptions{NoSync: true})
	dir := fs.Dir()
	old := time.Now().Add(-365 * 24 * time.Hour)
	var keep []string
	add := func(name string) {
		writeFile(t, filepath.Join(dir, name), "junk", old)
		keep = append(keep, name)
	}
	key := djangosession.NewSessionKey()
	for i := range 1000 {
		s := strconv.Itoa(i)
		add("other" + s)
		add("sessionid" + s) // too short for a key
		add("SESSIONID" + key + s)
		add("sessionid" + strings.ToUpper(key) + s)
		add("sessionid" + key[:10] + "-" + s)
		add("xsessionid" + key + s)
	}
	add("sessionid" + key + ".bak")
	add("sessionid" + key + "_in_x")
	add("sessionid_out_x")
	add("sessionid" + strings.Repeat("a", djangosession.MaxFileKeyLen+1))
	add("sessionid" + strings.Repeat("a", djangosession.MaxFileKeyLen+1) + "_out_x")
	add(".djangosession-locksx")
	// A directory and a symlink named like sessions, and one named like a
	// temporary file.
	for _, name := range []string{"sessionid" + key, "sessionid" + key + "_out_d"} {
		if err := os.Mkdir(filepath.Join(dir, name), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(filepath.Join(dir, name), old, old); err != nil {
			t.Fatal(err)
		}
		keep = append(keep, name)
	}
	target := filepath.Join(dir, "other0")
	for _, name := range []string{"sessionid" + strings.Repeat("b", 32), "sessionid" + strings.Repeat("b", 32) + "_out_l"} {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		keep = append(keep, name)
	}
	// What the sweeper owns: an expired session and an old temporary file.
	expired := djangosession.NewSessionKey()
	writeSession(t, fs, st, expired, map[string]any{}, old)
	writeFile(t, filepath.Join(dir, "sessionid"+expired+"_out_abc"), "", old)

	start := time.Now()
	n, err := fs.DeleteExpired(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("DeleteExpired removed %d sessions, want 1", n)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("sweep of %d files took %v", len(keep), d)
	}
	for _, name := range keep {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			t.Errorf("sweep removed %q: %v", name, err)
		}
	}
	for _, name := range []string{"sessionid" + expired, "sessionid" + expired + "_out_abc"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			t.Errorf("sweep left %q", name)
		}
	}
	if _, err := os.Stat(target); err != nil {
		t.Errorf("symlink target: %v", err)
	}
}

// TestAttack_SaltSeparation: data signed for the file and db backends
// never opens as a signed_cookies cookie, and the reverse.
func TestAttack_SaltSeparation(t *testing.T) {
	st := attackSettings()
	values := map[string]any{djangosession.UserIDKey: "1"}
	sess, err := st.EncodeSession(values)
	if err != nil {
		t.Fatal(err)
	}
	cookie, err := st.EncodeCookie(values)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := djangosession.NewCookieStore(st)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cs.Load(ctx, sess); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("session data opened as a cookie: %v", err)
	}
	if _, err := cs.Seal(session.Record{Data: []byte(sess)}, 4096); !errors.Is(err, djangosession.ErrForeignData) {
		t.Errorf("session data sealed as a cookie: %v", err)
	}
	if _, err := st.DecodeSession(cookie); !errors.Is(err, djangosession.ErrBadSignature) {
		t.Errorf("cookie decoded as session data: %v", err)
	}
	fs := newFileStore(t, st, &djangosession.FileStoreOptions{NoSync: true})
	key := djangosession.NewSessionKey()
	if err := fs.Save(ctx, key, session.Record{Data: []byte(cookie), Expires: time.Now().Add(time.Hour)}); !errors.Is(err, djangosession.ErrForeignData) {
		t.Errorf("cookie saved as a file session: %v", err)
	}
	writeFile(t, sessionPath(fs, key), cookie, time.Now())
	if _, err := fs.Load(ctx, key); !errors.Is(err, session.ErrCorrupt) {
		t.Errorf("cookie in a session file: %v", err)
	}
	// Signer with the default salt (signing.dumps without a salt) neither.
	plain, err := (&djangosession.Signer{Key: st.SecretKey}).Dumps(values)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cs.Load(ctx, plain); err == nil {
		t.Error("signing.dumps output opened as a cookie")
	}
	if _, err := st.DecodeSession(plain); err == nil {
		t.Error("signing.dumps output opened as session data")
	}
}

// TestAttack_UnsignedInputIsCheap: unsigned hostile input of any shape is
// refused with ErrBadSignature before its timestamp or payload is looked
// at, in time linear in its length.
func TestAttack_UnsignedInputIsCheap(t *testing.T) {
	st := attackSettings()
	cs, err := djangosession.NewCookieStore(st)
	if err != nil {
		t.Fatal(err)
	}
	huge62 := strings.Repeat("z", 1<<20)
	for _, in := range []string{
		"", ":", "::", "a:" + huge62 + ":sig", "." + strings.Repeat("A", 4<<20) + ":0:sig",
		strings.Repeat(":", 1<<20), "eyJhIjoxfQ:" + huge62, "\x00:\x00:\x00",
	} {
		start := time.Now()
		if _, err := cs.Open(in); !errors.Is(err, djangosession.ErrBadSignature) {
			t.Errorf("Open(%.20q...): %v, want bad signature", in, err)
		}
		if _, err := st.DecodeSession(in); !errors.Is(err, djangosession.ErrBadSignature) {
			t.Errorf("DecodeSession(%.20q...): %v, want bad signature", in, err)
		}
		if d := time.Since(start); d > time.Second {
			t.Errorf("%d bytes of unsigned input took %v", len(in), d)
		}
	}
}

// TestAttack_SignedHostileJSON: validly signed but hostile JSON (deep
// nesting, huge numbers, duplicate keys, bad escapes) decodes or fails
// with session.ErrCorrupt, never panics.
func TestAttack_SignedHostileJSON(t *testing.T) {
	st := attackSettings()
	s := st.Signer(djangosession.SessionSalt)
	for _, js := range []string{
		`{"a":` + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + `}`,
		`{"a":` + strings.Repeat(`{"a":`, 100000) + "1" + strings.Repeat("}", 100000) + `}`,
		`{"a":` + strings.Repeat("9", 100000) + `}`,
		`{"a":1.` + strings.Repeat("9", 100000) + `e99999999999}`,
		`{"a":"\ud800\udc00\udfff\ud800"}`,
		`{"a":"\u00"}`, `{"a":"\x"}`, `{"a":1,"a":2}`, `{"__proto__":{"x":1}}`,
		`{"a":-}`, `{"a":-Infinit}`, `{"a":` + "\xff\xfe" + `}`, `{"a":"` + "\xff" + `"}`,
		`{"a":[` + strings.Repeat("0,", 200000) + `0]}`,
	} {
		signed, err := s.Sign([]byte(js))
		if err != nil {
			t.Fatal(err)
		}
		v, err := st.DecodeSession(signed)
		if err != nil && !errors.Is(err, session.ErrCorrupt) {
			t.Errorf("%.30q: %v, want a session or ErrCorrupt", js, err)
		}
		_ = v
	}
}
