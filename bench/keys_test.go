package bench

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/memstore"
)

func TestSessionOfKeys_HoldsCounterAndStrings(t *testing.T) {
	for _, n := range []int{1, 10, 1000} {
		m := sessionOfKeys(n)
		if len(m) != n || m["counter"] != keysCounter {
			t.Fatalf("sessionOfKeys(%d): %d keys, counter %v", n, len(m), m["counter"])
		}
		for k, v := range m {
			if k == "counter" {
				continue
			}
			if s, ok := v.(string); !ok || len(s) != keyValueLen || len(k) != len("k0001") {
				t.Fatalf("sessionOfKeys(%d)[%q] = %v", n, k, v)
			}
		}
	}
	if _, ok := sessionOfKeys(1000)["k0999"]; !ok {
		t.Error("sessionOfKeys(1000) lacks k0999")
	}
}

// TestKeyedContenders_ServeSessionsOfManyKeys runs requests through every
// contender of the keys cases, on sessions of 100 keys, with the keys
// cases' harness.
func TestKeyedContenders_ServeSessionsOfManyKeys(t *testing.T) {
	e := testEnv(t)
	data, err := newSessionData(t.Context(), sessionOfKeys(100))
	if err != nil {
		t.Fatal(err)
	}
	held := e.holding(data)
	for _, c := range contenders() {
		if !c.keyed {
			continue
		}
		t.Run(c.name, func(t *testing.T) {
			requireServer(t, e, c.server)
			s, err := c.new(held, 4)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := s.close(); err != nil {
					t.Error(err)
				}
			}()
			if err := spread(12, 1, requestOp(t.Context(), s, 4)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSessionkvKeyed_KeepsEveryKey proves the keys cases load and save
// the whole session: requests on a session of 100 keys leave its 100 keys,
// the counter incremented.
func TestSessionkvKeyed_KeepsEveryKey(t *testing.T) {
	ctx := t.Context()
	data, err := newSessionData(ctx, sessionOfKeys(100))
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New()
	s, err := newSessionkv(func(*env) (session.Store, error) { return store, nil })(testEnv(t).holding(data), 2)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	op := requestOp(ctx, s, 2)
	for i := range 6 {
		if err := op(0, i); err != nil {
			t.Fatal(err)
		}
	}
	engine, err := session.New(store, engineOptions())
	if err != nil {
		t.Fatal(err)
	}
	got, err := engine.Load(ctx, sessionID(1))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := got.GetInt("counter"); n != keysCounter+3 || got.Len() != 100 {
		t.Errorf("counter = %d, %d keys; want %d, 100", n, got.Len(), keysCounter+3)
	}
	if v, _ := got.Get("k0042"); v != sessionOfKeys(100)["k0042"] {
		t.Errorf("k0042 = %v", v)
	}
}

// TestRequestOp_ReportsFailedRequests checks that a request without its
// session fails the keys case instead of measuring an empty session.
func TestRequestOp_ReportsFailedRequests(t *testing.T) {
	s, err := newSessionkv(func(*env) (session.Store, error) { return memstore.New(), nil })(testEnv(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	err = requestOp(t.Context(), s, 1)(0, 0)
	if err == nil || !strings.Contains(err.Error(), "status 500") || !strings.Contains(err.Error(), "not loaded") {
		t.Errorf("err = %v", err)
	}
}

// TestEnv_DerivedEnvsNeverShareNames checks that the envs derived from a
// run's env, which exist side by side in the keys cases, hand out
// distinct directories and Redis key prefixes.
func TestEnv_DerivedEnvsNeverShareNames(t *testing.T) {
	e := testEnv(t)
	sub, remove, err := e.sub("keys")
	if err != nil {
		t.Fatal(err)
	}
	a, b := sub.holding(e.data), sub.holding(e.data)
	dirs := map[string]bool{}
	prefixes := map[string]bool{}
	for _, x := range []*env{e, sub, a, b, a, b} {
		dir, err := x.tempDir("store")
		if err != nil {
			t.Fatal(err)
		}
		if dirs[dir] || prefixes[x.redisPrefix("store")] {
			t.Fatalf("%s handed out twice", dir)
		}
		dirs[dir] = true
		prefixes[x.redisPrefix("store")] = true
	}
	if err := remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(sub.dir); !os.IsNotExist(err) {
		t.Errorf("%s left behind: %v", sub.dir, err)
	}
}

// keysResults returns results of the keys cases the targets read: the
// floor, memstore and scs at 10 keys, memstore at 1000, with the given
// figures, as if from one run of two rounds.
func keysResults(floorNs, oursNs, scsNs, bigNs, oursAllocs, bigAllocs float64) *Results {
	mk := func(name string, ns, allocs float64) Result {
		return Result{Name: name, Group: "keys", NsPerOp: ns, AllocsPerOp: allocs, RoundNs: []float64{ns, ns},
			Spread: Spread{Min: ns, P25: ns, P75: ns, Max: ns}}
	}
	return &Results{Cases: []Result{
		mk(keysName("floor", 10), floorNs, 8),
		mk(keysName("sessionkv-memstore", 10), oursNs, oursAllocs),
		mk(keysName("scs-memstore", 10), scsNs, 90),
		mk(keysName("sessionkv-memstore", 1000), bigNs, bigAllocs),
	}}
}

// TestCheck_KeysTargets checks the arithmetic of the session-size
// targets: growth bounds through the peer/ours ratio, an absolute bound,
// and a ratio of the costs above the floor; each can be met or missed.
func TestCheck_KeysTargets(t *testing.T) {
	const (
		growthTime   = "Touching one key of a 1,000-key session ≤ 3x the time of a 10-key session (memstore)"
		growthAllocs = "Touching one key of a 1,000-key session ≤ 2x the allocations of a 10-key session (memstore)"
		allocs       = "10-key request cycle on memstore: ≤ 30 allocations"
		aboveFloor   = "10-key request cycle on memstore: cost above the no-session floor ≤ 0.1x scs+memstore's"
	)
	type want struct {
		status Status
		ratio  float64 // peer/ours, or the figure for the absolute target
	}
	for _, tc := range []struct {
		name string
		res  *Results
		want map[string]want
	}{
		{"all met at the bounds", keysResults(1000, 1200, 3000, 3600, 30, 60), map[string]want{
			growthTime: {Met, 1.0 / 3}, growthAllocs: {Met, 0.5}, allocs: {Met, 30}, aboveFloor: {Met, 10}}},
		{"all missed", keysResults(1000, 1300, 3000, 4000, 31, 63), map[string]want{
			growthTime: {Missed, 1300.0 / 4000}, growthAllocs: {Missed, 31.0 / 63}, allocs: {Missed, 31},
			aboveFloor: {Missed, 2000.0 / 300}}},
		{"ours at the floor", keysResults(1000, 990, 3000, 1000, 12, 12), map[string]want{
			growthTime: {Met, 0.99}, growthAllocs: {Met, 1}, allocs: {Met, 12}, aboveFloor: {Met, 2000 / 1e-3}}},
		{"no 1000-key case", &Results{Cases: keysResults(1000, 1200, 3000, 3600, 30, 60).Cases[:3]}, map[string]want{
			growthTime: {NotMeasured, 0}, growthAllocs: {NotMeasured, 0}, allocs: {Met, 30}, aboveFloor: {Met, 10}}},
		{"no floor", &Results{Cases: keysResults(1000, 1200, 3000, 3600, 30, 60).Cases[1:]}, map[string]want{
			growthTime: {Met, 1.0 / 3}, aboveFloor: {NotMeasured, 0}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]Verdict{}
			for _, v := range Check(tc.res) {
				got[v.Title] = v
			}
			for title, w := range tc.want {
				v, ok := got[title]
				if !ok {
					t.Fatalf("no target %q", title)
				}
				r := v.Ratio
				if v.Peer == "" {
					r = v.Value
				}
				if v.Status != w.status || !near(r, w.ratio) {
					t.Errorf("%s: %s at %v, want %s at %v", title, v.Status, r, w.status, w.ratio)
				}
				if w.status == NotMeasured && v.Note != "not run in this run" {
					t.Errorf("%s: note %q", title, v.Note)
				}
			}
		})
	}
}

// near reports whether a is within a billionth of b.
func near(a, b float64) bool { return a == b || math.Abs(a-b) <= 1e-9*math.Abs(b) }

// TestTimeRatioAbove_PairsRounds checks that the floor comes off each
// round's figures.
func TestTimeRatioAbove_PairsRounds(t *testing.T) {
	floor := Result{NsPerOp: 100, RoundNs: []float64{100, 200, 100}}
	ours := Result{NsPerOp: 110, RoundNs: []float64{110, 220, 120}}
	peer := Result{NsPerOp: 200, RoundNs: []float64{200, 400, 300}}
	if mid, lo, hi := timeRatioAbove(peer, ours, floor); mid != 10 || lo != 10 || hi != 10 {
		t.Errorf("timeRatioAbove = %v (%v..%v), want 10", mid, lo, hi)
	}
	if r := ratioAbove(90, 110, 100); r != 0 {
		t.Errorf("a peer below the floor: %v", r)
	}
}

// TestTargets_AreWellFormed checks that every target either compares
// with a peer or bounds a figure of its own.
func TestTargets_AreWellFormed(t *testing.T) {
	titles := map[string]bool{}
	for _, tg := range targets {
		if titles[tg.title] {
			t.Errorf("two targets titled %q", tg.title)
		}
		titles[tg.title] = true
		withPeer := tg.peer != "" && tg.atLeast > 0 && tg.atMost == 0
		alone := tg.peer == "" && tg.floor == "" && tg.atMost > 0 && tg.atLeast == 0
		if tg.ours == "" || withPeer == alone {
			t.Errorf("target %+v", tg)
		}
	}
}

// TestWriteReport_KeysSection checks the growth the report states and
// the way it shows the new kinds of targets.
func TestWriteReport_KeysSection(t *testing.T) {
	res := keysResults(1000, 1200, 3000, 6000, 30, 90)
	res.Cases = append(res.Cases, Result{Name: keysName("floor", 1000), Group: "keys", Contender: "floor",
		SessionKeys: 1000, NsPerOp: 1100, AllocsPerOp: 8, RoundNs: []float64{1100, 1100}})
	for i := range res.Cases {
		c := &res.Cases[i]
		c.Contender = strings.Split(c.Name, "/")[1]
		c.SessionKeys = 10
		if strings.HasSuffix(c.Name, "=1000") {
			c.SessionKeys = 1000
		}
	}
	res.Verdicts = Check(res)
	var b bytes.Buffer
	WriteReport(&b, res, []string{KeysChart})
	report := b.String()
	for _, want := range []string{
		"## Cost by session size", "(" + KeysChart + ")", "From 10 to 1,000 keys",
		"| sessionkv-memstore | 1.20µs | 6.00µs | 5.00x (5.00x–5.00x) | 30.0 | 90.0 | 3.00x |",
		"| floor | 1.00µs | 1.10µs | 1.10x (1.10x–1.10x) | 8.0 | 8.0 | 1.00x |",
		"| 10-key request cycle on memstore: ≤ 30 allocations | 30 allocs/op | ≤ 30 allocs/op | met |",
		"| 0.20x (p25–p75: 0.20x–0.20x) | ≥ 0.33x | **missed** |",
		"| 10.0x (p25–p75: 10.0x–10.0x) | ≥ 10.0x | met |",
		"(peer − floor) / (sessionkv − floor)",
	} {
		if !strings.Contains(report, want) {
			t.Errorf("report lacks %q:\n%s", want, report)
		}
	}
	if strings.Contains(report, "scs-memstore | 3.00µs") {
		t.Error("scs-memstore has no 1000-key case, yet shows a growth")
	}
	var table bytes.Buffer
	if err := WriteTable(&table, res); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(table.String(), "MET           10-key request cycle on memstore: ≤ 30 allocations: 30 allocs/op") {
		t.Errorf("table:\n%s", table.String())
	}
	dir := t.TempDir()
	written, err := WriteCharts(dir, res)
	if err != nil || len(written) != 1 || written[0] != KeysChart {
		t.Fatalf("charts %v, %v", written, err)
	}
	if _, err := os.Stat(filepath.Join(dir, KeysChart)); err != nil {
		t.Error(err)
	}
}
