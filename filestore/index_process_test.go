package filestore

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/storetest"
)

// The sessions of the multi-process user index test. The parent pins
// sessions of each of indexUsers that no one else touches; each child saves
// and deletes fixed sessions, whose owner never changes, moves its moving
// sessions between all users through UpdateRecord, and saves sessions for the
// victim, whom the parent keeps deleting.
const (
	userChildren   = 3
	fixedPerChild  = 6
	movingPerChild = 3
	victimPerChild = 3
	pinnedPerUser  = 3
	victim         = "mallory"
)

var (
	indexUsers    = []string{"alice", "bob", "carol"}
	allIndexUsers = append(slices.Clone(indexUsers), victim)
)

func pinnedKey(uid string, i int) string { return storetest.Key(fmt.Sprint("pinned-", uid, "-", i)) }
func fixedKey(child, j int) string       { return storetest.Key(fmt.Sprint("fixed-", child, "-", j)) }
func fixedOwner(j int) string            { return indexUsers[j%len(indexUsers)] }
func movingKey(child, j int) string      { return storetest.Key(fmt.Sprint("moving-", child, "-", j)) }
func victimKey(child, j int) string      { return storetest.Key(fmt.Sprint("victim-", child, "-", j)) }

// keyOwners maps every key of the test to its only possible owner, or to
// "*" for the moving keys.
var keyOwners = func() map[string]string {
	m := map[string]string{}
	for _, u := range indexUsers {
		for i := range pinnedPerUser {
			m[pinnedKey(u, i)] = u
		}
	}
	for c := range userChildren {
		for j := range fixedPerChild {
			m[fixedKey(c, j)] = fixedOwner(j)
		}
		for j := range movingPerChild {
			m[movingKey(c, j)] = "*"
		}
		for j := range victimPerChild {
			m[victimKey(c, j)] = victim
		}
	}
	return m
}()

// checkOwned returns an error unless every key may belong to uid.
func checkOwned(uid string, keys []string) error {
	for _, k := range keys {
		if o, ok := keyOwners[k]; !ok || o != "*" && o != uid {
			return fmt.Errorf("UserKeys(%s) returned a session of %q", uid, o)
		}
	}
	return nil
}

// ownerData is the data of key's record while uid owns it.
func ownerData(key, uid string) []byte { return []byte(key[:8] + " owned by " + uid) }

