package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/filestore"
	"github.com/sessionkv/session/redisstore/redistest"
)

// binary is the sessionctl executable built once by TestMain.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sessionctl-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "sessionctl")
	if out, err := exec.Command("go", "build", "-o", binary, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is what one run of the binary did.
type result struct {
	code           int
	stdout, stderr string
}

// sessionctl runs the binary with args. env replaces the SESSION_*
// variables of the test's environment, which are otherwise removed.
func sessionctl(t testing.TB, env map[string]string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SESSION_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("run sessionctl %v: %v", args, err)
	}
	return result{code, stdout.String(), stderr.String()}
}

// ok runs the binary and fails the test unless it exits 0 and quietly.
func ok(t testing.TB, env map[string]string, args ...string) string {
	t.Helper()
	r := sessionctl(t, env, args...)
	if r.code != 0 || r.stderr != "" {
		t.Fatalf("sessionctl %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// fails runs the binary and checks its exit status and that stderr is one
// line containing want.
func fails(t testing.TB, env map[string]string, code int, want string, args ...string) result {
	t.Helper()
	r := sessionctl(t, env, args...)
	if r.code != code {
		t.Fatalf("sessionctl %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	if strings.Count(r.stderr, "\n") != 1 || !strings.Contains(r.stderr, want) {
		t.Fatalf("sessionctl %s: stderr %q, want one line containing %q", strings.Join(args, " "), r.stderr, want)
	}
	return r
}

// jsonOut runs the binary with --json and decodes its output into v.
func jsonOut(t testing.TB, env map[string]string, v any, args ...string) {
	t.Helper()
	out := ok(t, env, append(args, "--json")...)
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("sessionctl %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
	if dec.More() {
		t.Fatalf("sessionctl %s --json: more than one JSON document\n%s", strings.Join(args, " "), out)
	}
}

// fixture is what populate put in a store.
type fixture struct {
	ids     map[string]string // session name -> session ID
	users   map[string]string // session name -> user ID
	expired int               // expired records not yet swept
}

func (f fixture) key(name string) string { return session.StoreKey(f.ids[name]) }

func (f fixture) live() int { return len(f.ids) }

// populate saves five live sessions through an engine (three of them owned
// by alice and bob) and two records that have already expired.
func populate(t testing.TB, st session.Store) fixture {
	t.Helper()
	ctx := context.Background()
	opts := session.DefaultOptions()
	opts.SweepInterval = -1
	e, err := session.New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	f := fixture{ids: map[string]string{}, users: map[string]string{}}
	for i, name := range []string{"alice-laptop", "alice-phone", "bob", "anon1", "anon2"} {
		s, _ := e.Load(ctx, "")
		s.Set("name", name)
		s.Set("n", i)
		s.Set("blob", []byte{1, 2, 3})
		s.Set("big", strings.Repeat("x", 100*i))
		if user, _, found := strings.Cut(name, "-"); found || name == "bob" {
			s.SetUserID(user)
			f.users[name] = user
		}
		if name == "anon2" {
			s.SetMaxAge(time.Hour)
		}
		if err := e.Save(ctx, s); err != nil {
			t.Fatal(err)
		}
		f.ids[name] = s.ID()
	}
	for i := range 2 {
		rec := session.Record{Data: []byte("gone"), Expires: time.Now().Add(-time.Hour), UserID: "alice"}
		if err := st.Save(ctx, session.StoreKey(fmt.Sprint("expired", i)), rec); err != nil {
			t.Fatal(err)
		}
		f.expired++
	}
	return f
}

// newBolt makes a bolt store file holding the fixture and returns its path.
func newBolt(t testing.TB) (string, fixture) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sessions.db")
	st, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return path, populate(t, st)
}

// newFiles makes a file store directory holding the fixture.
func newFiles(t testing.TB) (string, fixture) {
	t.Helper()
	dir := t.TempDir()
	st, err := filestore.New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	return dir, populate(t, st)
}

// lsResult is the JSON output of ls.
type lsResult struct {
	Store     string       `json:"store"`
	Sessions  []sessionRow `json:"sessions"`
	Count     int          `json:"count"`
	Truncated bool         `json:"truncated"`
}

func TestHelp_EveryCommandHasUsageAndExample(t *testing.T) {
	out := ok(t, nil, "--help")
	for _, c := range commands {
		if !strings.Contains(out, c.name) {
			t.Errorf("overview lacks %s", c.name)
		}
		for _, args := range [][]string{{c.name, "--help"}, {"help", c.name}} {
			h := ok(t, nil, args...)
			if !strings.Contains(h, "Usage: sessionctl "+c.name) || !strings.Contains(h, "Example:\n") ||
				!strings.Contains(h, "sessionctl "+c.name+" --") || !strings.Contains(h, "--json") {
				t.Errorf("sessionctl %v:\n%s", args, h)
			}
		}
	}
}

func TestUsageErrors_ExitTwo(t *testing.T) {
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"unknown command", []string{"frobnicate"}},
		{"flag provided but not defined", []string{"ls", "--bogus"}},
		{"unexpected argument", []string{"stats", "extra"}},
		{"--limit -1", []string{"ls", "--limit", "-1"}},
		{"missing KEY or --cookie", []string{"show"}},
		{"not a session ID", []string{"show", "--cookie", "short"}},
		{"missing --user", []string{"revoke"}},
		{"missing --to", []string{"migrate"}},
		{"unknown store scheme \"mongo\"", []string{"stats", "--store", "mongo://db/x"}},
		{"bad store URL", []string{"stats", "--store", "/var/lib/app/sessions.db"}},
		{"bad store URL", []string{"ls", "--store", "bolt://otherhost/x.db"}},
		{"needs a path", []string{"ls", "--store", "bolt:"}},
		{"needs a path", []string{"stats", "--store", "file:"}},
		{"needs a path", []string{"migrate", "--from", "bolt:", "--to", "memory:"}},
		{"unknown SESSION_ENGINE", []string{"stats"}},
	} {
		env := map[string]string{}
		if tc.want == "unknown SESSION_ENGINE" {
			env["SESSION_ENGINE"] = "mongo"
		}
		fails(t, env, exitUsage, tc.want, tc.args...)
	}
	if r := sessionctl(t, nil); r.code != exitUsage || !strings.Contains(r.stderr, "Usage") {
		t.Errorf("no arguments: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestMissingStore_IsNotCreated(t *testing.T) {
	dir := t.TempDir()
	bolt := filepath.Join(dir, "nope.db")
	files := filepath.Join(dir, "nope")
	for _, cmd := range [][]string{{"ls"}, {"stats"}, {"show", strings.Repeat("a", 64)}, {"clearsessions"},
		{"revoke", "--user", "u"}, {"compact"}} {
		fails(t, nil, exitError, "store does not exist", append(cmd, "--store", "bolt:"+bolt)...)
		if cmd[0] != "compact" {
			fails(t, nil, exitError, "store does not exist", append(cmd, "--store", "file:"+files)...)
		}
	}
	fails(t, map[string]string{"SESSION_FILE_PATH": dir}, exitError, "store does not exist", "stats")
	fails(t, nil, exitError, "store does not exist", "migrate", "--from", "bolt:"+bolt, "--to", "file:"+files)
	for _, p := range []string{bolt, files, filepath.Join(dir, "sessions.db")} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s was created", p)
		}
	}
}

func TestRedis_UnreachableIsAClearError(t *testing.T) {
	fails(t, nil, exitError, "cannot reach Redis at 127.0.0.1:1", "stats", "--store", "redis://127.0.0.1:1/0")
	fails(t, nil, exitUsage, "bad store URL", "stats", "--store", "redis://127.0.0.1:6379/0?bogus=1")
}

func TestMigrate_BoltToRedisToFile(t *testing.T) {
	srv := redistest.Start(t)
	src, f := newBolt(t)
	rdb := "redis://" + srv.Addr() + "/0?prefix=ctl:"
	dir := t.TempDir()
	var res migrateResult
	jsonOut(t, nil, &res, "migrate", "--from", "bolt:"+src, "--to", rdb)
	if !res.OK || res.Copied != f.live() || res.Verified != f.live() || strings.Contains(res.To, "?") && !strings.Contains(res.To, "prefix=ctl") {
		t.Fatalf("bolt to redis: %+v", res)
	}
	var st statsResult
	jsonOut(t, nil, &st, "stats", "--store", rdb)
	if st.Live != f.live() || st.Expired != nil || st.WithUser != 3 {
		t.Errorf("redis stats: %+v", st)
	}
	var shown showResult
	jsonOut(t, nil, &shown, "show", "--store", rdb, "--cookie", f.ids["bob"])
	if shown.UserID != "bob" || shown.Values["name"] != "bob" {
		t.Errorf("redis show: %+v", shown)
	}
	var cl clearResult
	jsonOut(t, nil, &cl, "clearsessions", "--store", rdb)
	if cl.Deleted != 0 || cl.Note == "" {
		t.Errorf("redis clearsessions: %+v", cl)
	}
	jsonOut(t, nil, &res, "migrate", "--from", rdb, "--to", "file:"+dir)
	if !res.OK || res.Copied != f.live() {
		t.Fatalf("redis to file: %+v", res)
	}
	var rv revokeResult
	jsonOut(t, nil, &rv, "revoke", "--store", rdb, "--user", "alice")
	if rv.Revoked != 2 || rv.Method != "index" {
		t.Errorf("redis revoke: %+v", rv)
	}
	// Another prefix is another store.
	var other statsResult
	jsonOut(t, nil, &other, "stats", "--store", "redis://"+srv.Addr()+"/0")
	if other.Live != 0 {
		t.Errorf("default prefix sees %d sessions", other.Live)
	}
}

func TestLockedBolt_FailsFastWithClearMessage(t *testing.T) {
	path, _ := newBolt(t)
	held, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	start := time.Now()
	for _, cmd := range [][]string{{"ls"}, {"stats"}, {"clearsessions"}, {"compact"}} {
		fails(t, nil, exitLocked, "locked by another process", append(cmd, "--store", "bolt:"+path, "--lock-wait", "200ms")...)
	}
	fails(t, nil, exitLocked, "locked by another process", "migrate", "--from", "bolt:"+path, "--to", "file:"+t.TempDir(), "--lock-wait", "200ms")
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("locked runs took %v", d)
	}
}

func TestLs_Bolt(t *testing.T) {
	path, f := newBolt(t)
	store := "bolt:" + path
	var all lsResult
	jsonOut(t, nil, &all, "ls", "--store", store)
	if all.Count != f.live() || len(all.Sessions) != f.live() || all.Truncated || all.Store != store {
		t.Fatalf("ls = %+v, want %d sessions", all, f.live())
	}
	for name, id := range f.ids {
		found := false
		for _, r := range all.Sessions {
			if r.Key == session.StoreKey(id) {
				found = r.UserID == f.users[name] && r.Size > 0 && time.Until(r.Expires) > 0
			}
		}
		if !found {
			t.Errorf("%s missing or wrong in %+v", name, all.Sessions)
		}
	}
	for i := 1; i < len(all.Sessions); i++ {
		if all.Sessions[i-1].Key >= all.Sessions[i].Key {
			t.Errorf("not in key order: %v", all.Sessions)
		}
	}

	var alice lsResult
	jsonOut(t, nil, &alice, "ls", "--store", store, "--user", "alice")
	if alice.Count != 2 || alice.Sessions[0].UserID != "alice" || alice.Sessions[1].UserID != "alice" {
		t.Errorf("ls --user alice = %+v", alice)
	}
	var two lsResult
	jsonOut(t, nil, &two, "ls", "--store", store, "--limit", "2")
	if two.Count != 2 || !two.Truncated {
		t.Errorf("ls --limit 2 = %+v", two)
	}

	table := ok(t, nil, "ls", "--store", store)
	if !strings.HasPrefix(table, "KEY") || !strings.Contains(table, f.key("bob")) || !strings.Contains(table, "5 sessions\n") {
		t.Errorf("ls table:\n%s", table)
	}
}

func TestLs_Expired_ListsUnsweptSessions(t *testing.T) {
	boltPath, f := newBolt(t)
	filesDir, _ := newFiles(t)
	for _, store := range []string{"bolt:" + boltPath, "file:" + filesDir} {
		var res lsResult
		jsonOut(t, nil, &res, "ls", "--store", store, "--expired")
		if res.Count != f.expired || len(res.Sessions) != f.expired {
			t.Fatalf("%s: ls --expired = %+v, want the %d expired sessions", store, res, f.expired)
		}
		want := map[string]bool{session.StoreKey("expired0"): true, session.StoreKey("expired1"): true}
		for _, r := range res.Sessions {
			if !want[r.Key] {
				t.Errorf("%s: ls --expired listed %s", store, r.Key)
			}
		}
		jsonOut(t, nil, &res, "ls", "--store", store, "--expired", "--limit", "1")
		if len(res.Sessions) != 1 || !res.Truncated {
			t.Errorf("%s: ls --expired --limit 1 = %+v", store, res)
		}
		if out := ok(t, nil, "ls", "--store", store, "--expired"); !strings.Contains(out, session.StoreKey("expired0")) {
			t.Errorf("%s: ls --expired table:\n%s", store, out)
		}
	}
	fails(t, nil, exitUsage, "do not combine", "ls", "--store", "bolt:"+boltPath, "--expired", "--user", "x")

	// SESSION_ENGINE=cached names a cache in front of the bolt file: the
	// listing comes from the file behind it.
	var res lsResult
	env := map[string]string{"SESSION_ENGINE": "cached", "SESSION_FILE_PATH": filepath.Dir(boltPath)}
	jsonOut(t, env, &res, "ls", "--expired")
	if res.Count != f.expired || len(res.Sessions) != f.expired {
		t.Fatalf("SESSION_ENGINE=cached: ls --expired = %+v, want the %d expired sessions", res, f.expired)
	}
}

func TestStats_BoltAndFiles(t *testing.T) {
	path, f := newBolt(t)
	dir, _ := newFiles(t)
	for _, store := range []string{"bolt:" + path, "file:" + dir} {
		var st statsResult
		jsonOut(t, nil, &st, "stats", "--store", store)
		if st.Live != f.live() || st.Expired == nil || *st.Expired != f.expired || *st.Stored != f.live()+f.expired ||
			st.WithUser != 3 || st.Store != store {
			t.Errorf("%s: stats = %+v", store, st)
		}
		if st.Size.Max < 400 || st.Size.P50 > st.Size.P90 || st.Size.P90 > st.Size.P99 || st.Size.P99 > st.Size.Max ||
			st.Size.Total < int64(st.Size.Max) {
			t.Errorf("%s: sizes = %+v", store, st.Size)
		}
		hist := 0
		for _, b := range st.ExpiresIn {
			hist += b.Count
		}
		// anon2 expires within the hour, the others in about two weeks.
		if hist != f.live() || st.ExpiresIn[0].Count != 1 || st.ExpiresIn[len(st.ExpiresIn)-2].Count != f.live()-1 {
			t.Errorf("%s: histogram %+v", store, st.ExpiresIn)
		}
		table := ok(t, nil, "stats", "--store", store)
		if !strings.Contains(table, "5 live, 2 expired") || !strings.Contains(table, "p99") {
			t.Errorf("%s: stats table:\n%s", store, table)
		}
	}
}

func TestShow_ByKeyAndCookie(t *testing.T) {
	path, f := newBolt(t)
	store := "bolt:" + path
	var byKey, byCookie showResult
	jsonOut(t, nil, &byKey, "show", f.key("alice-phone"), "--store", store)
	jsonOut(t, nil, &byCookie, "show", "--store", store, "--cookie", f.ids["alice-phone"])
	if byKey.Key != f.key("alice-phone") || byKey.UserID != "alice" || byKey.Values["name"] != "alice-phone" ||
		byKey.Values["n"] != float64(1) || byKey.Values["blob"] != "AQID" || byKey.Size == 0 || byKey.ExpiresInSeconds <= 0 {
		t.Errorf("show KEY = %+v", byKey)
	}
	// The two commands run a moment apart: the seconds left may differ.
	if d := byKey.ExpiresInSeconds - byCookie.ExpiresInSeconds; d >= 0 && d <= 2 {
		byCookie.ExpiresInSeconds = byKey.ExpiresInSeconds
	}
	if fmt.Sprint(byKey) != fmt.Sprint(byCookie) {
		t.Errorf("show --cookie = %+v, show KEY = %+v", byCookie, byKey)
	}
	var anon2 showResult
	jsonOut(t, nil, &anon2, "show", "--store", store, "--cookie", f.ids["anon2"])
	if anon2.MaxAgeSeconds != 3600 || anon2.UserID != "" {
		t.Errorf("show anon2 = %+v", anon2)
	}
	// show prints JSON with or without --json.
	if out := ok(t, nil, "show", "--store", store, f.key("bob")); !json.Valid([]byte(out)) {
		t.Errorf("show without --json:\n%s", out)
	}
	fails(t, nil, exitNotFound, "no live session", "show", "--store", store, session.StoreKey("expired0"))
	fails(t, nil, exitNotFound, "no live session", "show", "--store", store, strings.Repeat("0", 64))
	fails(t, nil, exitUsage, "not both", "show", "--store", store, f.key("bob"), "--cookie", f.ids["bob"])
	fails(t, nil, exitUsage, "use --cookie", "show", "--store", store, f.ids["bob"])
}

func TestClearsessions_DeletesExpired(t *testing.T) {
	path, f := newBolt(t)
	dir, _ := newFiles(t)
	for _, store := range []string{"bolt:" + path, "file:" + dir} {
		var res clearResult
		jsonOut(t, nil, &res, "clearsessions", "--store", store)
		if res.Deleted != f.expired || res.Store != store {
			t.Errorf("%s: clearsessions = %+v, want %d deleted", store, res, f.expired)
		}
		var st statsResult
		jsonOut(t, nil, &st, "stats", "--store", store)
		if st.Live != f.live() || *st.Expired != 0 {
			t.Errorf("%s: after clearsessions: %+v", store, st)
		}
		if out := ok(t, nil, "clearsessions", "--store", store); out != "deleted 0 expired sessions from "+store+"\n" {
			t.Errorf("%s: second clearsessions: %q", store, out)
		}
	}
}

func TestRevoke_LogsAUserOutEverywhere(t *testing.T) {
	path, f := newBolt(t)
	dir, _ := newFiles(t)
	for _, store := range []string{"bolt:" + path, "file:" + dir} {
		var res revokeResult
		jsonOut(t, nil, &res, "revoke", "--store", store, "--user", "alice")
		if res.Revoked != 2 || res.User != "alice" || (store[:4] == "bolt" && res.Method != "index") {
			t.Errorf("%s: revoke = %+v", store, res)
		}
		var left lsResult
		jsonOut(t, nil, &left, "ls", "--store", store, "--user", "alice")
		if left.Count != 0 {
			t.Errorf("%s: alice still has %+v", store, left)
		}
		var all lsResult
		jsonOut(t, nil, &all, "ls", "--store", store)
		if all.Count != f.live()-2 {
			t.Errorf("%s: revoke took others: %+v", store, all)
		}
		if out := ok(t, nil, "revoke", "--store", store, "--user", "nobody"); !strings.HasPrefix(out, "revoked 0 sessions") {
			t.Errorf("%s: revoke nobody: %q", store, out)
		}
	}
}

func TestEnvDefault_SeesWhatTheDemoUses(t *testing.T) {
	dir := t.TempDir()
	st, err := boltstore.Open(filepath.Join(dir, boltstore.DefaultFileName), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := populate(t, st)
	st.Close()
	var bolt statsResult
	jsonOut(t, map[string]string{"SESSION_FILE_PATH": dir}, &bolt, "stats")
	if bolt.Live != f.live() || bolt.Store != "bolt:"+filepath.Join(dir, "sessions.db") {
		t.Errorf("SESSION_FILE_PATH=dir stats = %+v", bolt)
	}

	fdir, ff := newFiles(t)
	env := map[string]string{"SESSION_ENGINE": "file", "SESSION_FILE_PATH": fdir}
	var files statsResult
	jsonOut(t, env, &files, "stats")
	if files.Live != ff.live() || files.Store != "file:"+fdir {
		t.Errorf("SESSION_ENGINE=file stats = %+v", files)
	}
	var shown showResult
	jsonOut(t, env, &shown, "show", "--cookie", ff.ids["bob"])
	if shown.UserID != "bob" {
		t.Errorf("SESSION_ENGINE=file show = %+v", shown)
	}
	var mig migrateResult
	jsonOut(t, env, &mig, "migrate", "--to", "bolt:"+filepath.Join(t.TempDir(), "to.db"))
	if !mig.OK || mig.From != "file:"+fdir || mig.Copied != ff.live() {
		t.Errorf("migrate from the environment's store = %+v", mig)
	}
	// The flag wins over the environment.
	var flagged statsResult
	jsonOut(t, env, &flagged, "stats", "--store", "bolt:"+filepath.Join(dir, "sessions.db"))
	if flagged.Store != bolt.Store {
		t.Errorf("--store ignored: %+v", flagged)
	}
}

func TestMigrate_BoltToFileToBolt(t *testing.T) {
	src, f := newBolt(t)
	dir := filepath.Join(t.TempDir(), "files")
	back := filepath.Join(t.TempDir(), "back.db")
	want := migrateResult{From: "bolt:" + src, To: "file:" + dir, Copied: f.live(), Verified: f.live(), OK: true}
	for run := 1; run <= 2; run++ { // the second run must change nothing
		var res migrateResult
		jsonOut(t, nil, &res, "migrate", "--from", "bolt:"+src, "--to", "file:"+dir)
		if fmt.Sprint(res) != fmt.Sprint(want) {
			t.Fatalf("run %d: migrate = %+v, want %+v", run, res, want)
		}
		var st statsResult
		jsonOut(t, nil, &st, "stats", "--store", "file:"+dir)
		if st.Live != f.live() || *st.Stored != f.live() {
			t.Fatalf("run %d: target holds %+v", run, st)
		}
	}
	var res migrateResult
	jsonOut(t, nil, &res, "migrate", "--from", "file:"+dir, "--to", "bolt:"+back, "--parallel", "1")
	if !res.OK || res.Copied != f.live() || res.Verified != f.live() {
		t.Fatalf("file to bolt: %+v", res)
	}
	out := ok(t, nil, "migrate", "--from", "file:"+dir, "--to", "bolt:"+back)
	if !strings.Contains(out, fmt.Sprintf("copied %d sessions", f.live())) || !strings.Contains(out, "0 missing") {
		t.Errorf("migrate table:\n%s", out)
	}

	// The round trip keeps values, owners and expiry settings, and the
	// target's user index works.
	for name, id := range f.ids {
		var a, b showResult
		jsonOut(t, nil, &a, "show", "--store", "bolt:"+src, "--cookie", id)
		jsonOut(t, nil, &b, "show", "--store", "bolt:"+back, "--cookie", id)
		a.ExpiresInSeconds, b.ExpiresInSeconds = 0, 0
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Errorf("%s changed:\n%+v\n%+v", name, a, b)
		}
	}
	var rv revokeResult
	jsonOut(t, nil, &rv, "revoke", "--store", "bolt:"+back, "--user", "alice")
	if rv.Revoked != 2 || rv.Method != "index" {
		t.Errorf("revoke after migrate: %+v", rv)
	}
	fails(t, nil, exitUsage, "same store", "migrate", "--from", "bolt:"+back, "--to", "bolt:"+back)
}

func TestCompact_ShrinksAfterDeletions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	st, err := boltstore.Open(path, &boltstore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	big := bytes.Repeat([]byte("x"), 8<<10)
	const n = 400
	for i := range n {
		rec := session.Record{Data: big, Expires: time.Now().Add(time.Hour)}
		if i%10 != 0 {
			rec.Expires = time.Now().Add(-time.Hour) // swept below
		}
		if err := st.Save(ctx, session.StoreKey(fmt.Sprint(i)), rec); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	store := "bolt:" + path
	var cl clearResult
	jsonOut(t, nil, &cl, "clearsessions", "--store", store)
	if cl.Deleted != n-n/10 {
		t.Fatalf("clearsessions = %+v", cl)
	}
	var res compactResult
	jsonOut(t, nil, &res, "compact", "--store", store)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if res.After >= res.Before/2 || res.After != diskSize(fi) || res.After > fi.Size() || res.Store != store {
		t.Errorf("compact = %+v, file now %d bytes on disk, %d apparent", res, diskSize(fi), fi.Size())
	}
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v after compact, want 0640", fi.Mode().Perm())
	}
	var after statsResult
	jsonOut(t, nil, &after, "stats", "--store", store)
	if after.Live != n/10 {
		t.Errorf("after compact: %+v", after)
	}
	if out := ok(t, nil, "compact", "--store", store); !strings.HasPrefix(out, "compacted "+store) {
		t.Errorf("compact table: %q", out)
	}
	if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
		t.Errorf("temporary file left: %v", err)
	}
	// Through a symbolic link, the file is compacted and the link kept.
	link := filepath.Join(t.TempDir(), "link.db")
	if err := os.Symlink(path, link); err != nil {
		t.Fatal(err)
	}
	ok(t, nil, "compact", "--store", "bolt:"+link)
	if fi, err := os.Lstat(link); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Errorf("link replaced: %v", err)
	}
	fails(t, nil, exitUsage, "bolt stores only", "compact", "--store", "file:"+t.TempDir())
}
