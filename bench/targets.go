package bench

import (
	"fmt"
	"math"
	"slices"
)

// Metric is what a target compares.
type Metric string

// The metrics targets compare.
const (
	// TimePerOp compares NsPerOp: the ratio is how many times faster
	// sessionkv is.
	TimePerOp Metric = "time/op"
	// AllocsPerOp compares AllocsPerOp: the ratio is how many times fewer
	// objects sessionkv allocates.
	AllocsPerOp Metric = "allocs/op"
)

// Status is the outcome of a target.
type Status string

// The outcomes of a target.
const (
	Met         Status = "met"
	Missed      Status = "missed"
	NotMeasured Status = "not measured"
)

// target is a ratio sessionkv must reach against a peer in the same run,
// or, without a peer, a bound on one of its own figures.
type target struct {
	title  string
	ours   string // case names
	peer   string
	metric Metric
	// atLeast is the least peer/ours ratio that meets the target: 5 means
	// ours takes at most a fifth of the peer's; 1 means ours must be faster.
	atLeast float64
	// floor, when set, names the case of the same harness without any
	// session: the ratio is then of the costs above it,
	// (peer - floor) / (ours - floor).
	floor string
	// atMost, for a target without a peer, is the most ours may measure:
	// allocations or nanoseconds per op.
	atMost float64
	// absent explains why ours may not be measured yet.
	absent string
	// informational: a comparison shown to readers rather than a goal the
	// project set itself.
	informational bool
}

