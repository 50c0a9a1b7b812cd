package filestore

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/storetest"
)

func sorted(keys []string) []string {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return keys
}

func sortedUserKeys(t testing.TB, s *Store, uid string) []string {
	t.Helper()
	keys, err := s.UserKeys(t.Context(), uid)
	if err != nil {
		t.Fatalf("UserKeys: %v", err)
	}
	return sorted(keys)
}

// saveOwned saves a record of uid holding name and expiring at exp, under
// the key of name, which it returns.
func saveOwned(t testing.TB, s *Store, name, uid string, exp time.Time) string {
	t.Helper()
	k := storetest.Key(name)
	if err := s.Save(t.Context(), k, session.Record{Data: []byte(name), Expires: exp, UserID: uid}); err != nil {
		t.Fatal(err)
	}
	return k
}

// markerPath is where the marker of key in uid's index directory lives.
func markerPath(s *Store, uid, key string) string { return filepath.Join(s.userDir(uid), key) }

func exists(t testing.TB, path string) bool {
	t.Helper()
	_, err := os.Lstat(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// plantMarker creates the marker of key in uid's index directory, bypassing
// the store.
func plantMarker(t testing.TB, s *Store, uid, key string) {
	t.Helper()
	if err := os.MkdirAll(s.userDir(uid), dirPerm); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(markerPath(s, uid, key), nil, filePerm); err != nil {
		t.Fatal(err)
	}
}

// userDirs returns the user directories and markers under dir's index, as
// paths relative to dir, sorted: the .users directory and its two-digit
// groups are left out.
func userDirs(t testing.TB, dir string) []string {
	t.Helper()
	var got []string
	for _, p := range tree(t, dir) {
		if parts := strings.Split(filepath.ToSlash(p), "/"); parts[0] == usersDirName && len(parts) > 2 {
			got = append(got, filepath.ToSlash(p))
		}
	}
	return got
}

// wantIndex returns what userDirs should be for the given markers, user ID
// to keys, and extra paths relative to a user directory ("uid/name").
func wantIndex(s *Store, markers map[string][]string, extra ...string) []string {
	var want []string
	rel := func(uid string) string {
		r, _ := filepath.Rel(s.Dir(), s.userDir(uid))
		return filepath.ToSlash(r)
	}
	for uid, keys := range markers {
		want = append(want, rel(uid))
		for _, k := range keys {
			want = append(want, rel(uid)+"/"+k)
		}
	}
	for _, e := range extra {
		uid, name, _ := strings.Cut(e, "/")
		if !slices.Contains(want, rel(uid)) {
			want = append(want, rel(uid))
		}
		want = append(want, rel(uid)+"/"+name)
	}
	slices.Sort(want)
	return want
}

// checkShapes fails unless every path under dir is one the store may
// create: lock files, shards and their files, and the user index, all
// named by fixed names or hexadecimal digits.
func checkShapes(t testing.TB, dir string) {
	t.Helper()
	for _, rel := range tree(t, dir) {
		parts := strings.Split(filepath.ToSlash(rel), "/")
		ok := false
		switch parts[0] {
		case lockDirName:
			ok = len(parts) == 1 || len(parts) == 2 && isShardName(strings.TrimSuffix(parts[1], lockSuffix))
		case usersDirName:
			ok = len(parts) == 1 ||
				len(parts) >= 2 && isShardName(parts[1]) &&
					(len(parts) == 2 || isKey(parts[2]) && parts[2][:2] == parts[1] && (len(parts) == 3 || len(parts) == 4 && isKey(parts[3])))
		default:
			ok = isShardName(parts[0]) && (len(parts) == 1 || len(parts) == 2 && isKey(parts[1]))
		}
		if !ok {
			t.Errorf("unexpected path %q", rel)
		}
	}
}

// TestUserIndex_MarkersFollowRecords moves one session between owners
// through Save, UpdateRecord and Delete, checking the index on disk at each step.
func TestUserIndex_MarkersFollowRecords(t *testing.T) {
	s, _ := newTestStore(t, nil)
	ctx := t.Context()
	live := time.Now().Add(time.Hour)
	k := storetest.Key("follow")
	save := func(uid string) {
		t.Helper()
		if err := s.Save(ctx, k, session.Record{Data: []byte("by " + uid), Expires: live, UserID: uid}); err != nil {
			t.Fatal(err)
		}
	}
	update := func(rec session.Record) {
		t.Helper()
		if err := s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) { return rec, nil }); err != nil {
			t.Fatal(err)
		}
	}
	check := func(step string, markers map[string][]string) {
		t.Helper()
		if got, want := userDirs(t, s.Dir()), wantIndex(s, markers); !slices.Equal(got, want) {
			t.Errorf("%s: index holds\n%v\nwant\n%v", step, got, want)
		}
	}

	save("alice")
	check("Save", map[string][]string{"alice": {k}})
	for path, want := range map[string]fs.FileMode{
		filepath.Join(s.Dir(), usersDirName): fs.ModeDir | 0o700,
		filepath.Dir(s.userDir("alice")):     fs.ModeDir | 0o700,
		s.userDir("alice"):                   fs.ModeDir | 0o700,
		markerPath(s, "alice", k):            0o600,
		filepath.Join(s.Dir(), k[:2], k):     0o600,
		filepath.Join(s.Dir(), lockDirName):  fs.ModeDir | 0o700,
		filepath.Join(s.Dir(), k[:2]):        fs.ModeDir | 0o700,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
	if fi, _ := os.Stat(markerPath(s, "alice", k)); fi.Size() != 0 {
		t.Errorf("marker of %d bytes, want empty", fi.Size())
	}
	if rec, err := s.Load(ctx, k); err != nil || rec.UserID != "alice" {
		t.Fatalf("Load = %q, %v", rec.UserID, err)
	}
	save("alice")
	check("Save again", map[string][]string{"alice": {k}})
	save("bob")
	check("Save for another owner", map[string][]string{"alice": nil, "bob": {k}})
	update(session.Record{Data: []byte("x"), Expires: live, UserID: "carol"})
	check("Update to another owner", map[string][]string{"alice": nil, "bob": nil, "carol": {k}})
	update(session.Record{Data: []byte("x"), Expires: live})
	check("Update to no owner", map[string][]string{"alice": nil, "bob": nil, "carol": nil})
	if rec, err := s.Load(ctx, k); err != nil || rec.UserID != "" {
		t.Fatalf("Load = %q, %v", rec.UserID, err)
	}
	save("dave")
	update(session.Record{UserID: "dave"}) // expired: removes the session
	check("Update to an expired record", map[string][]string{"alice": nil, "bob": nil, "carol": nil, "dave": nil})
	if exists(t, filepath.Join(s.Dir(), k[:2], k)) {
		t.Error("the expired session's file is still there")
	}
	save("erin")
	if err := s.Delete(ctx, k); err != nil {
		t.Fatal(err)
	}
	check("Delete", map[string][]string{"alice": nil, "bob": nil, "carol": nil, "dave": nil, "erin": nil})
	// The sweeper removes the emptied user directories.
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	check("sweep", nil)
}

// TestUserIndex_RangeAndLoadReturnUserID checks that every read path gives
// the owner back as saved, the empty one included.
func TestUserIndex_RangeAndLoadReturnUserID(t *testing.T) {
	s, _ := newTestStore(t, func(o *Options) { o.NoSync = true })
	ctx := t.Context()
	owners := map[string]string{
		storetest.Key("r0"): "",
		storetest.Key("r1"): "alice",
		storetest.Key("r2"): "bob\x00with a NUL",
		storetest.Key("r3"): strings.Repeat("é", maxUserIDLen/2),
	}
	for k, uid := range owners {
		if err := s.Save(ctx, k, session.Record{Data: []byte(k), Expires: time.Now().Add(time.Hour), UserID: uid}); err != nil {
			t.Fatal(err)
		}
		if rec, err := s.Load(ctx, k); err != nil || rec.UserID != uid || string(rec.Data) != k {
			t.Errorf("Load = %q, %q, %v", rec.UserID, rec.Data, err)
		}
	}
	seen := map[string]string{}
	err := s.Range(ctx, func(key string, rec session.Record) bool {
		seen[key] = rec.UserID
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(owners) {
		t.Fatalf("Range saw %d records, want %d", len(seen), len(owners))
	}
	for k, uid := range owners {
		if seen[k] != uid {
			t.Errorf("Range gave owner %q, want %q", seen[k], uid)
		}
	}
}

// TestUserIndex_UserIDTooLong: Save and UpdateRecord refuse a user ID over 1 KiB
// without touching the file system or echoing it; 1 KiB exactly is kept.
func TestUserIndex_UserIDTooLong(t *testing.T) {
	s, _ := newTestStore(t, nil)
	ctx := t.Context()
	k := storetest.Key("long")
	live := time.Now().Add(time.Hour)
	limit := strings.Repeat("u", maxUserIDLen)
	if err := s.Save(ctx, k, session.Record{Data: []byte("x"), Expires: live, UserID: limit}); err != nil {
		t.Fatal(err)
	}
	before := tree(t, s.Dir())
	over := limit + "/"
	check := func(op string, err error) {
		t.Helper()
		if !errors.Is(err, session.ErrUserIDTooLong) || !strings.HasPrefix(err.Error(), "filestore: ") {
			t.Errorf("%s = %v, want ErrUserIDTooLong", op, err)
		}
		if err != nil && len(err.Error()) > 100 {
			t.Errorf("%s error echoes the user ID: %.60q", op, err)
		}
	}
	check("Save", s.Save(ctx, k, session.Record{Data: []byte("y"), Expires: live, UserID: over}))
	check("Save of a new key", s.Save(ctx, storetest.Key("long-2"), session.Record{Expires: live, UserID: over}))
	check("Update", s.UpdateRecord(ctx, k, func(cur session.Record, _ bool) (session.Record, error) {
		cur.UserID = over
		return cur, nil
	}))
	if after := tree(t, s.Dir()); !slices.Equal(before, after) {
		t.Errorf("refused writes changed the directory:\nbefore %v\nafter  %v", before, after)
	}
	if rec, err := s.Load(ctx, k); err != nil || rec.UserID != limit || string(rec.Data) != "x" {
		t.Errorf("Load = %d-byte owner, %q, %v; want the record of the 1 KiB owner", len(rec.UserID), rec.Data, err)
	}
	if got := sortedUserKeys(t, s, limit); !slices.Equal(got, []string{k}) {
		t.Errorf("UserKeys(1 KiB ID) = %d keys, want 1", len(got))
	}
}

// TestUserIndex_HostileUserIDs saves sessions for user IDs made to look
// like paths, with NUL bytes and 10 KB long: the index is named by hashes
// only, every ID round-trips and is found, and nothing is created from the
// ID's text or outside the directory.
func TestUserIndex_HostileUserIDs(t *testing.T) {
	base := t.TempDir()
	s, err := New(filepath.Join(base, "sessions"), &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	live := time.Now().Add(time.Hour)
	ids := map[string]string{
		"Traversal":       "../../etc/passwd",
		"LongTraversal":   strings.Repeat("../", 300) + "etc/passwd",
		"Absolute":        "/etc/passwd",
		"Dot":             ".",
		"DotDot":          "..",
		"Backslashes":     `..\..\windows\system32`,
		"IndexRoot":       usersDirName,
		"LockFile":        "../" + lockDirName + "/00" + lockSuffix,
		"NUL":             "alice\x00root",
		"OnlyNUL":         "\x00",
		"Newline":         "alice\nbob",
		"NotUTF8":         "\xff\xfe\xfd",
		"HexLikeAKey":     storetest.Key("victim"),
		"LongestAccepted": strings.Repeat("/", maxUserIDLen),
	}
	for name, uid := range ids {
		k := storetest.Key(name)
		if err := s.Save(ctx, k, session.Record{Data: []byte(name), Expires: live, UserID: uid}); err != nil {
			t.Fatalf("%s: Save: %v", name, err)
		}
	}
	tooLong := strings.Repeat("../", 3414) // 10 KB
	err = s.Save(ctx, storetest.Key("too-long"), session.Record{Data: []byte("x"), Expires: live, UserID: tooLong})
	if !errors.Is(err, session.ErrUserIDTooLong) || strings.Contains(err.Error(), "../") {
		t.Errorf("Save of a 10 KB user ID = %.80v", err)
	}
	if keys, err := s.UserKeys(ctx, tooLong); err != nil || len(keys) != 0 {
		t.Errorf("UserKeys(10 KB) = %v, %v", keys, err)
	}
	if n, err := s.DeleteUser(ctx, tooLong); err != nil || n != 0 {
		t.Errorf("DeleteUser(10 KB) = %d, %v", n, err)
	}
	checkShapes(t, s.Dir())
	for _, rel := range tree(t, base) {
		if rel != "sessions" && !strings.HasPrefix(rel, "sessions"+string(os.PathSeparator)) {
			t.Errorf("%s was created outside the store's directory", rel)
		}
	}
	for name, uid := range ids {
		k := storetest.Key(name)
		if rec, err := s.Load(ctx, k); err != nil || rec.UserID != uid {
			t.Errorf("%s: Load = %.40q, %v", name, rec.UserID, err)
		}
		if got := sortedUserKeys(t, s, uid); !slices.Equal(got, []string{k}) {
			t.Errorf("%s: UserKeys = %d keys, want its one session", name, len(got))
		}
	}
	// IDs that differ only past a NUL, or by a prefix, are different users.
	for _, uid := range []string{"alice", "alice\x00", "/", ".users/"} {
		if got := sortedUserKeys(t, s, uid); len(got) != 0 {
			t.Errorf("UserKeys(%q) = %d keys, want none", uid, len(got))
		}
	}
	for name, uid := range ids {
		if n, err := s.DeleteUser(ctx, uid); err != nil || n != 1 {
			t.Errorf("%s: DeleteUser = %d, %v; want 1", name, n, err)
		}
	}
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if got := userDirs(t, s.Dir()); len(got) != 0 {
		t.Errorf("index not empty after deleting every user: %v", got)
	}
	checkShapes(t, s.Dir())
}

// TestUserIndex_DeleteUserAmongMany deletes one user out of 1,000 with 5
// sessions each: exactly that user's 5 go, everything else stays.
func TestUserIndex_DeleteUserAmongMany(t *testing.T) {
	const users, per, victim = 1000, 5, 617
	s, err := New(memDir(t), &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := t.Context()
	live := time.Now().Add(time.Hour)
	uid := func(u int) string { return fmt.Sprintf("user-%04d", u) }
	key := func(u, i int) string { return storetest.Key(fmt.Sprint(uid(u), "-", i)) }
	start := time.Now()
	for u := range users {
		for i := range per {
			if err := s.Save(ctx, key(u, i), session.Record{Data: []byte("a session"), Expires: live, UserID: uid(u)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	setup := time.Since(start)

	start = time.Now()
	n, err := s.DeleteUser(ctx, uid(victim))
	took := time.Since(start)
	if err != nil || n != per {
		t.Fatalf("DeleteUser = %d, %v; want %d", n, err, per)
	}
	for i := range per {
		if _, err := s.Load(ctx, key(victim, i)); !errors.Is(err, session.ErrNotFound) {
			t.Errorf("session %d of the deleted user: Load = %v", i, err)
		}
	}
	if got := sortedUserKeys(t, s, uid(victim)); len(got) != 0 {
		t.Errorf("UserKeys of the deleted user = %d keys", len(got))
	}
	if exists(t, s.userDir(uid(victim))) {
		t.Error("the deleted user's index directory is still there")
	}
	for u := range users {
		if u == victim {
			continue
		}
		for i := range per {
			if rec, err := s.Load(ctx, key(u, i)); err != nil || rec.UserID != uid(u) {
				t.Fatalf("user %d, session %d: Load = %q, %v", u, i, rec.UserID, err)
			}
		}
	}
	for _, u := range []int{0, 1, victim - 1, victim + 1, users - 1} {
		want := make([]string, per)
		for i := range want {
			want[i] = key(u, i)
		}
		if got := sortedUserKeys(t, s, uid(u)); !slices.Equal(got, sorted(want)) {
			t.Errorf("UserKeys(%s) = %d keys, want its %d", uid(u), len(got), per)
		}
	}
	count := 0
	if err := s.Range(ctx, func(string, session.Record) bool { count++; return true }); err != nil {
		t.Fatal(err)
	}
	if want := (users - 1) * per; count != want {
		t.Errorf("%d sessions left, want %d", count, want)
	}
	if n, err := s.DeleteUser(ctx, uid(victim)); err != nil || n != 0 {
		t.Errorf("second DeleteUser = %d, %v; want 0", n, err)
	}
	t.Logf("set up %d sessions in %v; DeleteUser took %v", users*per, setup.Round(time.Millisecond), took)
}

// memDir returns a fresh directory on the memory file system /dev/shm
// where there is one, else in the test's temporary directory. Tests of
// what the store does with many files, not of the disk, use it so that
// they do not wait on a disk shared with other work.
func memDir(t *testing.T) string {
	t.Helper()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		dir, err := os.MkdirTemp("/dev/shm", "filestore-test-")
		if err == nil {
			t.Cleanup(func() { os.RemoveAll(dir) })
			return dir
		}
	}
	return t.TempDir()
}

// TestUserIndex_StaleMarkers plants markers that do not match their record:
// UserKeys and DeleteUser never act on another user's record, never count
// an expired one, remove the stale markers they meet, and leave alone a
// record written in a later format version.
func TestUserIndex_StaleMarkers(t *testing.T) {
	c := testkit.NewClock(time.Now())
	s, _ := newTestStore(t, func(o *Options) { o.Now = c.Now })
	ctx := t.Context()
	live, old := c.Now().Add(time.Hour), c.Now().Add(-time.Minute)
	mine := saveOwned(t, s, "mine", "alice", live)
	expired := saveOwned(t, s, "expired", "alice", old)
	bobs := saveOwned(t, s, "bobs", "bob", live)
	plantMarker(t, s, "alice", bobs)
	gone := storetest.Key("gone")
	plantMarker(t, s, "alice", gone)
	corrupt := storetest.Key("corrupt")
	writeRaw(t, s, corrupt, []byte("garbage"))
	plantMarker(t, s, "alice", corrupt)
	future := storetest.Key("future")
	fileFromTheFuture := encodeUserFile(live, "alice", []byte("later"))
	fileFromTheFuture[4] = formatVersion + 1
	writeRaw(t, s, future, fileFromTheFuture)
	plantMarker(t, s, "alice", future)

	if got := sortedUserKeys(t, s, "alice"); !slices.Equal(got, []string{mine}) {
		t.Errorf("UserKeys(alice) = %d keys, want only the live one", len(got))
	}
	want := map[string][]string{"alice": sorted([]string{mine, expired, future}), "bob": {bobs}}
	if got := userDirs(t, s.Dir()); !slices.Equal(got, wantIndex(s, want)) {
		t.Errorf("after UserKeys the index holds\n%v\nwant\n%v", got, wantIndex(s, want))
	}
	// The stale markers are back for DeleteUser to meet.
	plantMarker(t, s, "alice", bobs)
	plantMarker(t, s, "alice", gone)
	n, err := s.DeleteUser(ctx, "alice")
	if err != nil || n != 1 {
		t.Fatalf("DeleteUser(alice) = %d, %v; want 1 live session", n, err)
	}
	for _, k := range []string{mine, expired} {
		if exists(t, filepath.Join(s.Dir(), k[:2], k)) {
			t.Errorf("alice's session %s is still on disk", k[:8])
		}
	}
	if rec, err := s.Load(ctx, bobs); err != nil || rec.UserID != "bob" {
		t.Errorf("bob's session = %q, %v; want it kept", rec.UserID, err)
	}
	if !exists(t, filepath.Join(s.Dir(), future[:2], future)) {
		t.Error("the file from a later version was deleted")
	}
	want = map[string][]string{"alice": {future}, "bob": {bobs}}
	if got := userDirs(t, s.Dir()); !slices.Equal(got, wantIndex(s, want)) {
		t.Errorf("after DeleteUser the index holds\n%v\nwant\n%v", got, wantIndex(s, want))
	}
}

// TestUserIndex_SweepCleansStaleMarkers lays out one user directory per
// situation and checks what a sweep removes, keeps and restores.
func TestUserIndex_SweepCleansStaleMarkers(t *testing.T) {
	c := testkit.NewClock(time.Now().Truncate(time.Second))
	s, logs := newTestStore(t, func(o *Options) {
		o.Now = c.Now
		o.TempFileGrace = 10 * time.Minute
	})
	ctx := t.Context()
	live, old := c.Now().Add(time.Hour), c.Now().Add(-time.Second)
	// alice: a live session, an expired one, and stale markers of a session
	// that is bob's, of one that does not exist and of a corrupt file.
	aliceLive := saveOwned(t, s, "alice-live", "alice", live)
	saveOwned(t, s, "alice-old", "alice", old)
	bobLive := saveOwned(t, s, "bob-live", "bob", live)
	plantMarker(t, s, "alice", bobLive)
	plantMarker(t, s, "alice", storetest.Key("never-saved"))
	corrupt := storetest.Key("corrupt")
	writeRaw(t, s, corrupt, []byte("garbage"))
	plantMarker(t, s, "alice", corrupt)
	// carol: the marker of a file from a later format version is kept.
	future := storetest.Key("future")
	fileFromTheFuture := encodeUserFile(live, "carol", []byte("later"))
	fileFromTheFuture[4] = formatVersion + 1
	writeRaw(t, s, future, fileFromTheFuture)
	plantMarker(t, s, "carol", future)
	// dave: a live session whose marker was lost is indexed again.
	daveLive := saveOwned(t, s, "dave-live", "dave", live)
	if err := os.Remove(markerPath(s, "dave", daveLive)); err != nil {
		t.Fatal(err)
	}
	// erin: an empty directory; frank: only a stale marker. Both go.
	if err := os.MkdirAll(s.userDir("erin"), dirPerm); err != nil {
		t.Fatal(err)
	}
	plantMarker(t, s, "frank", storetest.Key("frank-gone"))
	// gina: a file the store does not know keeps her directory.
	if err := os.MkdirAll(s.userDir("gina"), dirPerm); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(s.userDir("gina"), "README"), nil, filePerm); err != nil {
		t.Fatal(err)
	}

	n, err := s.DeleteExpired(ctx)
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1 expired session", n, err)
	}
	want := wantIndex(s, map[string][]string{
		"alice": {aliceLive},
		"bob":   {bobLive},
		"carol": {future},
		"dave":  {daveLive},
	}, "gina/README")
	if got := userDirs(t, s.Dir()); !slices.Equal(got, want) {
		t.Errorf("after the sweep the index holds\n%v\nwant\n%v", got, want)
	}
	if !strings.Contains(logs.String(), "restored missing user index entries") {
		t.Errorf("restoring a marker was not logged: %s", logs)
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 0 {
		t.Errorf("second sweep = %d, %v; want 0", n, err)
	}
	if got := userDirs(t, s.Dir()); !slices.Equal(got, want) {
		t.Errorf("a second sweep changed the index:\n%v", got)
	}

	// An hour on, every session has expired: they go with their markers.
	c.Advance(time.Hour)
	if n, err := s.DeleteExpired(ctx); err != nil || n != 3 {
		t.Fatalf("sweep an hour later = %d, %v; want 3", n, err)
	}
	want = wantIndex(s, map[string][]string{"carol": {future}}, "gina/README")
	if got := userDirs(t, s.Dir()); !slices.Equal(got, want) {
		t.Errorf("after the last sweep the index holds\n%v\nwant\n%v", got, want)
	}
}

// TestUserIndex_SweepKeepsMarkerMadeValid gives a stale marker a record
// between the sweeper's listing and its lock: the second look under the
// lock keeps the marker, so the new session is not lost to the index.
func TestUserIndex_SweepKeepsMarkerMadeValid(t *testing.T) {
	s, _ := newTestStore(t, nil)
	ctx := t.Context()
	k := storetest.Key("made-valid")
	plantMarker(t, s, "alice", k)
	hooked := 0
	s.hooks.beforeSweepLock = func(name string) {
		if name != usersDirName+"/"+userHash("alice") {
			return
		}
		hooked++
		if err := s.Save(ctx, k, session.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour), UserID: "alice"}); err != nil {
			t.Error(err)
		}
	}
	if _, err := s.DeleteExpired(ctx); err != nil || hooked != 1 {
		t.Fatalf("DeleteExpired = %v (hook ran %d times)", err, hooked)
	}
	if !exists(t, markerPath(s, "alice", k)) {
		t.Error("the sweeper removed the marker of a live session")
	}
	if got := sortedUserKeys(t, s, "alice"); !slices.Equal(got, []string{k}) {
		t.Errorf("UserKeys(alice) = %d keys, want the new session", len(got))
	}
}

// TestUserIndex_WriteFailureDropsNewMarker: a write that fails leaves the
// previous record and its owner's marker, and removes the marker it made
// for the new owner.
func TestUserIndex_WriteFailureDropsNewMarker(t *testing.T) {
	s, _ := newTestStore(t, nil)
	ctx := t.Context()
	live := time.Now().Add(time.Hour)
	k, fresh := storetest.Key("failing"), storetest.Key("failing-new")
	if err := s.Save(ctx, k, session.Record{Data: []byte("v1"), Expires: live, UserID: "alice"}); err != nil {
		t.Fatal(err)
	}
	s.hooks.write = func(*os.File, []byte) (int, error) { return 0, syscall.ENOSPC }
	next := session.Record{Data: []byte("v2"), Expires: live, UserID: "bob"}
	if err := s.Save(ctx, k, next); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Save = %v, want ENOSPC", err)
	}
	if err := s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) { return next, nil }); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Update = %v, want ENOSPC", err)
	}
	if err := s.Save(ctx, fresh, next); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("Save of a new session = %v, want ENOSPC", err)
	}
	s.hooks.write = nil
	if got, want := userDirs(t, s.Dir()), wantIndex(s, map[string][]string{"alice": {k}, "bob": nil}); !slices.Equal(got, want) {
		t.Errorf("index holds\n%v\nwant\n%v", got, want)
	}
	if rec, err := s.Load(ctx, k); err != nil || rec.UserID != "alice" || string(rec.Data) != "v1" {
		t.Errorf("Load = %q, %q, %v; want the previous version", rec.UserID, rec.Data, err)
	}
}

