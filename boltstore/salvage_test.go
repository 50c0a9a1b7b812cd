package boltstore_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
)

// salvageAll salvages the file at path and returns what it recovered.
func salvageAll(t *testing.T, path string) (map[string]session.Record, boltstore.SalvageReport) {
	t.Helper()
	got := map[string]session.Record{}
	rep, err := boltstore.Salvage(t.Context(), path, nil, func(key string, rec session.Record) error {
		if _, dup := got[key]; dup {
			t.Errorf("Salvage handed %s over twice", key)
		}
		got[key] = rec
		return nil
	})
	if err != nil {
		t.Fatalf("Salvage = %v (report %+v)", err, rep)
	}
	return got, rep
}

// checkRecovered fails the test for any recovered record that is not a
// live session of the fixture exactly as it was saved.
func checkRecovered(t *testing.T, fx *fixture, got map[string]session.Record) {
	t.Helper()
	for key, rec := range got {
		want, ok := fx.live[key]
		switch {
		case fx.deleted[key] != nil:
			t.Errorf("Salvage brought deleted session %s back", key)
		case !ok:
			t.Errorf("Salvage recovered %s, which the store does not hold live", key)
		case !bytes.Equal(rec.Data, want.Data) || !rec.Expires.Equal(want.Expires) || rec.UserID != want.UserID:
			t.Errorf("Salvage recovered %s as %.30q (expires %v, user %q); saved %.30q (expires %v, user %q)",
				key, rec.Data, rec.Expires, rec.UserID, want.Data, want.Expires, want.UserID)
		}
	}
}

func TestSalvage_SoundFileRecoversEveryLiveSession(t *testing.T) {
	fx := sharedFixture(t)
	got, rep := salvageAll(t, fx.path)
	checkRecovered(t, fx, got)
	want := boltstore.SalvageReport{Recovered: len(fx.live), Expired: len(fx.expired)}
	if len(got) != len(fx.live) || !reportsEqual(rep, want) {
		t.Errorf("recovered %d; report %+v; want %d and %+v", len(got), rep, len(fx.live), want)
	}
}

