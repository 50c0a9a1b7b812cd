package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Output file names, in the output directory.
const (
	JSONFile   = "results.json"
	ReportFile = "report.md"
)

// WriteFiles writes results.json, the charts and report.md into dir,
// creating it if needed.
func WriteFiles(dir string, res *Results) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := WriteJSON(filepath.Join(dir, JSONFile), res); err != nil {
		return err
	}
	charts, err := WriteCharts(dir, res)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	WriteReport(&b, res, charts)
	if err := os.WriteFile(filepath.Join(dir, ReportFile), b.Bytes(), 0o644); err != nil {
		return fmt.Errorf("bench: write report: %w", err)
	}
	return nil
}

// WriteJSON writes res as indented JSON to path.
func WriteJSON(path string, res *Results) error {
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return fmt.Errorf("bench: encode results: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("bench: write results: %w", err)
	}
	return nil
}

// WriteTable writes one line per case, then the targets, as aligned text.
func WriteTable(w io.Writer, res *Results) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "case\tclients\tsessions\ttime/op\tp25\tp75\tmin\tmax\tB/op\tallocs/op\tops/s\t")
	for _, c := range res.Cases {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%.1f\t%.0f\t\n", c.Name, c.Concurrency,
			fmtSize(c.StoreSize), fmtNs(c.NsPerOp), fmtNs(c.Spread.P25), fmtNs(c.Spread.P75),
			fmtNs(c.Spread.Min), fmtNs(c.Spread.Max), c.BytesPerOp, c.AllocsPerOp, c.OpsPerSec)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w)
	for _, v := range res.Verdicts {
		info := ""
		if v.Informational {
			info = " [informational]"
		}
		fmt.Fprintf(w, "%-13s %s%s: %s\n", strings.ToUpper(string(v.Status)), v.Title, info, measured(v))
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(w, "%-13s %s: %s\n", strings.ToUpper(string(NotMeasured)), s.Contender, s.Reason)
	}
	for _, s := range []struct{ name, desc string }{
		{"Redis", res.Redis}, {"PostgreSQL", res.Postgres}, {"MariaDB", res.MySQL},
	} {
		if s.desc != "" {
			fmt.Fprintf(w, "%s cases: %s\n", s.name, s.desc)
		}
	}
	return nil
}

// measured is a verdict's ratio, or for a target without a peer its
// figure, as the report shows it.
func measured(v Verdict) string {
	if v.Status == NotMeasured {
		return v.Note
	}
	if v.Peer == "" {
		s := fmtPerOp(v.Metric, v.Value)
		if v.Low > 0 {
			s += fmt.Sprintf(" (p25–p75: %s–%s)", fmtNs(v.Low), fmtNs(v.High))
		}
		return s
	}
	s := fmtRatio(v.Ratio)
	if v.Low > 0 {
		s += fmt.Sprintf(" (p25–p75: %s–%s)", fmtRatio(v.Low), fmtRatio(v.High))
	}
	return s
}

// required is what a verdict needs to be met, as the report shows it.
func required(v Verdict) string {
	switch {
	case v.Peer == "":
		return "≤ " + fmtPerOp(v.Metric, v.AtMost)
	case v.Required == 1:
		return "> 1x"
	}
	return "≥ " + fmtRatio(v.Required)
}

// first returns the first of three values.
func first(a, _, _ float64) float64 { return a }

func fmtSize(n int) string {
	if n == 0 {
		return "-"
	}
	return fmtCount(float64(n))
}

// WriteReport writes the Markdown report: the machine, the targets, the
// ratios against each peer, every case, and the charts named in charts
// (files beside the report).
func WriteReport(w io.Writer, res *Results, charts []string) {
	r := reportWriter{w: w, res: res, charts: charts}
	r.header()
	r.targets()
	r.cycles()
	r.codecs()
	r.stores()
	r.commits()
	r.sweeps()
	r.keys()
	r.sizes()
	r.footer()
}

type reportWriter struct {
	w      io.Writer
	res    *Results
	charts []string
}

func (r *reportWriter) p(format string, args ...any) { fmt.Fprintf(r.w, format+"\n", args...) }

// table writes a Markdown table; the first column is left-aligned, the
// others right-aligned.
func (r *reportWriter) table(head []string, rows [][]string) {
	r.alignedTable(head, "l"+strings.Repeat("r", len(head)-1), rows)
}