// TestUserIndex_SweepRacesWriters sweeps in a loop while writers keep
// giving their user a session and taking it away, in shards of their own:
// the sweeper removes a user's directory whenever it is empty, and no write
// fails and no UserKeys misses the writer's live session.
func TestUserIndex_SweepRacesWriters(t *testing.T) {
	s, _ := newTestStore(t, func(o *Options) { o.NoSync = true })
	ctx := t.Context()
	keys := []string{keysInShard("racer", "4b", 1)[0], keysInShard("racer", "4c", 1)[0]}
	stopSweeping := sweepInLoop(t, s)
	var wg sync.WaitGroup
	for w, k := range keys {
		wg.Add(1)
		go func() {
			defer wg.Done()
			uid := fmt.Sprint("racer-", w)
			for i := range 200 {
				rec := session.Record{Data: []byte(fmt.Sprint(w, "-", i)), Expires: time.Now().Add(time.Hour), UserID: uid}
				if err := s.Save(ctx, k, rec); err != nil {
					t.Errorf("Save: %v", err)
					return
				}
				got, err := s.UserKeys(ctx, uid)
				if err != nil || !slices.Contains(got, k) {
					t.Errorf("UserKeys = %d keys, %v; missing the live session just saved", len(got), err)
					return
				}
				if i%2 == 0 {
					err = s.Delete(ctx, k)
				} else {
					_, err = s.DeleteUser(ctx, uid)
				}
				if err != nil {
					t.Errorf("delete: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	sweeps := stopSweeping()
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if got := userDirs(t, s.Dir()); len(got) != 0 {
		t.Errorf("index not empty at the end: %v", got)
	}
	t.Logf("%d sweeps", sweeps)
}

// TestUserIndex_NoOwnerAndCanceled: sessions without an owner are not
// indexed, so the empty user ID lists and deletes nothing; a canceled
// context stops both calls.
func TestUserIndex_NoOwnerAndCanceled(t *testing.T) {
	s, _ := newTestStore(t, nil)
	ctx := t.Context()
	k := storetest.Key("anonymous")
	if err := s.Save(ctx, k, session.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if exists(t, filepath.Join(s.Dir(), usersDirName)) {
		t.Error("a session without an owner created the index")
	}
	if keys, err := s.UserKeys(ctx, ""); err != nil || len(keys) != 0 {
		t.Errorf(`UserKeys("") = %v, %v; want none`, keys, err)
	}
	if n, err := s.DeleteUser(ctx, ""); err != nil || n != 0 {
		t.Errorf(`DeleteUser("") = %d, %v; want 0`, n, err)
	}
	if _, err := s.Load(ctx, k); err != nil {
		t.Errorf("the session without an owner: %v", err)
	}
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.UserKeys(canceled, "alice"); !errors.Is(err, context.Canceled) {
		t.Errorf("UserKeys with a canceled context = %v", err)
	}
	if _, err := s.DeleteUser(canceled, "alice"); !errors.Is(err, context.Canceled) {
		t.Errorf("DeleteUser with a canceled context = %v", err)
	}
}