// targets lists the targets the report checks. A new target is one entry
// here.
var targets = []target{
	{title: "Request cycle on memstore ≤ 1/5 of the time of scs+memstore (1 client)",
		ours: cycleName("sessionkv-memstore", 1), peer: cycleName("scs-memstore", 1), metric: TimePerOp, atLeast: 5},
	{title: "Request cycle on memstore: allocations ≤ 1/5 of scs+memstore",
		ours: cycleName("sessionkv-memstore", 1), peer: cycleName("scs-memstore", 1), metric: AllocsPerOp, atLeast: 5},
	{title: "Codec round trip of the 10-key session ≥ 10x faster than encoding/gob",
		ours: "codec/sessionkv-msgpack", peer: "codec/encoding-gob", metric: TimePerOp, atLeast: 10},
	{title: "Codec round trip of the 10-key session ≥ 3x faster than encoding/json",
		ours: "codec/sessionkv-msgpack", peer: "codec/encoding-json", metric: TimePerOp, atLeast: 3},
	{title: "Request cycle on cookiestore (encrypted, the default) ≤ 1/4 of gorilla CookieStore (signed) (1 client)",
		ours: cycleName("sessionkv-cookiestore", 1), peer: cycleName("gorilla-cookiestore", 1), metric: TimePerOp, atLeast: 4},
	{title: "Request cycle on filestore (NoSync) faster than gorilla FilesystemStore (1 client)",
		ours: cycleName("sessionkv-filestore-nosync", 1), peer: cycleName("gorilla-filesystemstore", 1), metric: TimePerOp, atLeast: 1},
	{title: "Request cycle on filestore (NoSync) faster than gorilla FilesystemStore (64 clients)",
		ours: cycleName("sessionkv-filestore-nosync", 64), peer: cycleName("gorilla-filesystemstore", 64), metric: TimePerOp, atLeast: 1},
	{title: "Durable bolt commits with 64 clients ≥ 10x raw bbolt Update per commit",
		ours: commitName("sessionkv-boltstore-durable", 64), peer: commitName("bbolt-update", 64), metric: TimePerOp, atLeast: 10},
	{title: "bbolt's own ceiling: one Update of 64 commits ≥ 10x raw bbolt Update per commit",
		ours: commitName("bbolt-ideal-group", 64), peer: commitName("bbolt-update", 64), metric: TimePerOp, atLeast: 10,
		informational: true},
	{title: "Request cycle on redisstore faster than scs/redisstore, same Redis server (1 client)",
		ours: cycleName("sessionkv-redisstore", 1), peer: cycleName("scs-redisstore", 1), metric: TimePerOp, atLeast: 1,
		informational: true},
	{title: "Request cycle on redisstore faster than scs/redisstore, same Redis server (64 clients)",
		ours: cycleName("sessionkv-redisstore", 64), peer: cycleName("scs-redisstore", 64), metric: TimePerOp, atLeast: 1,
		informational: true},
	{title: "Request cycle on sqlstore faster than scs/postgresstore, same PostgreSQL server (1 client)",
		ours: cycleName("sessionkv-sqlstore-postgres", 1), peer: cycleName("scs-postgresstore", 1), metric: TimePerOp, atLeast: 1},
	{title: "Request cycle on sqlstore faster than scs/postgresstore, same PostgreSQL server (64 clients)",
		ours: cycleName("sessionkv-sqlstore-postgres", 64), peer: cycleName("scs-postgresstore", 64), metric: TimePerOp, atLeast: 1},
	{title: "Request cycle on sqlstore faster than scs/mysqlstore, same MariaDB server (1 client)",
		ours: cycleName("sessionkv-sqlstore-mariadb", 1), peer: cycleName("scs-mysqlstore", 1), metric: TimePerOp, atLeast: 1},
	{title: "Request cycle on sqlstore faster than scs/mysqlstore, same MariaDB server (64 clients)",
		ours: cycleName("sessionkv-sqlstore-mariadb", 64), peer: cycleName("scs-mysqlstore", 64), metric: TimePerOp, atLeast: 1},
	{title: "Request cycle on sqlstore (SQLite, durable) faster than scs/sqlite3store, same settings (1 client)",
		ours: cycleName("sessionkv-sqlstore-sqlite-durable", 1), peer: cycleName("scs-sqlite3store", 1), metric: TimePerOp, atLeast: 1},
	{title: "Request cycle on sqlstore (SQLite, durable) faster than scs/sqlite3store, same settings (64 clients)",
		ours: cycleName("sessionkv-sqlstore-sqlite-durable", 64), peer: cycleName("scs-sqlite3store", 64), metric: TimePerOp, atLeast: 1},
	sqlFloorTarget("same PostgreSQL server", "sessionkv-sqlstore-postgres", "floor-postgres", 1),
	sqlFloorTarget("same PostgreSQL server", "sessionkv-sqlstore-postgres", "floor-postgres", 64),
	sqlFloorTarget("same MariaDB server", "sessionkv-sqlstore-mariadb", "floor-mariadb", 1),
	sqlFloorTarget("same MariaDB server", "sessionkv-sqlstore-mariadb", "floor-mariadb", 64),
	sqlFloorTarget("SQLite, durable", "sessionkv-sqlstore-sqlite-durable", "floor-sqlite-durable", 1),
	sqlFloorTarget("SQLite, durable", "sessionkv-sqlstore-sqlite-durable", "floor-sqlite-durable", 64),
	{title: "Touching one key of a 1,000-key session ≤ 3x the time of a 10-key session (memstore)",
		ours: keysName("sessionkv-memstore", 1000), peer: keysName("sessionkv-memstore", 10), metric: TimePerOp, atLeast: 1.0 / 3},
	{title: "Touching one key of a 1,000-key session ≤ 2x the allocations of a 10-key session (memstore)",
		ours: keysName("sessionkv-memstore", 1000), peer: keysName("sessionkv-memstore", 10), metric: AllocsPerOp, atLeast: 0.5},
	{title: "10-key request cycle on memstore: ≤ 30 allocations",
		ours: keysName("sessionkv-memstore", 10), metric: AllocsPerOp, atMost: 30},
	{title: "10-key request cycle on memstore: cost above the no-session floor ≤ 0.1x scs+memstore's",
		ours: keysName("sessionkv-memstore", 10), peer: keysName("scs-memstore", 10), floor: keysName("floor", 10),
		metric: TimePerOp, atLeast: 10},
	{title: "10-key request cycle on memstore: cost above the HTTP floor (cookie, context, Vary and Set-Cookie) ≤ 0.1x scs+memstore's",
		ours: keysName("sessionkv-memstore", 10), peer: keysName("scs-memstore", 10), floor: keysName("floor-http", 10),
		metric: TimePerOp, atLeast: 10, informational: true},
}