// alignedTable writes a Markdown table whose column i is left-aligned if
// align[i] is 'l', right-aligned otherwise.
func (r *reportWriter) alignedTable(head []string, align string, rows [][]string) {
	r.p("| %s |", strings.Join(head, " | "))
	marks := make([]string, len(head))
	for i := range marks {
		marks[i] = "---:"
		if align[i] == 'l' {
			marks[i] = "---"
		}
	}
	r.p("| %s |", strings.Join(marks, " | "))
	for _, row := range rows {
		r.p("| %s |", strings.Join(row, " | "))
	}
	r.p("")
}

func (r *reportWriter) chart(file, alt string) {
	if slices.Contains(r.charts, file) {
		r.p("![%s](%s)", alt, file)
		r.p("")
	}
}

// section returns the cases of group and, when there are any, writes the
// section's heading and introduction.
func (r *reportWriter) section(group, title, intro string) []Result {
	var cases []Result
	for _, c := range r.res.Cases {
		if c.Group == group {
			cases = append(cases, c)
		}
	}
	if len(cases) > 0 {
		r.p("## %s", title)
		r.p("")
		r.p("%s", intro)
		r.p("")
	}
	return cases
}

func (r *reportWriter) header() {
	m := r.res.Machine
	r.p("# sessionkv benchmarks")
	r.p("")
	r.p("Made on %s on %s.", m.Date.Format("2006-01-02 15:04 MST"), m)
	r.p("Stores were kept in `%s` (%s). Mode %s: %d rounds of about %v per case, every case of a group "+
		"running once per round in an order shuffled anew each round, after the disk has been synced; %v in all.",
		m.TempDir, orUnknown(m.TempFS), r.res.Mode, r.res.Rounds, r.res.RoundTime, r.res.Elapsed.Round(time.Second))
	if m.LoadAvg != "" {
		r.p("Load averages (1, 5, 15 min) when it started: %s.", m.LoadAvg)
	}
	if r.res.Redis != "" {
		r.p("The Redis contenders shared one server: %s, on the same machine as the suite.", r.res.Redis)
	}
	if r.res.Postgres != "" {
		r.p("The PostgreSQL contenders shared one server, each store in a database of its own: %s, "+
			"on the same machine as the suite.", r.res.Postgres)
	}
	if r.res.MySQL != "" {
		r.p("The MariaDB contenders shared one server, each store in a database of its own: %s, "+
			"on the same machine as the suite.", r.res.MySQL)
	}
	if len(r.res.Skipped) > 0 {
		var skipped []string
		for _, s := range r.res.Skipped {
			skipped = append(skipped, fmt.Sprintf("`%s` (%s)", s.Contender, s.Reason))
		}
		r.p("Not measured: %s.", strings.Join(skipped, ", "))
	}
	r.p("")
	r.p("Times are medians over the rounds, with the first and third quartiles (p25–p75). " +
		"With several clients, time/op is the round's duration divided by the ops completed, the inverse of the throughput. " +
		"A ratio is the peer's time divided by sessionkv's within each round, median over the rounds " +
		"(p25–p75 of those ratios in brackets), or the ratio of the median allocations: above 1, sessionkv is better. " +
		"Only ratios within one run compare; absolute figures depend on the machine.")
	r.p("")
}

func orUnknown(s string) string {
	if s == "" {
		return "file system unknown"
	}
	return s
}

func (r *reportWriter) targets() {
	r.p("## Targets")
	r.p("")
	var rows [][]string
	informational, aboveFloor, absolute := false, false, false
	for _, v := range r.res.Verdicts {
		aboveFloor = aboveFloor || v.Floor != ""
		absolute = absolute || v.Peer == ""
		status := string(v.Status)
		switch v.Status {
		case Missed:
			status = "**missed**"
		case NotMeasured:
			status = "not measured: " + v.Note
		}
		if v.Informational {
			status += " (informational)"
			informational = true
		}
		m := "–"
		if v.Status != NotMeasured {
			m = measured(v)
		}
		rows = append(rows, []string{v.Title, m, required(v), status})
	}
	r.alignedTable([]string{"Target", "Measured (" + string(TimePerOp) + " or " + string(AllocsPerOp) + " ratio, or per op)",
		"Required", "Status"}, "lrrl", rows)
	if aboveFloor || absolute {
		var notes []string
		if aboveFloor {
			notes = append(notes, "A target against the no-session floor compares the costs above it: "+
				"(peer − floor) / (sessionkv − floor), within each round.")
		}
		if absolute {
			notes = append(notes, "A target without a peer bounds sessionkv's own figure per op, its median over the rounds.")
		}
		r.p("%s", strings.Join(notes, " "))
		r.p("")
	}
	if informational {
		r.p("Lines marked informational are there to be read, not to be met: comparisons with a peer where the " +
			"project has set itself no goal, bbolt's own ceiling next to the durable-commit target, each SQL engine's floor next to the request-cycle targets on it, and the HTTP floor next to the cost-above-floor target.")
		r.p("")
	}
}