// runUserWriter is a child of TestUserIndex_MultiProcess.
func runUserWriter(t *testing.T) {
	ctx := t.Context()
	s, err := New(os.Getenv(envDir), &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	child, iters := envInt(t, envChild), envInt(t, envIters)
	live := time.Now().Add(time.Hour)
	for i := range iters {
		j := i % fixedPerChild
		k, owner := fixedKey(child, j), fixedOwner(j)
		if i%3 == 2 {
			if err := s.Delete(ctx, k); err != nil {
				t.Fatalf("child %d: delete: %v", child, err)
			}
		} else {
			if err := s.Save(ctx, k, session.Record{Data: ownerData(k, owner), Expires: live, UserID: owner}); err != nil {
				t.Fatalf("child %d: save: %v", child, err)
			}
			// Only this child deletes it: DeleteUser of another user must not.
			rec, err := s.Load(ctx, k)
			if err != nil || rec.UserID != owner || string(rec.Data) != string(ownerData(k, owner)) {
				t.Fatalf("child %d: load of a fixed session = %q, %q, %v", child, rec.UserID, rec.Data, err)
			}
		}

		m := movingKey(child, i%movingPerChild)
		next := allIndexUsers[(i+child)%len(allIndexUsers)]
		err := s.UpdateRecord(ctx, m, func(session.Record, bool) (session.Record, error) {
			if i%5 == 4 {
				return session.Record{}, nil
			}
			return session.Record{Data: ownerData(m, next), Expires: live, UserID: next}, nil
		})
		if err != nil {
			t.Fatalf("child %d: update: %v", child, err)
		}

		v := victimKey(child, i%victimPerChild)
		if err := s.Save(ctx, v, session.Record{Data: ownerData(v, victim), Expires: live, UserID: victim}); err != nil {
			t.Fatalf("child %d: save: %v", child, err)
		}

		u := indexUsers[(i+child)%len(indexUsers)]
		keys, err := s.UserKeys(ctx, u)
		if err == nil {
			err = checkOwned(u, keys)
		}
		if err != nil {
			t.Fatalf("child %d: %v", child, err)
		}
	}
}

// TestUserIndex_MultiProcess runs 3 processes saving, moving and deleting
// sessions of 4 users in one directory while this one lists the users'
// sessions, deletes every session of one of them, and sweeps: UserKeys
// never returns another user's session nor misses a pinned one, DeleteUser
// never deletes another user's session, and once the children are done
// the index matches the records exactly.
func TestUserIndex_MultiProcess(t *testing.T) {
	const iters = 150
	ctx := withTimeout(t, 90*time.Second)
	dir := t.TempDir()
	s, err := New(dir, &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	live := time.Now().Add(time.Hour)
	pinned := map[string][]string{}
	for _, u := range indexUsers {
		for i := range pinnedPerUser {
			k := pinnedKey(u, i)
			if err := s.Save(ctx, k, session.Record{Data: ownerData(k, u), Expires: live, UserID: u}); err != nil {
				t.Fatal(err)
			}
			pinned[u] = append(pinned[u], k)
		}
	}

	done, errs := startChildren(ctx, "user-writer", dir, userChildren, iters)

	rounds, deleted := 0, 0
	for running := true; running; rounds++ {
		select {
		case <-done:
			running = false
		default:
		}
		for _, u := range allIndexUsers {
			keys, err := s.UserKeys(ctx, u)
			if err != nil {
				t.Fatalf("parent: UserKeys: %v", err)
			}
			if err := checkOwned(u, keys); err != nil {
				t.Fatalf("parent: %v", err)
			}
			for _, k := range pinned[u] {
				if !slices.Contains(keys, k) {
					t.Fatalf("parent: UserKeys(%s) missed a live session", u)
				}
			}
		}
		n, err := s.DeleteUser(ctx, victim)
		if err != nil {
			t.Fatalf("parent: DeleteUser: %v", err)
		}
		deleted += n
		if rounds%4 == 0 {
			if _, err := s.DeleteExpired(ctx); err != nil {
				t.Fatalf("parent: sweep: %v", err)
			}
		}
	}
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	for _, u := range indexUsers {
		for _, k := range pinned[u] {
			if rec, err := s.Load(ctx, k); err != nil || rec.UserID != u {
				t.Errorf("pinned session of %s = %q, %v", u, rec.UserID, err)
			}
		}
	}
	checkIndexMatchesRecords(t, s)
	t.Logf("%d rounds of UserKeys for %d users; DeleteUser(%s) deleted %d sessions", rounds, len(allIndexUsers), victim, deleted)
}

// checkIndexMatchesRecords checks a store at rest: UserKeys of every user
// is what Range finds; after a sweep the markers on disk are exactly those
// of the records; DeleteUser deletes each user's records and counts them,
// after which a sweep leaves no user directory.
func checkIndexMatchesRecords(t *testing.T, s *Store) {
	t.Helper()
	ctx := t.Context()
	owned := map[string][]string{}
	err := s.Range(ctx, func(key string, rec session.Record) bool {
		if string(rec.Data) != string(ownerData(key, rec.UserID)) {
			t.Errorf("record %s owned by %q holds %q", key[:8], rec.UserID, rec.Data)
		}
		owned[rec.UserID] = append(owned[rec.UserID], key)
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range allIndexUsers {
		if got, want := sortedUserKeys(t, s, u), sorted(owned[u]); !slices.Equal(got, want) {
			t.Errorf("UserKeys(%s) = %d keys, want the %d Range finds", u, len(got), len(want))
		}
	}
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	markers := map[string][]string{}
	for u, keys := range owned {
		markers[u] = sorted(keys)
	}
	if got, want := userDirs(t, s.Dir()), wantIndex(s, markers); !slices.Equal(got, want) {
		t.Errorf("after a sweep the index holds\n%v\nwant\n%v", got, want)
	}
	for _, u := range allIndexUsers {
		if n, err := s.DeleteUser(ctx, u); err != nil || n != len(owned[u]) {
			t.Errorf("DeleteUser(%s) = %d, %v; want %d", u, n, err, len(owned[u]))
		}
	}
	left := 0
	if err := s.Range(ctx, func(string, session.Record) bool { left++; return true }); err != nil {
		t.Fatal(err)
	}
	if left != 0 {
		t.Errorf("%d sessions left after deleting every user", left)
	}
	if _, err := s.DeleteExpired(ctx); err != nil {
		t.Fatal(err)
	}
	if got := userDirs(t, s.Dir()); len(got) != 0 {
		t.Errorf("after deleting every user and a sweep the index holds %v", got)
	}
}

// The session runMarkerCrash gives to a new owner, and its two owners.
var (
	markerCrashKey                 = storetest.Key("marker-crash")
	markerCrashFrom, markerCrashTo = "ana", "ben"
)

// runMarkerCrash saves a session for ana, then saves it for ben and kills
// itself with SIGKILL at the point envKill names: "write", while the record
// is being written, after ben's marker was made; "moved", once the record is
// ben's, before ana's marker is removed.
func runMarkerCrash(t *testing.T) {
	ctx := t.Context()
	s, err := New(os.Getenv(envDir), nil)
	if err != nil {
		t.Fatal(err)
	}
	expires := time.Now().Add(24 * time.Hour)
	if err := s.Save(ctx, markerCrashKey, session.Record{Data: []byte("v1"), Expires: expires, UserID: markerCrashFrom}); err != nil {
		t.Fatal(err)
	}
	die := func() {
		p, err := os.FindProcess(os.Getpid())
		if err == nil {
			err = p.Kill()
		}
		t.Fatalf("could not kill myself: %v", err)
	}
	switch point := os.Getenv(envKill); point {
	case "write":
		s.hooks.write = func(f *os.File, b []byte) (int, error) {
			f.Write(b[:len(b)/2])
			die()
			return 0, nil
		}
	case "moved":
		s.hooks.afterWrite = func(string) { die() }
	default:
		t.Fatalf("unknown kill point %q", point)
	}
	s.Save(ctx, markerCrashKey, session.Record{Data: []byte("v2"), Expires: expires, UserID: markerCrashTo})
	t.Fatal("survived the save")
}

// TestCrash_MarkerOrdering kills a durable writer between the steps that
// give a session a new owner: before the record is in place, and after it
// but before the previous owner's marker is removed. Either way the owner
// of the record has its marker; the other marker is stale, UserKeys sees
// through it and removes it, and so does the sweeper on its own.
func TestCrash_MarkerOrdering(t *testing.T) {
	ctx := withTimeout(t, 60*time.Second)
	for _, point := range []string{"write", "moved"} {
		t.Run(point, func(t *testing.T) {
			dir := t.TempDir()
			cmd := helperCommand(ctx, "marker-crash", envDir+"="+dir, envKill+"="+point)
			out, err := cmd.CombinedOutput()
			if err == nil || !strings.Contains(err.Error(), "killed") {
				t.Fatalf("writer ended with %v, want killed: %s", err, out)
			}
			owner, staleOwner, data := markerCrashFrom, markerCrashTo, "v1"
			if point == "moved" {
				owner, staleOwner, data = markerCrashTo, markerCrashFrom, "v2"
			}
			k := markerCrashKey

			later := func() time.Time { return time.Now().Add(2 * time.Hour) }
			s, err := New(dir, &Options{Now: later})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			temps := 0
			for _, rel := range tree(t, dir) {
				if strings.HasPrefix(filepath.Base(rel), tmpPrefix) {
					temps++
				}
			}
			if want := map[string]int{"write": 1, "moved": 0}[point]; temps != want {
				t.Errorf("%d temporary files after the crash, want %d", temps, want)
			}
			if !exists(t, markerPath(s, owner, k)) || !exists(t, markerPath(s, staleOwner, k)) {
				t.Fatalf("after the crash: marker of %s %v, of %s %v; want both",
					owner, exists(t, markerPath(s, owner, k)), staleOwner, exists(t, markerPath(s, staleOwner, k)))
			}
			if rec, err := s.Load(ctx, k); err != nil || rec.UserID != owner || string(rec.Data) != data {
				t.Fatalf("Load = %q, %q, %v; want %s's %s", rec.UserID, rec.Data, err, owner, data)
			}

			// A copy of the directory, for the sweeper to meet the stale
			// marker on its own.
			swept := filepath.Join(t.TempDir(), "copy")
			if err := os.CopyFS(swept, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}

			if got := sortedUserKeys(t, s, staleOwner); len(got) != 0 {
				t.Errorf("UserKeys(%s) = %d keys, want none: the marker is stale", staleOwner, len(got))
			}
			if got := sortedUserKeys(t, s, owner); !slices.Equal(got, []string{k}) {
				t.Errorf("UserKeys(%s) = %d keys, want the session", owner, len(got))
			}
			if exists(t, markerPath(s, staleOwner, k)) {
				t.Error("UserKeys left the stale marker")
			}

			other, err := New(swept, &Options{Now: later})
			if err != nil {
				t.Fatal(err)
			}
			defer other.Close()
			if n, err := other.DeleteExpired(ctx); err != nil || n != 0 {
				t.Fatalf("sweep = %d, %v; want no session removed", n, err)
			}
			if got, want := userDirs(t, swept), wantIndex(other, map[string][]string{owner: {k}}); !slices.Equal(got, want) {
				t.Errorf("after the sweep the index holds\n%v\nwant\n%v", got, want)
			}
			for _, rel := range tree(t, swept) {
				if strings.HasPrefix(filepath.Base(rel), tmpPrefix) {
					t.Errorf("the sweep left %s", rel)
				}
			}
		})
	}
}
