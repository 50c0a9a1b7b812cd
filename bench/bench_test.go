package bench

import (
	"bytes"
	"context"
	"errors"
	"image/png"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/memstore"
	"github.com/sessionkv/session/sqlstore/sqltest"
)

// TestRun_Smoke runs the whole suite in smoke mode and checks that every
// group and contender was measured and that every output parses. Its
// PostgreSQL and MariaDB servers are the test binary's shared ones, given
// by URL (TestSQLSource_LaunchesItsServer covers the servers a run
// launches).
func TestRun_Smoke(t *testing.T) {
	plan, err := PlanFor(Smoke)
	if err != nil {
		t.Fatal(err)
	}
	plan.TempDir = t.TempDir()
	plan.PostgresURL, plan.MySQLURL = sharedURLs(t)
	res, err := Run(t.Context(), plan, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{plan.PostgresURL, plan.MySQLURL} {
		if u != "" {
			checkNoDatabasesLeft(t, u)
		}
	}
	for _, g := range groups {
		if !slices.ContainsFunc(res.Cases, func(c Result) bool { return c.Group == g.name }) {
			t.Errorf("no case of group %s", g.name)
		}
	}
	for _, c := range contenders() {
		for _, conc := range plan.Concurrency {
			name := cycleName(c.name, conc)
			if _, ok := res.Find(name); ok {
				continue
			}
			// Without their server, the contenders that need one are
			// reported as not measured.
			if reason, ok := res.skipReason(name); !ok || !mayLack(c.server) {
				t.Errorf("no result for %s (%q)", name, reason)
			}
		}
	}
	for _, c := range contenders() {
		if !c.keyed {
			continue
		}
		for _, n := range plan.SessionKeys {
			name := keysName(c.name, n)
			r, ok := res.Find(name)
			if !ok {
				if reason, ok := res.skipReason(name); !ok || !mayLack(c.server) {
					t.Errorf("no result for %s (%q)", name, reason)
				}
				continue
			}
			if r.Group != "keys" || r.SessionKeys != n || r.Concurrency != 1 {
				t.Errorf("%s: %+v", name, r)
			}
		}
	}
	for _, st := range stores {
		name := "store/sessionkv-" + st.name + "/load"
		if _, ok := res.Find(name); !ok && !mayLack(st.server) {
			t.Errorf("no result for %s", name)
		}
	}
	for _, s := range res.Skipped {
		if !slices.ContainsFunc(contenders(), func(c contender) bool {
			return c.name == s.Contender && c.server != noBackend && s.Reason == c.server.missing().Error()
		}) {
			t.Errorf("skipped %+v", s)
		}
	}
	for _, s := range []struct {
		b    backend
		desc string
	}{{redisBackend, res.Redis}, {postgresBackend, res.Postgres}, {mysqlBackend, res.MySQL}} {
		skipped := slices.ContainsFunc(res.Skipped, func(sk Skip) bool { return sk.Reason == s.b.missing().Error() })
		if skipped == (s.desc != "") {
			t.Errorf("%s: described as %q, but skipped: %v", s.b, s.desc, res.Skipped)
		}
	}
	for _, c := range res.Cases {
		if c.NsPerOp <= 0 || c.OpsPerSec <= 0 || c.Rounds != plan.Rounds || c.Spread.Min > c.NsPerOp || c.Spread.Max < c.NsPerOp {
			t.Errorf("implausible result %+v", c)
		}
	}
	entries, err := os.ReadDir(plan.TempDir)
	if err != nil || len(entries) != 0 {
		t.Errorf("stores left behind: %v, %v", entries, err)
	}

	out := t.TempDir()
	if err := WriteFiles(out, res); err != nil {
		t.Fatal(err)
	}
	back, err := ReadJSON(filepath.Join(out, JSONFile))
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Cases) != len(res.Cases) || len(back.Verdicts) != len(targets) || back.Machine.Cores < 1 {
		t.Errorf("results.json holds %d cases, %d verdicts, %+v", len(back.Cases), len(back.Verdicts), back.Machine)
	}
	report, err := os.ReadFile(filepath.Join(out, ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"## Targets", "## Request cycle", "## Codec round trip", "## Durable commits",
		"## Sweep", "## Store size", "## Cost by session size", "(" + ThroughputChart + ")", "(" + SizeChart + ")",
		"(" + KeysChart + ")", "From 10 to 100 keys",
		res.Machine.CPU, res.Machine.GoVersion} {
		if !bytes.Contains(report, []byte(want)) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	for _, v := range res.Verdicts {
		if !bytes.Contains(report, []byte(v.Title)) {
			t.Errorf("report.md lacks the target %q", v.Title)
		}
	}
	for _, chart := range []string{ThroughputChart, SizeChart, KeysChart} {
		f, err := os.Open(filepath.Join(out, chart))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", chart, err)
		}
		if b := img.Bounds(); b.Dx() < 400 || b.Dy() < 200 {
			t.Errorf("%s is %v", chart, b)
		}
	}
	var table bytes.Buffer
	if err := WriteTable(&table, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), cycleName("floor", 1)) || !strings.Contains(table.String(), targets[0].title) {
		t.Errorf("table:\n%s", table.String())
	}
}