// sqlFloorTarget is the informational target that puts the floor of a
// durable request cycle on an SQL engine (newSQLFloor) beside sqlstore's
// cycle there, with clients clients.
func sqlFloorTarget(where, ours, floor string, clients int) target {
	return target{
		title: fmt.Sprintf("Request cycle on sqlstore ≤ 1.25x the floor of a durable cycle (a row read and written back), %s (%d client%s)",
			where, clients, plural(clients)),
		ours: cycleName(ours, clients), peer: cycleName(floor, clients), metric: TimePerOp, atLeast: 0.8,
		informational: true,
	}
}

// Verdict is the outcome of one target in one run.
type Verdict struct {
	// Title states the target.
	Title string `json:"title"`
	// Ours and Peer name the cases compared; Peer is empty for a bound on
	// ours alone. Floor, when set, names the case of the same harness
	// without any session, whose figures are taken off both sides.
	Ours  string `json:"ours"`
	Peer  string `json:"peer"`
	Floor string `json:"floor,omitempty"`
	// Metric is what is compared and Required the least peer/ours ratio
	// that meets the target; AtMost, for a target without a peer, the
	// most ours may measure.
	Metric   Metric  `json:"metric"`
	Required float64 `json:"required"`
	AtMost   float64 `json:"at_most,omitempty"`
	// Ratio is peer/ours, or with a floor (peer - floor) / (ours - floor).
	// For times it is the median over the rounds of the ratio within each
	// round, and Low and High are its quartiles (see timeRatio); for
	// allocations, the ratio of the medians. Without a peer, Ratio is
	// zero and Value is ours' median, Low and High its quartiles for a
	// time.
	Ratio float64 `json:"ratio"`
	Value float64 `json:"value,omitempty"`
	Low   float64 `json:"ratio_low,omitempty"`
	High  float64 `json:"ratio_high,omitempty"`
	// Status is met, missed or not measured; Note says why not measured.
	Status Status `json:"status"`
	Note   string `json:"note,omitempty"`
	// Informational marks a comparison shown to readers rather than a goal
	// of the project.
	Informational bool `json:"informational,omitempty"`
}

// Check evaluates the targets on res. A target whose cases did not run is
// not measured; the others are met or missed on the median ratio.
func Check(res *Results) []Verdict {
	var out []Verdict
	for _, t := range targets {
		out = append(out, t.check(res))
	}
	return out
}

func (t target) check(res *Results) Verdict {
	v := Verdict{Title: t.title, Ours: t.ours, Peer: t.peer, Floor: t.floor, Metric: t.metric,
		Required: t.atLeast, AtMost: t.atMost, Informational: t.informational}
	ours, okOurs := res.Find(t.ours)
	peer, okPeer := res.Find(t.peer)
	floor, okFloor := res.Find(t.floor)
	switch {
	case !okOurs && t.absent != "":
		v.Status, v.Note = NotMeasured, t.absent
		return v
	case !okOurs || (t.peer != "" && !okPeer) || (t.floor != "" && !okFloor):
		v.Status, v.Note = NotMeasured, "not run in this run"
		for _, name := range []string{t.ours, t.peer, t.floor} {
			if reason, ok := res.skipReason(name); ok {
				v.Note = reason
				break
			}
		}
		return v
	}
	v.Status = Missed
	if t.peer == "" {
		if t.metric == AllocsPerOp {
			v.Value = ours.AllocsPerOp
		} else {
			v.Value, v.Low, v.High = ours.NsPerOp, ours.Spread.P25, ours.Spread.P75
		}
		if v.Value <= t.atMost {
			v.Status = Met
		}
		return v
	}
	switch {
	case t.floor != "" && t.metric == AllocsPerOp:
		v.Ratio = ratioAbove(peer.AllocsPerOp, ours.AllocsPerOp, floor.AllocsPerOp)
	case t.floor != "":
		v.Ratio, v.Low, v.High = timeRatioAbove(peer, ours, floor)
	case t.metric == AllocsPerOp:
		v.Ratio = ratio(peer.AllocsPerOp, ours.AllocsPerOp)
	default:
		v.Ratio, v.Low, v.High = timeRatio(peer, ours)
	}
	if v.Ratio >= t.atLeast && (t.atLeast != 1 || v.Ratio > 1) {
		v.Status = Met
	}
	return v
}