// resultRow is the common columns of a case.
func resultRow(c Result) []string {
	return []string{fmtNs(c.NsPerOp), fmtNs(c.Spread.P25) + "–" + fmtNs(c.Spread.P75),
		fmt.Sprintf("%.0f", c.BytesPerOp), fmt.Sprintf("%.1f", c.AllocsPerOp), fmtCount(roundTo3(c.OpsPerSec))}
}

var resultHead = []string{"time/op", "p25–p75", "B/op", "allocs/op", "ops/s"}

// roundTo3 keeps three significant digits.
func roundTo3(v float64) float64 {
	if v <= 0 {
		return v
	}
	out, _ := strconv.ParseFloat(fmt.Sprintf("%.3g", v), 64)
	return out
}

func (r *reportWriter) cycles() {
	cases := r.section("cycle", "Request cycle",
		"One HTTP request through each library's middleware, in process, to a minimal ResponseWriter: load the "+
			"realistic 10-key session by its cookie, read the int `counter`, write it back incremented, commit. "+
			"`floor` is the same harness without any session. Each contender holds the same number of sessions and "+
			"the clients go through them in turn. The Redis contenders (sessionkv's redisstore through go-redis, "+
			"scs's redisstore through redigo) use the same Redis server, each with a pool of up to "+
			fmt.Sprint(redisPoolSize)+" connections; that server runs on the same cores as the suite. "+
			"The SQL contenders (sessionkv's sqlstore, opened by its URL as an application would, and scs's "+
			"sqlite3store, postgresstore and mysqlstore, with the tables their READMEs give and no cleanup "+
			"goroutine) pair up on the same engine: on PostgreSQL and MariaDB, the same server, each store "+
			"in a database of its own with a pool of up to "+fmt.Sprint(sqlPoolSize)+" connections, all kept "+
			"idle; on SQLite (modernc.org/sqlite for both), files of their own in the same directory, with "+
			"sqlstore's durable settings (WAL, synchronous=FULL, a busy timeout) and its pool of GOMAXPROCS+2 "+
			"connections for both, and sqlstore's NoSync setting (synchronous=NORMAL) besides. "+
			"`floor-sqlite-durable`, `floor-postgres` and `floor-mariadb` are the least a durable request cycle "+
			"costs on each engine, with the same settings and pools: the harness, then the session's row read by "+
			"its primary key and written back with one byte changed, two prepared statements and one commit, "+
			"with no session library and no decoding.")
	if len(cases) == 0 {
		return
	}
	r.chart(ThroughputChart, "Requests per second by contender and number of clients")
	var ours, theirs []string
	var concs []int
	for _, c := range cases {
		switch {
		case c.Library == "sessionkv" && !slices.Contains(ours, c.Contender):
			ours = append(ours, c.Contender)
		case c.Library != "sessionkv" && c.Library != "none" && !slices.Contains(theirs, c.Contender):
			theirs = append(theirs, c.Contender)
		}
		if !slices.Contains(concs, c.Concurrency) {
			concs = append(concs, c.Concurrency)
		}
	}
	slices.Sort(concs)
	if len(ours) > 0 && len(theirs) > 0 {
		r.p("### Ratios against each peer")
		r.p("")
		r.p("Peer time / sessionkv time, median over the rounds of the ratio within each round (above 1: sessionkv is faster).")
		r.p("")
		for _, conc := range concs {
			r.p("%d client%s:", conc, plural(conc))
			r.p("")
			head := []string{"sessionkv"}
			for _, t := range theirs {
				head = append(head, "vs "+t)
			}
			var rows [][]string
			for _, o := range ours {
				a, ok := r.res.Find(cycleName(o, conc))
				if !ok {
					continue
				}
				row := []string{o}
				for _, t := range theirs {
					if b, ok := r.res.Find(cycleName(t, conc)); ok {
						row = append(row, fmtRatio(first(timeRatio(b, a))))
					} else {
						row = append(row, "–")
					}
				}
				rows = append(rows, row)
			}
			r.table(head, rows)
		}
	}
	r.p("### All contenders")
	r.p("")
	var rows [][]string
	for _, conc := range concs {
		floor, hasFloor := r.res.Find(cycleName("floor", conc))
		for _, c := range cases {
			if c.Concurrency != conc {
				continue
			}
			above := "–"
			if hasFloor && c.Contender != "floor" {
				above = fmtNs(c.NsPerOp - floor.NsPerOp)
			}
			rows = append(rows, append(append([]string{c.Contender, fmt.Sprint(conc)}, resultRow(c)...), above))
		}
	}
	r.table(append(append([]string{"contender", "clients"}, resultHead...), "above floor"), rows)
}

