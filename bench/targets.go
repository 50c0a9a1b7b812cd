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

// target is a ratio sessionkv must reach against a peer in the same run.
type target struct {
	title  string
	ours   string // case names
	peer   string
	metric Metric
	// atLeast is the least peer/ours ratio that meets the target: 5 means
	// ours takes at most a fifth of the peer's; 1 means ours must be faster.
	atLeast float64
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
}

// Verdict is the outcome of one target in one run.
type Verdict struct {
	// Title states the target.
	Title string `json:"title"`
	// Ours and Peer name the cases compared.
	Ours string `json:"ours"`
	Peer string `json:"peer"`
	// Metric is what is compared and Required the least peer/ours ratio
	// that meets the target.
	Metric   Metric  `json:"metric"`
	Required float64 `json:"required"`
	// Ratio is peer/ours. For times it is the median over the rounds of
	// the ratio within each round, and Low and High are its quartiles (see
	// timeRatio); for allocations, the ratio of the medians.
	Ratio float64 `json:"ratio"`
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
	v := Verdict{Title: t.title, Ours: t.ours, Peer: t.peer, Metric: t.metric, Required: t.atLeast,
		Informational: t.informational}
	ours, okOurs := res.Find(t.ours)
	peer, okPeer := res.Find(t.peer)
	switch {
	case !okOurs && t.absent != "":
		v.Status, v.Note = NotMeasured, t.absent
		return v
	case !okOurs || !okPeer:
		v.Status, v.Note = NotMeasured, "not run in this run"
		for _, name := range []string{t.ours, t.peer} {
			if reason, ok := res.skipReason(name); ok {
				v.Note = reason
				break
			}
		}
		return v
	}
	if t.metric == AllocsPerOp {
		v.Ratio = ratio(peer.AllocsPerOp, ours.AllocsPerOp)
	} else {
		v.Ratio, v.Low, v.High = timeRatio(peer, ours)
	}
	v.Status = Missed
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

// ratio returns peer/ours. An ours of zero (no allocations) counts as a
// thousandth, which keeps the ratio finite, as JSON needs.
func ratio(peer, ours float64) float64 {
	if peer == ours {
		return 1
	}
	return peer / math.Max(ours, 1e-3)
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