// mayLack reports whether the run may lack the server b, its contenders
// then being reported as not measured: Redis when redis-server is not
// installed, PostgreSQL and MariaDB unless the environment variable that
// sqltest reads requires them.
func mayLack(b backend) bool {
	switch b {
	case noBackend:
		return false
	case redisBackend:
		return !redisInstalled()
	case postgresBackend:
		return os.Getenv(sqltest.RequirePostgresEnv) != "1"
	}
	return os.Getenv(sqltest.RequireMySQLEnv) != "1"
}

// testWriter sends progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func TestRun_FilterSelectsCases(t *testing.T) {
	plan, err := PlanFor(Smoke)
	if err != nil {
		t.Fatal(err)
	}
	plan.TempDir = t.TempDir()
	plan.Filter = regexpMust(t, `^codec/|^cycle/floor/c=1$`)
	res, err := Run(t.Context(), plan, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, c := range res.Cases {
		names = append(names, c.Name)
	}
	want := []string{"codec/sessionkv-msgpack", "codec/sessionkv-json", "codec/encoding-gob", "codec/encoding-json", "cycle/floor/c=1"}
	if !slices.Equal(names, want) {
		t.Errorf("cases = %q, want %q", names, want)
	}
	for _, v := range res.Verdicts {
		if strings.HasPrefix(v.Ours, "codec/") != (v.Status != NotMeasured) {
			t.Errorf("verdict %+v", v)
		}
	}
}