// timeRatio returns peer/ours for the time per op: the median over the
// rounds of the ratio within each round, and its quartiles. The cases of a
// group run in the same rounds, so a burst of load on the machine weighs on
// both sides of a round's ratio. Cases that did not share rounds fall back
// to the ratio of the medians, bounded by the peer's first quartile over
// ours' third and the peer's third over ours' first.
func timeRatio(peer, ours Result) (mid, lo, hi float64) {
	if n := len(ours.RoundNs); n > 0 && n == len(peer.RoundNs) {
		rs := make([]float64, n)
		for i := range rs {
			rs[i] = ratio(peer.RoundNs[i], ours.RoundNs[i])
		}
		slices.Sort(rs)
		return quantile(rs, 0.5), quantile(rs, 0.25), quantile(rs, 0.75)
	}
	return ratio(peer.NsPerOp, ours.NsPerOp), ratio(peer.Spread.P25, ours.Spread.P75),
		ratio(peer.Spread.P75, ours.Spread.P25)
}

// timeRatioAbove is timeRatio on the times above floor's:
// (peer - floor) / (ours - floor), within each round when the three cases
// shared their rounds, else from their medians and quartiles.
func timeRatioAbove(peer, ours, floor Result) (mid, lo, hi float64) {
	if n := len(ours.RoundNs); n > 0 && n == len(peer.RoundNs) && n == len(floor.RoundNs) {
		rs := make([]float64, n)
		for i := range rs {
			rs[i] = ratioAbove(peer.RoundNs[i], ours.RoundNs[i], floor.RoundNs[i])
		}
		slices.Sort(rs)
		return quantile(rs, 0.5), quantile(rs, 0.25), quantile(rs, 0.75)
	}
	f := floor.NsPerOp
	return ratioAbove(peer.NsPerOp, ours.NsPerOp, f), ratioAbove(peer.Spread.P25, ours.Spread.P75, f),
		ratioAbove(peer.Spread.P75, ours.Spread.P25, f)
}

// ratioAbove returns (peer - floor) / (ours - floor). A side at or below
// the floor costs nothing above it: zero.
func ratioAbove(peer, ours, floor float64) float64 {
	return ratio(max(peer-floor, 0), max(ours-floor, 0))
}

// ratio returns peer/ours. An ours of zero (no allocations) counts as a
// thousandth, which keeps the ratio finite, as JSON needs.
func ratio(peer, ours float64) float64 {
	if peer == ours {
		return 1
	}
	return peer / math.Max(ours, 1e-3)
}

// fmtPerOp formats a figure of metric m per op, such as "27 allocs/op" or
// "1.25µs/op".
func fmtPerOp(m Metric, x float64) string {
	if m == AllocsPerOp {
		if x == math.Trunc(x) {
			return fmt.Sprintf("%.0f allocs/op", x)
		}
		return fmt.Sprintf("%.1f allocs/op", x)
	}
	return fmtNs(x) + "/op"
}

// fmtRatio formats a ratio as "12.3x".
func fmtRatio(r float64) string {
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0fx", r)
	case r >= 10:
		return fmt.Sprintf("%.1fx", r)
	}
	return fmt.Sprintf("%.2fx", r)
}