func (r *reportWriter) codecs() {
	cases := r.section("codec", "Codec round trip",
		"Encode then decode the realistic 10-key session. encoding/gob needs a new encoder per record (each "+
			"stored record must decode on its own), as gob-based session libraries do.")
	if len(cases) == 0 {
		return
	}
	base, hasBase := r.res.Find("codec/sessionkv-msgpack")
	var rows [][]string
	for _, c := range cases {
		vs := "–"
		if hasBase {
			vs = fmtRatio(first(timeRatio(c, base)))
		}
		rows = append(rows, append(append([]string{c.Contender}, resultRow(c)...), vs))
	}
	r.table(append(append([]string{"codec"}, resultHead...), "time vs msgpack"), rows)
}

func (r *reportWriter) stores() {
	cases := r.section("store", "Store operations",
		"Load and Save of one encoded session record, called directly on each store, one client.")
	if len(cases) == 0 {
		return
	}
	var rows [][]string
	for _, c := range cases {
		rows = append(rows, append([]string{strings.TrimPrefix(c.Name, "store/")}, resultRow(c)...))
	}
	r.table(append([]string{"store/op"}, resultHead...), rows)
}

func (r *reportWriter) commits() {
	cases := r.section("commit", "Durable commits",
		"Each client saves the realistic record durably (fsync before returning): through boltstore, whose group "+
			"commit shares one transaction and fsync among the writers that arrive together, and through one bbolt "+
			"`Update` per commit with the same options and bytes. `bbolt-ideal-group` is the ceiling of any group "+
			"commit on bbolt: one goroutine puts as many sessions as there are clients in each `Update`, with no "+
			"coordination to pay for; its figures are per session.")
	if len(cases) == 0 {
		return
	}
	var rows [][]string
	for _, c := range cases {
		vs := "–"
		if c.Contender != "bbolt-update" {
			if raw, ok := r.res.Find(commitName("bbolt-update", c.Concurrency)); ok {
				vs = fmtRatio(first(timeRatio(raw, c)))
			}
		}
		rows = append(rows, append(append([]string{c.Contender, fmt.Sprint(c.Concurrency)}, resultRow(c)...), vs))
	}
	r.table(append(append([]string{"contender", "clients"}, resultHead...), "vs bbolt-update"), rows)
}

func (r *reportWriter) sweeps() {
	cases := r.section("sweep", "Sweep",
		"One `DeleteExpired` on a durable boltstore that also holds live sessions. The expiry index finds the "+
			"expired sessions without reading the live ones; deleting them still rewrites the B+tree pages they are "+
			"on, in transactions of at most 1000 deletions, each with its fsync.")
	if len(cases) == 0 {
		return
	}
	var rows [][]string
	for _, c := range cases {
		n := 0
		fmt.Sscanf(c.Name[strings.LastIndex(c.Name, "=")+1:], "%d", &n)
		per := "–"
		if n > 0 {
			per = fmtNs(c.NsPerOp / float64(n))
		}
		rows = append(rows, []string{fmt.Sprint(n), fmtSize(c.StoreSize), fmtNs(c.NsPerOp),
			fmtNs(c.Spread.P25) + "–" + fmtNs(c.Spread.P75), per})
	}
	r.table([]string{"expired", "live", "time/sweep", "p25–p75", "per expired session"}, rows)
}