// TestSessionkvContender_CommitsTheCounter proves the request cycle loads
// and saves: three requests on one session leave the counter three higher.
func TestSessionkvContender_CommitsTheCounter(t *testing.T) {
	ctx := t.Context()
	e := testEnv(t)
	store := memstore.New()
	s, err := newSessionkv(func(*env) (session.Store, error) { return store, nil })(e, 4)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	op := cycleOp(ctx, s, 1) // every request on session 0
	for i := range 3 {
		if err := op(0, i); err != nil {
			t.Fatal(err)
		}
	}
	engine, err := session.New(store, engineOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := engine.Load(ctx, sessionID(0))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := got.GetInt("counter"); n != startCounter+3 {
		t.Errorf("counter = %d, want %d", n, startCounter+3)
	}
}

// TestContenders_ServeTheirSessions runs a few concurrent requests through
// every contender.
func TestContenders_ServeTheirSessions(t *testing.T) {
	e := testEnv(t)
	for _, c := range contenders() {
		t.Run(c.name, func(t *testing.T) {
			if c.server == postgresBackend || c.server == mysqlBackend {
				// Their servers take seconds to start: TestRun_Smoke runs
				// them, and checks that they drop their databases.
				t.Skip("run by TestRun_Smoke")
			}
			requireServer(t, e, c.server)
			s, err := c.new(e, 8)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := s.close(); err != nil {
					t.Error(err)
				}
			}()
			if err := spread(32, 4, cycleOp(t.Context(), s, 8)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCycleOp_ReportsFailedRequests checks that a request without its
// session fails the case instead of measuring an empty session.
func TestCycleOp_ReportsFailedRequests(t *testing.T) {
	e := testEnv(t)
	s, err := newSessionkv(func(*env) (session.Store, error) { return memstore.New(), nil })(e, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	err = cycleOp(t.Context(), s, 1)(0, 0)
	if err == nil || !strings.Contains(err.Error(), "status 500") || !strings.Contains(err.Error(), "not loaded") {
		t.Errorf("err = %v", err)
	}
}

// testEnv returns an env whose Redis server, if redis-server is installed,
// starts on first use and stops at the end of the test. It has no
// PostgreSQL or MariaDB server.
func testEnv(t *testing.T) *env {
	t.Helper()
	data, err := makeSessionData(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	e := &env{ctx: t.Context(), dir: t.TempDir(), data: data, redis: newRedisSource("", t.TempDir())}
	t.Cleanup(func() {
		if err := e.redis.close(); err != nil {
			t.Error(err)
		}
	})
	return e
}

// requireServer skips t unless e has the server b, if any.
func requireServer(t *testing.T, e *env, b backend) {
	t.Helper()
	if err := e.ready(b); err != nil {
		t.Skip(err)
	}
}

func redisInstalled() bool {
	_, err := exec.LookPath(redisProgram)
	return err == nil
}

func TestSpread_CallsEachIndexOnce(t *testing.T) {
	for _, workers := range []int{1, 3, 64} {
		var mu sync.Mutex
		seen := map[int]int{}
		err := spread(100, workers, func(w, i int) error {
			if w < 0 || w >= max(workers, 1) {
				t.Errorf("worker %d of %d", w, workers)
			}
			mu.Lock()
			seen[i]++
			mu.Unlock()
			return nil
		})
		if err != nil || len(seen) != 100 {
			t.Fatalf("workers=%d: %d indexes, %v", workers, len(seen), err)
		}
		for i, n := range seen {
			if n != 1 || i < 0 || i >= 100 {
				t.Fatalf("workers=%d: index %d called %d times", workers, i, n)
			}
		}
	}
}

func TestSpread_StopsAtFirstError(t *testing.T) {
	boom := errors.New("boom")
	for _, workers := range []int{1, 8} {
		var mu sync.Mutex
		calls := 0
		err := spread(1_000_000, workers, func(_, i int) error {
			mu.Lock()
			calls++
			mu.Unlock()
			if i == 10 {
				return boom
			}
			return nil
		})
		if !errors.Is(err, boom) || calls > 1000 {
			t.Errorf("workers=%d: err %v after %d calls", workers, err, calls)
		}
	}
}

func TestQuantile(t *testing.T) {
	sorted := []float64{1, 2, 3, 4, 5}
	for _, tc := range []struct{ q, want float64 }{{0, 1}, {0.25, 2}, {0.5, 3}, {0.75, 4}, {1, 5}, {0.125, 1.5}} {
		if got := quantile(sorted, tc.q); got != tc.want {
			t.Errorf("quantile(%v) = %v, want %v", tc.q, got, tc.want)
		}
	}
	if got := quantile(nil, 0.5); got != 0 {
		t.Errorf("quantile of nothing = %v", got)
	}
}

func TestMeasure_InterleavesAndSummarizes(t *testing.T) {
	var order []string
	mk := func(name string, d time.Duration) *benchCase {
		return &benchCase{Result: Result{Name: name, Concurrency: 1}, fixedOps: 2, op: func(_, i int) error {
			if i == 0 {
				order = append(order, name)
			}
			time.Sleep(d)
			return nil
		}}
	}
	a, b := mk("a", time.Millisecond), mk("b", 3*time.Millisecond)
	plan := &Plan{Rounds: 3, RoundTime: time.Millisecond}
	if err := measure([]*benchCase{a, b}, plan, testWriter{t}); err != nil {
		t.Fatal(err)
	}
	// Calibration (a, b), then rounds of each case once.
	if len(order) != 8 || !slices.Equal(order[:2], []string{"a", "b"}) {
		t.Fatalf("order = %q, want a, b, then three rounds of both", order)
	}
	for r := 2; r < 8; r += 2 {
		if round := slices.Sorted(slices.Values(order[r : r+2])); !slices.Equal(round, []string{"a", "b"}) {
			t.Errorf("round %q, want a and b once each", order[r:r+2])
		}
	}
	if a.Rounds != 3 || a.OpsPerRound != 2 || a.NsPerOp < 1e6 || b.NsPerOp < 3e6 || a.NsPerOp >= b.NsPerOp {
		t.Errorf("a = %+v, b = %+v", a.Result, b.Result)
	}
}

// TestMeasure_ShufflesNeighbours: no case follows the same case in every
// round, since what a case leaves behind (dirty pages, a busy server) would
// then always weigh on the same successor; and two runs of a plan use the
// same orders.
func TestMeasure_ShufflesNeighbours(t *testing.T) {
	run := func() []string {
		var order []string
		var cases []*benchCase
		for _, name := range []string{"a", "b", "c", "d", "e"} {
			cases = append(cases, &benchCase{Result: Result{Name: name, Concurrency: 1}, fixedOps: 1,
				op: func(int, int) error { order = append(order, name); return nil }})
		}
		if err := measure(cases, &Plan{Rounds: 12, RoundTime: time.Microsecond}, io.Discard); err != nil {
			t.Fatal(err)
		}
		return order[len(cases):] // after calibration
	}
	order := run()
	if again := run(); !slices.Equal(order, again) {
		t.Errorf("two runs measured in different orders:\n%q\n%q", order, again)
	}
	before := map[string]map[string]bool{}
	for i := 1; i < len(order); i++ {
		if i%5 == 0 {
			continue // the first case of a round
		}
		if before[order[i]] == nil {
			before[order[i]] = map[string]bool{}
		}
		before[order[i]][order[i-1]] = true
	}
	for name, prev := range before {
		if len(prev) < 2 {
			t.Errorf("%s ran after %v in every round", name, prev)
		}
	}
}

func TestCalibrate_FillsTheRoundTime(t *testing.T) {
	c := &benchCase{Result: Result{Name: "sleep", Concurrency: 2}, op: func(int, int) error {
		time.Sleep(100 * time.Microsecond)
		return nil
	}}
	if err := c.calibrate(20 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	// Two sleepers of 100µs: at most 400 ops in 20ms, fewer as sleeps
	// overshoot on a loaded machine.
	if c.perRound < 10 || c.perRound > 800 {
		t.Errorf("perRound = %d", c.perRound)
	}
}

func TestCheck(t *testing.T) {
	res := &Results{Cases: []Result{
		{Name: cycleName("sessionkv-memstore", 1), NsPerOp: 10, AllocsPerOp: 10,
			Spread: Spread{P25: 9, P75: 11}},
		{Name: cycleName("scs-memstore", 1), NsPerOp: 60, AllocsPerOp: 40,
			Spread: Spread{P25: 55, P75: 66}},
		{Name: "codec/sessionkv-msgpack", NsPerOp: 1},
		{Name: "codec/encoding-gob", NsPerOp: 20},
	}}
	got := map[string]Verdict{}
	for _, v := range Check(res) {
		got[v.Title] = v
	}
	if len(got) != len(targets) {
		t.Fatalf("%d verdicts for %d targets", len(got), len(targets))
	}
	for _, tc := range []struct {
		title  string
		status Status
		ratio  float64
	}{
		{targets[0].title, Met, 6},
		{targets[1].title, Missed, 4},
		{targets[2].title, Met, 20},
		{targets[3].title, NotMeasured, 0},
		{targets[4].title, NotMeasured, 0},
	} {
		v := got[tc.title]
		if v.Status != tc.status || v.Ratio != tc.ratio {
			t.Errorf("%s: %s at %v, want %s at %v", tc.title, v.Status, v.Ratio, tc.status, tc.ratio)
		}
	}
	if v := got[targets[0].title]; v.Low != 55.0/11 || v.High != 66.0/9 {
		t.Errorf("quartile ratios %v..%v", v.Low, v.High)
	}
	absent := target{title: "future", ours: "cycle/sessionkv-future/c=1", peer: targets[0].peer, atLeast: 2,
		metric: TimePerOp, absent: "no future store yet"}
	if v := absent.check(res); v.Status != NotMeasured || v.Note != "no future store yet" {
		t.Errorf("absent target: %+v", v)
	}
	if v := got[targets[4].title]; v.Note != "not run in this run" {
		t.Errorf("cookiestore note %q", v.Note)
	}
	if v := got[targets[3].title]; v.Note != "not run in this run" {
		t.Errorf("json note %q", v.Note)
	}
}

func TestRatio_StaysFinite(t *testing.T) {
	if r := ratio(5, 0); r != 5000 {
		t.Errorf("ratio(5, 0) = %v", r)
	}
	if r := ratio(0, 0); r != 1 {
		t.Errorf("ratio(0, 0) = %v", r)
	}
}

func TestPlanFor(t *testing.T) {
	for _, m := range []Mode{Smoke, Quick, Full} {
		p, err := PlanFor(m)
		if err != nil || p.validate() != nil || p.Mode != m || !slices.Contains(p.SessionKeys, keysBase) {
			t.Errorf("PlanFor(%s) = %+v, %v", m, p, err)
		}
	}
	for _, m := range []Mode{Quick, Full} {
		// The targets on the growth of the session compare 10 and 1000 keys.
		if p, _ := PlanFor(m); !slices.Contains(p.SessionKeys, 1000) {
			t.Errorf("PlanFor(%s).SessionKeys = %v", m, p.SessionKeys)
		}
	}
	bad, _ := PlanFor(Smoke)
	bad.SessionKeys = []int{10, 0}
	if bad.validate() == nil {
		t.Error("a session of 0 keys passed validation")
	}
	if _, err := PlanFor("fast"); err == nil {
		t.Error("PlanFor(fast) did not fail")
	}
}

func TestSessionID_IsWellFormedAndDistinct(t *testing.T) {
	seen := map[string]bool{}
	for j := range 1000 {
		id := sessionID(j)
		if !session.ValidID(id) || seen[id] {
			t.Fatalf("sessionID(%d) = %q", j, id)
		}
		seen[id] = true
	}
}

func TestRun_StopsWhenCancelled(t *testing.T) {
	plan, err := PlanFor(Smoke)
	if err != nil {
		t.Fatal(err)
	}
	plan.TempDir = t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := Run(ctx, plan, testWriter{t}); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v", err)
	}
}

func regexpMust(t *testing.T, expr string) *regexp.Regexp {
	t.Helper()
	re, err := regexp.Compile(expr)
	if err != nil {
		t.Fatal(err)
	}
	return re
}

func TestTimeRatio_PairsRounds(t *testing.T) {
	// A loaded second round slows both sides: the paired ratio stays 4.
	ours := Result{NsPerOp: 20, RoundNs: []float64{10, 100, 12}}
	peer := Result{NsPerOp: 48, RoundNs: []float64{40, 400, 48}}
	mid, lo, hi := timeRatio(peer, ours)
	if mid != 4 || lo != 4 || hi != 4 {
		t.Errorf("timeRatio = %v (%v..%v), want 4", mid, lo, hi)
	}
	// Cases from different rounds fall back to the medians and quartiles.
	peer.RoundNs = peer.RoundNs[:2]
	ours.Spread, peer.Spread = Spread{P25: 10, P75: 40}, Spread{P25: 40, P75: 80}
	if mid, lo, hi := timeRatio(peer, ours); mid != 2.4 || lo != 1 || hi != 8 {
		t.Errorf("unpaired timeRatio = %v (%v..%v)", mid, lo, hi)
	}
}

// TestRedisSource_StartsAndStopsItsServer checks the server the suite
// starts: it answers, and is gone, port and process, once closed.
func TestRedisSource_StartsAndStopsItsServer(t *testing.T) {
	if !redisInstalled() {
		t.Skip("redis-server is not installed")
	}
	src := newRedisSource("", t.TempDir())
	url, err := src.URL(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	again, err := src.URL(t.Context())
	if err != nil || again != url {
		t.Errorf("second URL = %q, %v; want %q", again, err, url)
	}
	srv := src.started
	if !strings.HasPrefix(src.describe(), "Redis ") || !strings.Contains(src.describe(), srv.addr) {
		t.Errorf("describe() = %q", src.describe())
	}
	if err := src.close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-srv.done:
	default:
		t.Error("redis-server still running after close")
	}
	if c, err := net.DialTimeout("tcp", srv.addr, time.Second); err == nil {
		c.Close()
		t.Errorf("%s still accepts connections", srv.addr)
	}
	if err := src.close(); err != nil {
		t.Errorf("second close: %v", err)
	}
}

// TestRedisStores_LeaveNoKeys checks that the Redis contenders delete the
// keys they wrote, as they must on a server the suite did not start.
func TestRedisStores_LeaveNoKeys(t *testing.T) {
	if !redisInstalled() {
		t.Skip("redis-server is not installed")
	}
	e := testEnv(t)
	for _, c := range contenders() {
		if c.server != redisBackend {
			continue
		}
		s, err := c.new(e, 8)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := spread(16, 4, cycleOp(t.Context(), s, 8)); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if err := s.close(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
	}
	url, err := e.redisURL()
	if err != nil {
		t.Fatal(err)
	}
	client, err := newRedisClient(url)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if n, err := client.DBSize(t.Context()).Result(); err != nil || n != 0 {
		t.Errorf("%d keys left, %v", n, err)
	}
}

// TestRun_WithoutRedis runs the Redis cases where there is no redis-server:
// they are reported as not measured, and the run succeeds.
func TestRun_WithoutRedis(t *testing.T) {
	saved := redisProgram
	redisProgram = "sessionbench-no-such-redis-server"
	defer func() { redisProgram = saved }()
	plan, err := PlanFor(Smoke)
	if err != nil {
		t.Fatal(err)
	}
	plan.TempDir = t.TempDir()
	plan.Filter = regexpMust(t, `^(cycle|store)/(sessionkv-redisstore|scs-redisstore|floor)(/|$)`)
	res, err := Run(t.Context(), plan, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cases) != len(plan.Concurrency) || res.Redis != "" {
		t.Errorf("%d cases, Redis %q", len(res.Cases), res.Redis)
	}
	want := []Skip{{"sessionkv-redisstore", "no redis-server"}, {"scs-redisstore", "no redis-server"}}
	if !slices.Equal(res.Skipped, want) {
		t.Errorf("skipped = %v, want %v", res.Skipped, want)
	}
	for _, v := range res.Verdicts {
		if strings.Contains(v.Ours, "redisstore") && (v.Status != NotMeasured || v.Note != "no redis-server") {
			t.Errorf("verdict %+v", v)
		}
	}
	var report, table bytes.Buffer
	WriteReport(&report, res, nil)
	if err := WriteTable(&table, res); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"not measured: no redis-server (informational)", "`scs-redisstore` (no redis-server)"} {
		if !strings.Contains(report.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, report.String())
		}
	}
	if !strings.Contains(table.String(), "NOT MEASURED  sessionkv-redisstore: no redis-server") {
		t.Errorf("table:\n%s", table.String())
	}
}

// TestRun_GivenRedisURL runs the Redis cases on a server given by URL.
func TestRun_GivenRedisURL(t *testing.T) {
	if !redisInstalled() {
		t.Skip("redis-server is not installed")
	}
	src := newRedisSource("", t.TempDir())
	defer src.close()
	url, err := src.URL(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	plan, err := PlanFor(Smoke)
	if err != nil {
		t.Fatal(err)
	}
	plan.TempDir = t.TempDir()
	plan.RedisURL = url + "/3"
	plan.Filter = regexpMust(t, `^cycle/(sessionkv-redisstore|scs-redisstore)/c=1$`)
	res, err := Run(t.Context(), plan, testWriter{t})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Cases) != 2 || len(res.Skipped) != 0 || !strings.Contains(res.Redis, src.started.addr+"/3") {
		t.Errorf("%d cases, skipped %v, Redis %q", len(res.Cases), res.Skipped, res.Redis)
	}
	if _, err := Run(t.Context(), Plan{Mode: Smoke, Rounds: 1, RoundTime: time.Millisecond, Sessions: 1,
		Concurrency: []int{1}, TempDir: t.TempDir(), Filter: plan.Filter,
		RedisURL: "redis://127.0.0.1:1"}, testWriter{t}); err == nil {
		t.Error("a Redis URL where no server answers did not fail the run")
	}
}

// TestHTTPFloor_AnswersAsASessionMiddleware: floor-http sends what a
// session middleware sends on a changed session, and refuses a request
// without the cookie, as the session contenders do.
func TestHTTPFloor_AnswersAsASessionMiddleware(t *testing.T) {
	s, err := newHTTPFloor(testEnv(t), 1)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(s.cookie(0))
	rec := httptest.NewRecorder()
	s.handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent || rec.Header().Get("Vary") != "Cookie" {
		t.Errorf("status %d, Vary %q", rec.Code, rec.Header().Get("Vary"))
	}
	cookies := rec.Result().Cookies()
	if len(cookies) != 1 || cookies[0].Name != "sessionid" || !cookies[0].HttpOnly || cookies[0].MaxAge <= 0 {
		t.Errorf("Set-Cookie = %q", rec.Header().Values("Set-Cookie"))
	}
	rec = httptest.NewRecorder()
	s.handler.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	if rec.Code != http.StatusBadRequest {
		t.Errorf("a request without the cookie: status %d, want 400", rec.Code)
	}
}
