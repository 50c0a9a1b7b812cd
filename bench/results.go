package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
)

// Result is what the suite measured for one case. Times are wall-clock
// time per op: with several clients, the elapsed time of a round divided by
// the ops all clients completed in it (the inverse of the throughput).
type Result struct {
	// Name identifies the case: group/contender[/parameters].
	Name string `json:"name"`
	// Group is what the case compares: cycle, store, codec, size, sweep,
	// commit or keys.
	Group string `json:"group"`
	// Contender is who does the work, e.g. "sessionkv-memstore",
	// "scs-memstore" or "encoding-gob".
	Contender string `json:"contender"`
	// Library is the project the contender comes from: sessionkv, scs,
	// gorilla, bbolt, stdlib, or none for the floor.
	Library string `json:"library"`
	// Concurrency is the number of clients running the case at once.
	Concurrency int `json:"concurrency"`
	// StoreSize is the number of sessions in the store, 0 where it does not
	// apply.
	StoreSize int `json:"store_size"`
	// SessionKeys is the number of keys in the session the case's requests
	// load, 0 where it does not apply: only the keys cases set it.
	SessionKeys int `json:"session_keys,omitempty"`

	// NsPerOp is the median over the rounds of the time per op.
	NsPerOp float64 `json:"ns_per_op"`
	// BytesPerOp and AllocsPerOp are the medians over the rounds of the
	// heap bytes and objects allocated per op.
	BytesPerOp  float64 `json:"bytes_per_op"`
	AllocsPerOp float64 `json:"allocs_per_op"`
	// OpsPerSec is 1e9 / NsPerOp.
	OpsPerSec float64 `json:"ops_per_sec"`
	// Spread is the spread of the time per op over the rounds.
	Spread Spread `json:"ns_per_op_spread"`
	// Rounds is the number of rounds and OpsPerRound the ops in each.
	Rounds      int `json:"rounds"`
	OpsPerRound int `json:"ops_per_round"`
	// RoundNs is the time per op of each round, in round order: the cases
	// of a group ran in the same rounds, so their RoundNs pair up.
	RoundNs []float64 `json:"ns_per_op_by_round"`
}

// Spread summarises the time per op over the rounds of a case.
type Spread struct {
	Min float64 `json:"min"`
	P25 float64 `json:"p25"`
	P75 float64 `json:"p75"`
	Max float64 `json:"max"`
}

// Results is everything one run of the suite measured.
type Results struct {
	// Machine describes where the run happened.
	Machine Machine `json:"machine"`
	// Mode, Rounds and RoundTime are the run's plan.
	Mode      Mode          `json:"mode"`
	Rounds    int           `json:"rounds"`
	RoundTime time.Duration `json:"round_time_ns"`
	// Started is when the run began and Elapsed how long it took.
	Started time.Time     `json:"started"`
	Elapsed time.Duration `json:"elapsed_ns"`
	// Cases holds one Result per case, in the order they ran.
	Cases []Result `json:"cases"`
	// Verdicts holds the outcome of each target, as Check returns them.
	Verdicts []Verdict `json:"targets"`
	// Skipped lists the contenders the run could not measure, and why.
	Skipped []Skip `json:"not_measured,omitempty"`
	// Redis describes the Redis server of the Redis cases, "" if none ran;
	// Postgres and MySQL the PostgreSQL and MariaDB (or MySQL) servers of
	// the SQL cases.
	Redis    string `json:"redis,omitempty"`
	Postgres string `json:"postgres,omitempty"`
	MySQL    string `json:"mysql,omitempty"`
}

// Skip is a contender that was not measured.
type Skip struct {
	Contender string `json:"contender"`
	// Reason says why, such as "no redis-server" or "no PostgreSQL
	// server".
	Reason string `json:"reason"`
}

// skipReason returns why the contender of the case named name was not
// measured, if it was not.
func (r *Results) skipReason(name string) (string, bool) {
	parts := strings.Split(name, "/")
	if len(parts) < 2 {
		return "", false
	}
	for _, s := range r.Skipped {
		if s.Contender == parts[1] {
			return s.Reason, true
		}
	}
	return "", false
}

// Find returns the result of the case with the given name.
func (r *Results) Find(name string) (Result, bool) {
	for _, c := range r.Cases {
		if c.Name == name {
			return c, true
		}
	}
	return Result{}, false
}

// ReadJSON reads results written by WriteJSON.
func ReadJSON(path string) (*Results, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("bench: read results: %w", err)
	}
	var r Results
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("bench: read results %s: %w", path, err)
	}
	return &r, nil
}

// fmtNs formats a time per op with a unit that keeps it short.
func fmtNs(ns float64) string {
	switch {
	case ns >= 1e9:
		return fmt.Sprintf("%.2fs", ns/1e9)
	case ns >= 1e6:
		return fmt.Sprintf("%.2fms", ns/1e6)
	case ns >= 1e4:
		return fmt.Sprintf("%.1fµs", ns/1e3)
	case ns >= 1e3:
		return fmt.Sprintf("%.2fµs", ns/1e3)
	}
	return fmt.Sprintf("%.0fns", ns)
}