func (r *reportWriter) sizes() {
	cases := r.section("size", "Store size",
		"The request cycle, one client, against stores of growing size; the requests are spread over the whole "+
			"store. Persistent stores run without fsync here, so that the figures show the cost of finding and "+
			"rewriting one session among many.")
	if len(cases) == 0 {
		return
	}
	r.chart(SizeChart, "Time per request versus sessions in the store")
	var rows [][]string
	for _, c := range cases {
		rows = append(rows, append([]string{c.Contender, fmtSize(c.StoreSize)}, resultRow(c)...))
	}
	r.table(append([]string{"contender", "sessions"}, resultHead...), rows)
}

// keysBase is the session size the keys section compares the larger ones
// with.
const keysBase = 10

func (r *reportWriter) keys() {
	cases := r.section("keys", "Cost by session size",
		"One request, one client, whose handler reads the int `counter` and writes it back incremented, on "+
			"sessions of growing size: `counter` alone, or with strings of "+fmt.Sprint(keyValueLen)+" bytes "+
			"under `k0001`, `k0002`... Each contender holds the same number of sessions of each size, and the "+
			"requests go to them in turn. Each request is made with `httptest.NewRequestWithContext`, the "+
			"session's cookie added, and answered to a new `httptest.ResponseRecorder`, as a server gives its "+
			"handlers requests and header maps of their own; `floor` is the same harness without any session, "+
			"and `floor-http` adds what every cookie session middleware pays on a request that changes the session: "+
			"it reads the cookie, hands on a request whose context carries a value, and answers with "+
			"`Vary: Cookie` and a Set-Cookie line (built once). "+
			"Persistent stores run without fsync, so that the figures show the cost of the session's size.")
	if len(cases) == 0 {
		return
	}
	r.chart(KeysChart, "Time per request versus keys in the session")
	var names []string
	largest := 0
	for _, c := range cases {
		if !slices.Contains(names, c.Contender) {
			names = append(names, c.Contender)
		}
		largest = max(largest, c.SessionKeys)
	}
	if largest > keysBase {
		r.p("From %d to %s keys (time and allocations at %s keys over those at %d; time a median of ratios within each round):",
			keysBase, fmtKeys(largest), fmtKeys(largest), keysBase)
		r.p("")
		var rows [][]string
		for _, name := range names {
			base, okBase := r.res.Find(keysName(name, keysBase))
			top, okTop := r.res.Find(keysName(name, largest))
			if !okBase || !okTop {
				continue
			}
			mid, lo, hi := timeRatio(top, base)
			rows = append(rows, []string{name, fmtNs(base.NsPerOp), fmtNs(top.NsPerOp),
				fmt.Sprintf("%s (%s–%s)", fmtRatio(mid), fmtRatio(lo), fmtRatio(hi)),
				fmt.Sprintf("%.1f", base.AllocsPerOp), fmt.Sprintf("%.1f", top.AllocsPerOp),
				fmtRatio(ratio(top.AllocsPerOp, base.AllocsPerOp))})
		}
		k0, k1 := fmt.Sprint(keysBase), fmtKeys(largest)
		r.table([]string{"contender", "time at " + k0, "time at " + k1, "time growth (p25–p75)",
			"allocs at " + k0, "allocs at " + k1, "allocs growth"}, rows)
	}
	var rows [][]string
	for _, c := range cases {
		above := "–"
		if floor, ok := r.res.Find(keysName("floor", c.SessionKeys)); ok && c.Contender != "floor" {
			above = fmtNs(c.NsPerOp - floor.NsPerOp)
		}
		rows = append(rows, append(append([]string{c.Contender, fmt.Sprint(c.SessionKeys)}, resultRow(c)...), above))
	}
	r.table(append(append([]string{"contender", "keys"}, resultHead...), "above floor"), rows)
}

// fmtKeys formats a number of keys with thousands separated, as "1,000".
func fmtKeys(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func (r *reportWriter) footer() {
	r.p("## Reproduce")
	r.p("")
	r.p("```sh")
	r.p("cd bench && go run ./cmd/sessionbench -mode %s", r.res.Mode)
	r.p("```")
	r.p("")
	r.p("`results.json` beside this report holds every figure, with the spread over the rounds.")
}
