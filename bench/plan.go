package bench

import (
	"fmt"
	"regexp"
	"slices"
	"time"
)

// Mode names a preset Plan.
type Mode string

// The modes of the suite, from the smallest to the largest.
const (
	// Smoke runs every case for a few milliseconds on tiny stores: it
	// proves the suite works (tests use it) and measures nothing reliably.
	Smoke Mode = "smoke"
	// Quick runs every case briefly on stores of up to 10k sessions, well
	// under a minute in all: a check that the figures are in the expected
	// range.
	Quick Mode = "quick"
	// Full runs more and longer rounds on stores of up to 1M sessions
	// (100k for file-per-session stores), a few minutes in all: the figures
	// to publish.
	Full Mode = "full"
)

// Plan says how much of each case to run. Every field but TempDir, Filter
// and the server URLs must be set; start from PlanFor.
type Plan struct {
	// Mode is the preset the plan started from, shown in the report.
	Mode Mode
	// Rounds is how many times each case is measured. The figures are the
	// median over the rounds; the spread is their minimum, maximum and
	// quartiles.
	Rounds int
	// RoundTime is roughly how long one case runs in one round.
	RoundTime time.Duration
	// Concurrency lists the numbers of concurrent clients of the request
	// cycle and commit cases.
	Concurrency []int
	// Sessions is how many sessions each request-cycle contender holds; the
	// requests go to them in turn.
	Sessions int
	// StoreSizes lists the store sizes of the size cases.
	StoreSizes []int
	// FileStoreMaxSize caps the size cases on file-per-session stores: a
	// million sessions there are a million files, gigabytes and minutes to
	// create.
	FileStoreMaxSize int
	// SweepExpired lists how many expired sessions each sweep case removes.
	SweepExpired []int
	// SweepLive is how many live sessions the swept store also holds.
	SweepLive int
	// SessionKeys lists the numbers of keys in the session of the keys
	// cases: "counter" and strings of 100 bytes. Each keys contender holds
	// Plan.Sessions such sessions.
	SessionKeys []int
	// TempDir is where the stores' files go; "" means os.TempDir(). The
	// durable cases measure that directory's disk.
	TempDir string
	// Filter, when not nil, selects the cases to run by name.
	Filter *regexp.Regexp
	// RedisURL is the Redis server of the Redis cases, such as
	// "redis://127.0.0.1:6379/0". Empty, the suite starts its own
	// redis-server if one is on PATH, and stops it when the run ends;
	// without one, the Redis cases are reported as not measured. The
	// cases write keys under a prefix of their own ("sessionbench:") and
	// delete them when done.
	RedisURL string
	// PostgresURL and MySQLURL are the servers of the PostgreSQL and
	// MariaDB (or MySQL) cases, such as "postgres://bench@127.0.0.1:5432/postgres"
	// and "mysql://bench:secret@127.0.0.1:3306/mysql": the user must be
	// allowed to create and drop databases. Each store gets a database of
	// its own, "sessionbench_<pid>_...", dropped when it is done. Empty, the
	// suite launches a throwaway server (sqlstore/sqltest) if the server's
	// programs are installed, and stops it when the run ends; without
	// them, those cases are reported as not measured.
	PostgresURL string
	MySQLURL    string
}

// PlanFor returns the preset plan of a mode.
func PlanFor(m Mode) (Plan, error) {
	conc := []int{1, 8, 64}
	keys := []int{1, 10, 100, 1000}
	switch m {
	case Smoke:
		return Plan{Mode: m, Rounds: 2, RoundTime: time.Millisecond, Concurrency: conc, Sessions: 64,
			StoreSizes: []int{100, 1000}, FileStoreMaxSize: 1000,
			SweepExpired: []int{10, 100}, SweepLive: 100, SessionKeys: []int{1, 10, 100}}, nil
	case Quick:
		return Plan{Mode: m, Rounds: 7, RoundTime: 20 * time.Millisecond, Concurrency: conc, Sessions: 64,
			StoreSizes: []int{1000, 10_000}, FileStoreMaxSize: 10_000,
			SweepExpired: []int{1000, 10_000}, SweepLive: 10_000, SessionKeys: keys}, nil
	case Full:
		return Plan{Mode: m, Rounds: 25, RoundTime: 60 * time.Millisecond, Concurrency: conc, Sessions: 64,
			StoreSizes: []int{10_000, 100_000, 1_000_000}, FileStoreMaxSize: 100_000,
			SweepExpired: []int{1000, 10_000}, SweepLive: 100_000, SessionKeys: keys}, nil
	}
	return Plan{}, fmt.Errorf("bench: unknown mode %q (want %s, %s or %s)", m, Smoke, Quick, Full)
}

// wants reports whether the case named name is selected.
func (p *Plan) wants(name string) bool {
	return p.Filter == nil || p.Filter.MatchString(name)
}

// wantsContender reports whether any case of contender c is selected.
func (p *Plan) wantsContender(c contender) bool {
	var names []string
	for _, conc := range p.Concurrency {
		names = append(names, cycleName(c.name, conc))
	}
	for _, n := range p.StoreSizes {
		names = append(names, sizeName(c.name, n))
	}
	for _, n := range p.SessionKeys {
		names = append(names, keysName(c.name, n))
	}
	if c.library == "sessionkv" {
		names = append(names, "store/"+c.name+"/load", "store/"+c.name+"/save")
	}
	return slices.ContainsFunc(names, p.wants)
}

func (p *Plan) validate() error {
	switch {
	case p.Rounds < 1:
		return fmt.Errorf("bench: Rounds %d is under 1", p.Rounds)
	case p.RoundTime <= 0:
		return fmt.Errorf("bench: RoundTime %v is not positive", p.RoundTime)
	case p.Sessions < 1:
		return fmt.Errorf("bench: Sessions %d is under 1", p.Sessions)
	}
	for _, c := range p.Concurrency {
		if c < 1 {
			return fmt.Errorf("bench: concurrency %d is under 1", c)
		}
	}
	for _, n := range p.SessionKeys {
		if n < 1 {
			return fmt.Errorf("bench: session keys %d is under 1", n)
		}
	}
	return nil
}
