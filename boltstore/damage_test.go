package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/storetest"
)

// The damage tests open damaged files in child processes running this test
// binary again, since what they guard against is the process dying: a
// panic in a goroutine of bbolt's, a memory fault, a hang.
const (
	damageFileEnv  = "BOLTSTORE_DAMAGE_FILE"  // the file the child opens
	damageAfterEnv = "BOLTSTORE_DAMAGE_AFTER" // damage the child does once the store is open
)

// childTimeout bounds a child: one that has not exited by then is killed
// and fails its test as hung.
const childTimeout = 60 * time.Second

// damageCase is one damaged copy of the fixture.
type damageCase struct {
	name   string
	damage func(t *testing.T, path string) // applied to the copy before the child runs
	after  string                          // or damage the child applies once open (see damageAfterOpen)
}

// TestOpen_DamagedFileNeverCrashesOrHangs damages copies of a real store of
// 2,000 sessions in the ways reported (one used page zeroed, bytes flipped
// at random, truncation, zeroed meta pages), each over several seeds, and
// opens each in a child process that then ranges, loads, saves, deletes,
// sweeps and closes. A child must exit normally having either been refused
// by Open with an error wrapping session.ErrCorrupt that names the file and
// the way out, or been served with at most errors wrapping ErrCorrupt.
func TestOpen_DamagedFileNeverCrashesOrHangs(t *testing.T) {
	fx := sharedFixture(t)
	ps := fx.pages
	// bbolt grows the file in steps of 16 MiB: the pages in use are those
	// below the high-water mark.
	size := ps.hwm * fx.pageSize
	zero := func(id int) func(*testing.T, string) {
		return func(t *testing.T, path string) { zeroPage(t, path, id, fx.pageSize) }
	}
	var cases []damageCase
	for seed := range 6 {
		id := ps.used[(seed*7919+13)%len(ps.used)]
		cases = append(cases, damageCase{name: fmt.Sprintf("zero-used-page-%d", id), damage: zero(id)})
	}
	for _, b := range []string{"root", "sessions", "expiry", "users"} {
		id := ps.leaves[b][len(ps.leaves[b])/2]
		cases = append(cases, damageCase{name: fmt.Sprintf("zero-%s-leaf-%d", b, id), damage: zero(id)})
	}
	for _, id := range ps.branches[:min(2, len(ps.branches))] {
		cases = append(cases, damageCase{name: fmt.Sprintf("zero-branch-%d", id), damage: zero(id)})
	}
	for seed := range uint64(8) {
		cases = append(cases, damageCase{name: fmt.Sprintf("flip-50-bytes-seed-%d", seed), damage: func(t *testing.T, path string) {
			flipBytes(t, path, seed, 50, size)
		}})
	}
	for _, at := range []int{100, 5000, size / 4, size / 2, 3 * size / 4, size - fx.pageSize, size - 1} {
		cases = append(cases, damageCase{name: fmt.Sprintf("truncate-at-%d", at), damage: func(t *testing.T, path string) {
			if err := os.Truncate(path, int64(at)); err != nil {
				t.Fatal(err)
			}
		}})
	}
	cases = append(cases,
		damageCase{name: "zero-meta-0", damage: zero(0)},
		damageCase{name: "zero-meta-1", damage: zero(1)},
		damageCase{name: "zero-both-metas", damage: func(t *testing.T, path string) {
			zeroPage(t, path, 0, fx.pageSize)
			zeroPage(t, path, 1, fx.pageSize)
		}},
	)
	runDamageCases(t, fx, cases)
}

// TestStore_DamageAfterOpenIsContained damages the file under an open
// store (truncation, zeroed pages, as another process scribbling on it
// would) and checks, in a child process making the same calls, that those
// that meet the damage fail with errors wrapping session.ErrCorrupt instead
// of crashing the process, and that a store whose file lost its meta pages
// refuses further work and closes without hanging. Writes rely on the
// committer too, which contains what panics while bbolt commits.
func TestStore_DamageAfterOpenIsContained(t *testing.T) {
	fx := sharedFixture(t)
	ps := fx.pages
	size := ps.hwm * fx.pageSize
	sessions := ps.leaves["sessions"]
	cases := []damageCase{
		{name: "truncate-to-half", after: fmt.Sprint("truncate:", size/2)},
		{name: "truncate-to-two-pages", after: fmt.Sprint("truncate:", 2*fx.pageSize)},
		{name: "truncate-to-zero", after: "truncate:0"},
		{name: "zero-three-session-leaves", after: fmt.Sprintf("zero:%d,%d,%d", sessions[1], sessions[len(sessions)/2], sessions[len(sessions)-2])},
		{name: "zero-every-branch", after: "zero:" + joinInts(ps.branches)},
		{name: "zero-meta-pages", after: "zero:0,1"},
	}
	runDamageCases(t, fx, cases)
}

func joinInts(ids []int) string {
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = strconv.Itoa(id)
	}
	return strings.Join(s, ",")
}

