package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
)

// damagedBolt writes a bolt file of n live sessions (large enough to take
// many leaf pages) and returns its path, a copy with one page zeroed that
// boltstore.Check rejects, and the keys saved.
func damagedBolt(t *testing.T, n int) (sound, damaged string, keys []string) {
	t.Helper()
	dir := t.TempDir()
	sound = filepath.Join(dir, "sound.db")
	st, err := boltstore.Open(sound, &boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for i := range n {
		key := session.StoreKey(fmt.Sprint("salvage-", i))
		rec := session.Record{Data: []byte(strings.Repeat("d", 600)), Expires: time.Now().Add(time.Hour), UserID: "u"}
		if err := st.Save(ctx, key, rec); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sound)
	if err != nil {
		t.Fatal(err)
	}
	damaged = filepath.Join(dir, "damaged.db")
	const page = 4096
	// Zero the first page that Check notices and that leaves the sessions
	// bucket reachable, with some sessions lost: a leaf of sessions.
	for p := 3; p < len(data)/page; p++ {
		bad := append([]byte(nil), data...)
		clear(bad[p*page : (p+1)*page])
		if err := os.WriteFile(damaged, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := boltstore.Check(damaged, nil); !errors.Is(err, session.ErrCorrupt) {
			continue
		}
		rep, err := boltstore.Salvage(ctx, damaged, nil, func(string, session.Record) error { return nil })
		if err == nil && rep.Lost > 0 && rep.Recovered > 0 {
			return sound, damaged, keys
		}
	}
	t.Fatal("no zeroed page made the file fail its check and lose some sessions")
	return
}

func TestCheck_SoundAndDamagedFiles(t *testing.T) {
	sound, damaged, _ := damagedBolt(t, 300)
	if out := ok(t, nil, "check", "--store", "bolt:"+sound); !strings.Contains(out, "ok") {
		t.Errorf("check of a sound file printed %q", out)
	}
	var res checkResult
	jsonOut(t, nil, &res, "check", "--store", "bolt:"+sound)
	if !res.OK || res.Problem != "" {
		t.Errorf("check --json of a sound file = %+v", res)
	}
	fails(t, nil, exitCheck, "sessionctl salvage --from bolt:", "check", "--store", "bolt:"+damaged)
	r := sessionctl(t, nil, "check", "--store", "bolt:"+damaged, "--json")
	if r.code != exitCheck || json.Unmarshal([]byte(r.stdout), &res) != nil || res.OK || res.Problem == "" {
		t.Errorf("check --json of a damaged file: exit %d, %q", r.code, r.stdout)
	}
	fails(t, nil, exitUsage, "bolt stores only", "check", "--store", "file:"+t.TempDir())
	fails(t, nil, exitError, "store does not exist", "check", "--store", "bolt:"+filepath.Join(t.TempDir(), "none.db"))
}

func TestSalvage_CopiesWhatCanBeReadAndCountsTheLoss(t *testing.T) {
	sound, damaged, keys := damagedBolt(t, 300)
	dir := t.TempDir()

	// A sound file: everything copied, nothing lost, exit 0.
	var res salvageResult
	jsonOut(t, nil, &res, "salvage", "--from", "bolt:"+sound, "--to", "bolt:"+filepath.Join(dir, "all.db"))
	if !res.OK || res.Copied != len(keys) || res.Lost != 0 || res.DamagedPages != 0 {
		t.Errorf("salvage of a sound file = %+v", res)
	}

	// A damaged one: the rest copied, the loss counted, exit 3.
	to := filepath.Join(dir, "new.db")
	r := sessionctl(t, nil, "salvage", "--from", "bolt:"+damaged, "--to", "bolt:"+to, "--json")
	if r.code != exitCheck {
		t.Fatalf("salvage of a damaged file: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	if err := json.Unmarshal([]byte(r.stdout), &res); err != nil {
		t.Fatal(err)
	}
	if res.OK || res.Lost == 0 || res.DamagedPages == 0 || res.Copied+res.Lost != len(keys) {
		t.Errorf("salvage report = %+v, want copied + lost = %d", res, len(keys))
	}
	ok(t, nil, "check", "--store", "bolt:"+to)
	st, err := boltstore.Open(to, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	found := 0
	for _, k := range keys {
		rec, err := st.Load(context.Background(), k)
		if err == nil {
			found++
			if len(rec.Data) != 600 || rec.UserID != "u" {
				t.Errorf("salvaged record %s = %d bytes, user %q", k, len(rec.Data), rec.UserID)
			}
		}
	}
	if found != res.Copied {
		t.Errorf("the new file holds %d sessions, the report says %d copied", found, res.Copied)
	}

	// The table says the same in words.
	r = sessionctl(t, nil, "salvage", "--from", "bolt:"+damaged, "--to", "bolt:"+filepath.Join(dir, "again.db"))
	if r.code != exitCheck || !strings.Contains(r.stdout, plural(res.Lost, "session")+" lost") {
		t.Errorf("salvage table: exit %d\n%s\n%s", r.code, r.stdout, r.stderr)
	}
	fails(t, nil, exitUsage, "missing --from", "salvage", "--to", "bolt:"+filepath.Join(dir, "x.db"))
	fails(t, nil, exitUsage, "bolt files only", "salvage", "--from", "file:"+dir, "--to", "memory:")
}