func TestSalvage_SmallStoreWithInlineBuckets(t *testing.T) {
	s, path := open(t, nil)
	want := map[string]session.Record{}
	for i := range 3 {
		key := fixtureName(i)
		want[key] = session.Record{Data: []byte{byte(i)}, Expires: time.Now().Add(time.Hour).Round(0), UserID: "u"}
		if err := s.Save(t.Context(), key, want[key]); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	got, rep := salvageAll(t, path)
	if !reportsEqual(rep, boltstore.SalvageReport{Recovered: 3}) || len(got) != 3 {
		t.Fatalf("report %+v, recovered %d; want the 3 sessions", rep, len(got))
	}
	for key, rec := range got {
		if w := want[key]; !bytes.Equal(rec.Data, w.Data) || !rec.Expires.Equal(w.Expires) || rec.UserID != w.UserID {
			t.Errorf("%s: recovered %+v, saved %+v", key, rec, w)
		}
	}
}

func reportsEqual(a, b boltstore.SalvageReport) bool {
	return a.Recovered == b.Recovered && a.Expired == b.Expired && a.DamagedPages == b.DamagedPages &&
		a.Malformed == b.Malformed && a.Unlisted == b.Unlisted && a.Lost == b.Lost &&
		a.IndexDamaged == b.IndexDamaged && slices.Equal(a.Problems, b.Problems)
}

func TestSalvage_DamagedLeafLosesOnlyItsSessions(t *testing.T) {
	fx := sharedFixture(t)
	path := fx.copyTo(t, t.TempDir())
	leaf, live := liveLeaf(t, fx, path, len(fx.pages.leaves["sessions"])/2)
	onLeaf := len(live)
	zeroPage(t, path, leaf, fx.pageSize)
	got, rep := salvageAll(t, path)
	checkRecovered(t, fx, got)
	if onLeaf == 0 || rep.DamagedPages != 1 || rep.IndexDamaged || rep.Lost != onLeaf || rep.Recovered != len(fx.live)-onLeaf || len(rep.Problems) != 1 {
		t.Errorf("zeroed a leaf of %d live sessions: report %+v; want 1 damaged page, those %d lost, the other %d recovered",
			onLeaf, rep, onLeaf, len(fx.live)-onLeaf)
	}
}

func TestSalvage_DamagedIndexIsReported(t *testing.T) {
	fx := sharedFixture(t)
	path := fx.copyTo(t, t.TempDir())
	zeroPage(t, path, fx.pages.leaves["expiry"][1], fx.pageSize)
	got, rep := salvageAll(t, path)
	checkRecovered(t, fx, got)
	if !rep.IndexDamaged || rep.DamagedPages != 1 || rep.Recovered != len(fx.live) {
		t.Errorf("report %+v; want the index reported damaged and every one of %d live sessions recovered", rep, len(fx.live))
	}
	// Every session was recovered: none is lost, though the index that
	// was read is not trusted to vouch for them.
	if rep.Lost != 0 {
		t.Errorf("report %+v; want nothing lost when every session was recovered", rep)
	}
}

// TestSalvage_NeverReturnsDeletedSessions checks that the sessions the
// fixture deleted stay deleted, though many of them are still in the file
// on free pages: from the sound file; from a damaged one; and from one
// whose tree a damaged pointer leads to a free page holding an old version
// of a leaf, with a deleted session on it.
func TestSalvage_NeverReturnsDeletedSessions(t *testing.T) {
	fx := sharedFixture(t)
	raw, err := os.ReadFile(fx.path)
	if err != nil {
		t.Fatal(err)
	}
	inFile := 0
	for _, data := range fx.deleted {
		if bytes.Contains(raw, data) {
			inFile++
		}
	}
	if inFile < 10 {
		t.Fatalf("only %d of the %d deleted sessions are still in the file: the test shows nothing", inFile, len(fx.deleted))
	}

	got, _ := salvageAll(t, fx.path)
	checkRecovered(t, fx, got)

	damaged := fx.copyTo(t, t.TempDir())
	zeroPage(t, damaged, fx.pages.leaves["sessions"][0], fx.pageSize)
	got, _ = salvageAll(t, damaged)
	checkRecovered(t, fx, got)

	misled := fx.copyTo(t, t.TempDir())
	stale, branch, elem, first := staleLeafWithDeletedSession(t, fx, misled)
	// Point the element at the stale page, with the key the page starts
	// with (of the same length, and still in order): no structural check
	// can tell.
	putUint(t, misled, branch, fx.pageSize, elem.off+8, uint64(stale), 8)
	writeAt(t, misled, first, int64(branch*fx.pageSize+elem.off+int(binary.NativeEndian.Uint32(readPage(t, misled, branch, fx.pageSize)[elem.off:]))))
	got, rep := salvageAll(t, misled)
	checkRecovered(t, fx, got)
	if rep.Unlisted == 0 {
		t.Errorf("report %+v: the deleted sessions on stale page %d were not counted as unlisted", rep, stale)
	}
}

// staleLeafWithDeletedSession finds a free page of the fixture's file at
// path that is an old version of a leaf of the sessions bucket holding a
// deleted session, and the element of a branch page (pointing to leaves)
// whose key range holds all of its keys, so that pointing the element at
// it, with its first key, makes a tree that passes every structural check.
func staleLeafWithDeletedSession(t *testing.T, fx *fixture, path string) (stale, branch int, elem rawElem, first []byte) {
	t.Helper()
	used := map[int]bool{0: true, 1: true}
	for _, id := range fx.pages.used {
		used[id] = true
	}
	type parent struct {
		id  int
		els []rawElem
	}
	var parents []parent // branch pages of the sessions bucket whose children are leaves
	for _, id := range fx.pages.branches {
		els := rawElems(readPage(t, path, id, fx.pageSize))
		child := readPage(t, path, els[0].child, fx.pageSize)
		if len(els[0].key) == 64 && child[8] == 0x02 {
			parents = append(parents, parent{id, els})
		}
	}
	for id := 2; id < fx.pages.hwm; id++ {
		if used[id] {
			continue
		}
		page := readPage(t, path, id, fx.pageSize)
		if binary.NativeEndian.Uint64(page) != uint64(id) || page[8] != 0x02 || leafBucket(page) != "sessions" {
			continue
		}
		els := rawElems(page)
		if !slices.ContainsFunc(els, func(e rawElem) bool { return fx.deleted[string(e.key)] != nil }) {
			continue
		}
		first, last := bytes.Clone(els[0].key), els[len(els)-1].key
		for _, p := range parents {
			for i, e := range p.els {
				// Neither the first element, whose key the branch's parent
				// has too, nor the last, whose range ends where the
				// branch's own does, which its parent sets.
				if i > 0 && i+1 < len(p.els) && bytes.Compare(e.key, first) <= 0 && bytes.Compare(last, p.els[i+1].key) < 0 {
					return id, p.id, e, first
				}
			}
		}
	}
	t.Fatal("no free page holds an old leaf with a deleted session")
	return 0, 0, rawElem{}, nil
}

func TestSalvage_StopsAtFnsError(t *testing.T) {
	fx := sharedFixture(t)
	stop := errors.New("stop")
	n := 0
	rep, err := boltstore.Salvage(t.Context(), fx.path, nil, func(string, session.Record) error {
		if n == 10 {
			return stop
		}
		n++
		return nil
	})
	if !errors.Is(err, stop) || rep.Recovered != 10 {
		t.Errorf("Salvage = %+v, %v; want fn's error after 10 records", rep, err)
	}
}

func TestSalvage_RefusesWhatItCannotStartFrom(t *testing.T) {
	fx := sharedFixture(t)
	for name, damage := range map[string]func(path string){
		"both meta pages zeroed": func(path string) {
			zeroPage(t, path, 0, fx.pageSize)
			zeroPage(t, path, 1, fx.pageSize)
		},
		"root bucket zeroed": func(path string) { zeroPage(t, path, rootLeaf(t, path, fx.pageSize), fx.pageSize) },
	} {
		path := fx.copyTo(t, t.TempDir())
		damage(path)
		called := false
		_, err := boltstore.Salvage(t.Context(), path, nil, func(string, session.Record) error { called = true; return nil })
		if !errors.Is(err, session.ErrCorrupt) || called {
			t.Errorf("%s: Salvage = %v (fn called: %v); want an error wrapping session.ErrCorrupt", name, err, called)
		}
	}
	_, err := boltstore.Salvage(t.Context(), fx.path, &boltstore.Options{Bucket: "other"}, func(string, session.Record) error { return nil })
	if err == nil || errors.Is(err, session.ErrCorrupt) {
		t.Errorf("Salvage of a missing bucket = %v; want an error, not ErrCorrupt", err)
	}
}