// runDamageCases runs each case in a child process on its own copy of the
// fixture, two at a time.
func runDamageCases(t *testing.T, fx *fixture, cases []damageCase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			path := fx.copyTo(t, t.TempDir())
			if c.damage != nil {
				c.damage(t, path)
			}
			ctx, cancel := context.WithTimeout(context.Background(), childTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDamageChild$", "-test.count=1")
			cmd.Env = append(os.Environ(), damageFileEnv+"="+path, damageAfterEnv+"="+c.after, fmt.Sprint(damagePageSizeEnv, "=", fx.pageSize),
				"GORACE=atexit_sleep_ms=0") // a race-enabled child otherwise waits a second as it exits
			out, err := cmd.CombinedOutput()
			switch {
			case ctx.Err() != nil:
				t.Fatalf("child hung: killed after %v\n%s", childTimeout, excerpt(out))
			case err != nil:
				t.Fatalf("child died: %v\n%s", err, excerpt(out))
			case !strings.Contains(string(out), damageChildOK):
				t.Fatalf("child exited without finishing\n%s", excerpt(out))
			}
			for _, l := range strings.Split(string(out), "\n") {
				if strings.HasPrefix(l, damageChildOK) {
					t.Log(l)
				}
			}
		})
	}
}

// excerpt is the start and the end of a child's output, enough to see why it
// failed: a panic's message comes first, its stacks after.
func excerpt(out []byte) string {
	const n = 3000
	if len(out) > 2*n {
		return string(out[:n]) + "\n...\n" + string(out[len(out)-n:])
	}
	return string(out)
}

const (
	damagePageSizeEnv = "BOLTSTORE_DAMAGE_PAGE_SIZE"
	damageChildOK     = "DAMAGE-CHILD-OK"
)

// TestDamageChild is not a test: it is the child process of the damage
// tests, and skips otherwise.
func TestDamageChild(t *testing.T) {
	path := os.Getenv(damageFileEnv)
	if path == "" {
		t.Skip("runs only as a child of the damage tests")
	}
	after := os.Getenv(damageAfterEnv)
	s, err := boltstore.Open(path, &boltstore.Options{Timeout: 5 * time.Second, NoSync: true})
	if err != nil {
		if !errors.Is(err, session.ErrCorrupt) {
			t.Fatalf("Open = %v; want nil or an error wrapping session.ErrCorrupt", err)
		}
		if strings.Contains(err.Error(), "panicked") {
			t.Errorf("Open = %v; the verification should have found the damage before bbolt met it", err)
		}
		for _, want := range []string{path, "sessionctl check --store bolt:" + path, "sessionctl salvage --from bolt:" + path} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Open's error %q does not mention %q", err, want)
			}
		}
		fmt.Println(damageChildOK, "refused by Open:", err)
		return
	}
	if after != "" {
		damageAfterOpen(t, path, after)
	}
	var st damageStats
	exercise(t, s, &st)
	err = s.Close()
	st.check(t, "Close", err)
	fmt.Printf("%s opened; %+v\n", damageChildOK, st)
}

// damageAfterOpen applies spec ("truncate:SIZE" or "zero:ID,ID,...") to the
// file under the open store.
func damageAfterOpen(t *testing.T, path, spec string) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch kind {
	case "truncate":
		n, err := strconv.Atoi(arg)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, int64(n)); err != nil {
			t.Fatal(err)
		}
	case "zero":
		pageSize, err := strconv.Atoi(os.Getenv(damagePageSizeEnv))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range strings.Split(arg, ",") {
			id, err := strconv.Atoi(s)
			if err != nil {
				t.Fatal(err)
			}
			zeroPage(t, path, id, pageSize)
		}
	default:
		t.Fatalf("unknown damage %q", spec)
	}
}

// damageStats counts what a child's calls returned.
type damageStats struct {
	OK, NotFound, Corrupt int
}

// check records err from op, failing the test for any error but one
// wrapping session.ErrCorrupt or ErrNotFound.
func (st *damageStats) check(t *testing.T, op string, err error) {
	t.Helper()
	switch {
	case err == nil:
		st.OK++
	case errors.Is(err, session.ErrCorrupt):
		st.Corrupt++
	case errors.Is(err, session.ErrNotFound):
		st.NotFound++
	default:
		t.Errorf("%s = %v; want nil or an error wrapping session.ErrCorrupt", op, err)
	}
}

// exercise makes the calls an application makes, on every session of the
// fixture: reads, then writes of every kind.
func exercise(t *testing.T, s *boltstore.Store, st *damageStats) {
	ctx := context.Background()
	st.check(t, "Range", s.Range(ctx, func(string, session.Record) bool { return true }))
	st.check(t, "RangeExpired", s.RangeExpired(ctx, func(string, session.Record) bool { return true }))
	for i := range fixtureSessions {
		_, err := s.Load(ctx, fixtureName(i))
		st.check(t, "Load", err)
	}
	_, err := s.UserKeys(ctx, "user-1")
	st.check(t, "UserKeys", err)
	_, err = s.Stats(ctx)
	st.check(t, "Stats", err)
	exp := time.Now().Add(time.Hour)
	for i := range 50 {
		st.check(t, "Save", s.Save(ctx, storetest.Key(fmt.Sprint("new-", i)), session.Record{Data: []byte("new"), Expires: exp}))
	}
	for i := range 50 {
		st.check(t, "Save", s.Save(ctx, fixtureName(i), session.Record{Data: []byte("again"), Expires: exp, UserID: "user-x"}))
		st.check(t, "Delete", s.Delete(ctx, fixtureName(1000+i)))
		st.check(t, "Update", s.UpdateRecord(ctx, fixtureName(500+i), func(cur session.Record, found bool) (session.Record, error) {
			cur.Data = append(cur.Data[:len(cur.Data):len(cur.Data)], '!')
			cur.Expires = exp
			return cur, nil
		}))
	}
	_, err = s.DeleteUser(ctx, "user-2")
	st.check(t, "DeleteUser", err)
	_, err = s.DeleteExpired(ctx)
	st.check(t, "DeleteExpired", err)
	st.check(t, "Range", s.Range(ctx, func(string, session.Record) bool { return true }))
}
