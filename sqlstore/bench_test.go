package sqlstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/sqlstore"
	"github.com/sessionkv/session/storetest"
)

// record is testkit.TenKeys encoded as the engine stores it (about 350
// bytes).
func record(tb testing.TB) []byte {
	b, err := session.MsgpackCodec{}.Encode([]byte{1, 0}, testkit.TenKeys())
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// rawUpsert is the raw contender's statement: the store's own upsert, run
// as a statement of its own (one implicit transaction, one commit).
func rawUpsert(d sqlstore.Dialect) string {
	q := `INSERT INTO sessions (session_key, data, expires_ms, user_id, token, sweep_ms) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_key) DO UPDATE SET data = excluded.data, expires_ms = excluded.expires_ms, user_id = excluded.user_id, token = excluded.token, sweep_ms = excluded.sweep_ms`
	switch d {
	case sqlstore.PostgreSQL:
		return `INSERT INTO sessions (session_key, data, expires_ms, user_id, token, sweep_ms) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (session_key) DO UPDATE SET data = excluded.data, expires_ms = excluded.expires_ms, user_id = excluded.user_id, token = excluded.token, sweep_ms = excluded.sweep_ms`
	case sqlstore.MySQL:
		return `INSERT INTO sessions (session_key, data, expires_ms, user_id, token, sweep_ms) VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE data = VALUES(data), expires_ms = VALUES(expires_ms), user_id = VALUES(user_id), token = VALUES(token), sweep_ms = VALUES(sweep_ms)`
	}
	return q
}

// sweepMs is the sweep_ms column of a row that expires at exp (Unix ms,
// after 1970), as Schema documents it.
func sweepMs(exp int64) int64 {
	g := sqlstore.SweepGranularity.Milliseconds()
	return exp - exp%g
}

// rawSelect is the raw contender's read: the row's data by primary key.
func rawSelect(d sqlstore.Dialect) string {
	if d == sqlstore.PostgreSQL {
		return `SELECT data FROM sessions WHERE session_key = $1`
	}
	return `SELECT data FROM sessions WHERE session_key = ?`
}

// target is a database the benchmarks run on: SQLite files (durable and
// NoSync) or a server.
type target struct {
	name string
	open func(b *testing.B) (store, raw *sqlstore.Store)
}

func targets() []target {
	sqlite := func(noSync bool) func(b *testing.B) (*sqlstore.Store, *sqlstore.Store) {
		return func(b *testing.B) (*sqlstore.Store, *sqlstore.Store) {
			s, _ := openSQLite(b, &sqlstore.Options{NoSync: noSync})
			raw, _ := openSQLite(b, &sqlstore.Options{NoSync: noSync})
			return s, raw
		}
	}
	ts := []target{{"sqlite", sqlite(false)}, {"sqlite-nosync", sqlite(true)}}
	for _, e := range engines {
		ts = append(ts, target{e.name, func(b *testing.B) (*sqlstore.Store, *sqlstore.Store) {
			srv := e.shared(b)
			return openURL(b, srv.NewDatabase(b), nil), openURL(b, srv.NewDatabase(b), nil)
		}})
	}
	return ts
}

// BenchmarkCommit compares Save with the raw floor, one upsert statement
// per commit on a database with the same settings, for 1 and 64
// concurrent writers. On SQLite the store shares transactions between
// writers (group commit) while the raw statements each commit alone. Each
// iteration is one round in which both commit in turn (the machine's disk
// and load vary from second to second); the figures are totals: commits/s
// of each and store/raw.
func BenchmarkCommit(b *testing.B) {
	data := record(b)
	exp := time.Now().Add(time.Hour)
	for _, tg := range targets() {
		for _, writers := range []int{1, 64} {
			b.Run(fmt.Sprintf("%s/writers=%d", tg.name, writers), func(b *testing.B) {
				s, raw := tg.open(b)
				ctx := context.Background()
				upsert := rawUpsert(s.Dialect())
				perRound := 50 * writers
				ops := []func(i int) error{
					func(i int) error {
						return s.Save(ctx, storetest.Key(fmt.Sprint(i%4096)), session.Record{Data: data, Expires: exp})
					},
					func(i int) error {
						_, err := raw.DB().ExecContext(ctx, upsert, storetest.Key(fmt.Sprint(i%4096)), data, exp.UnixMilli(), []byte{}, int64(i), sweepMs(exp.UnixMilli()))
						return err
					},
				}
				var elapsed [2]time.Duration
				for b.Loop() {
					for j, op := range ops {
						elapsed[j] += testkit.TimedInParallel(b, writers, perRound, op)
					}
				}
				rate := func(j int) float64 { return float64(perRound*b.N) / elapsed[j].Seconds() }
				b.ReportMetric(rate(0), "store-commits/s")
				b.ReportMetric(rate(1), "raw-commits/s")
				b.ReportMetric(rate(0)/rate(1), "store/raw")
				b.ReportMetric(0, "ns/op")
			})
		}
	}
}

// BenchmarkLoad compares Load plus decode with the raw floor, a SELECT of
// the data by primary key plus decode, alternating in each iteration.
func BenchmarkLoad(b *testing.B) {
	data := record(b)
	const keys = 1000
	for _, tg := range targets() {
		if tg.name == "sqlite-nosync" {
			continue // reads do not sync
		}
		b.Run(tg.name, func(b *testing.B) {
			s, _ := tg.open(b)
			ctx := context.Background()
			if err := testkit.InParallel(16, keys, func(i int) error {
				return s.Save(ctx, storetest.Key(fmt.Sprint(i)), session.Record{Data: data, Expires: time.Now().Add(time.Hour)})
			}); err != nil {
				b.Fatal(err)
			}
			sel, err := s.DB().PrepareContext(ctx, rawSelect(s.Dialect()))
			if err != nil {
				b.Fatal(err)
			}
			defer sel.Close()
			decode := func(d []byte) {
				if _, err := (session.MsgpackCodec{}).Decode(d[2:]); err != nil {
					b.Fatal(err)
				}
			}
			var elapsed [2]time.Duration
			const perRound = 200
			for i := 0; b.Loop(); i++ {
				start := time.Now()
				for j := range perRound {
					rec, err := s.Load(ctx, storetest.Key(fmt.Sprint((i*perRound+j)%keys)))
					if err != nil {
						b.Fatal(err)
					}
					decode(rec.Data)
				}
				elapsed[0] += time.Since(start)
				start = time.Now()
				for j := range perRound {
					var d []byte
					if err := sel.QueryRowContext(ctx, storetest.Key(fmt.Sprint((i*perRound+j)%keys))).Scan(&d); err != nil {
						b.Fatal(err)
					}
					decode(d)
				}
				elapsed[1] += time.Since(start)
			}
			per := func(j int) float64 { return float64(elapsed[j].Nanoseconds()) / float64(b.N*perRound) }
			b.ReportMetric(per(0), "store-ns/load")
			b.ReportMetric(per(1), "raw-ns/load")
			b.ReportMetric(per(0)/per(1), "store/raw")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// filled caches one SQLite file per size for the whole run, filled with n
// live sessions.
var filled struct {
	sync.Mutex
	paths map[int]string
	dir   string
}

// filledPath returns an SQLite database holding n live sessions.
func filledPath(b *testing.B, n int) string {
	filled.Lock()
	defer filled.Unlock()
	if p, ok := filled.paths[n]; ok {
		return p
	}
	if filled.paths == nil {
		dir, err := os.MkdirTemp("", "sqlstore-bench-")
		if err != nil {
			b.Fatal(err)
		}
		filled.dir, filled.paths = dir, map[int]string{}
	}
	path := filepath.Join(filled.dir, fmt.Sprint(n, ".sqlite3"))
	s, err := sqlstore.Open("sqlite:"+path, &sqlstore.Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := record(b)
	exp := time.Now().Add(24 * time.Hour).UnixMilli()
	tx, err := s.DB().Begin()
	if err != nil {
		b.Fatal(err)
	}
	st, err := tx.Prepare(rawUpsert(sqlstore.SQLite))
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if _, err := st.Exec(storetest.Key(fmt.Sprint(i)), data, exp, []byte{}, int64(i), sweepMs(exp)); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	filled.paths[n] = path
	return path
}

// sweepSizes are the table sizes BenchmarkSweep sweeps: 100k and 1M rows,
// 10k with -short.
func sweepSizes() []int {
	if testing.Short() {
		return []int{10_000}
	}
	return []int{100_000, 1_000_000}
}

// BenchmarkSweep times DeleteExpired of 1,000 expired sessions among 100k
// and among 1M live ones on SQLite: through the expiry index, its cost
// follows the expired count, not the table's size.
func BenchmarkSweep(b *testing.B) {
	const expired = 1000
	data := record(b)
	for _, n := range sweepSizes() {
		b.Run(fmt.Sprintf("expired=%d/live=%d", expired, n), func(b *testing.B) {
			clk := testkit.NewClock(time.Now())
			s, err := sqlstore.Open("sqlite:"+filledPath(b, n), &sqlstore.Options{Now: clk.Now})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			ctx := context.Background()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				testkit.TimedInParallel(b, 64, expired, func(j int) error {
					return s.Save(ctx, storetest.Key(fmt.Sprint("expired-", i, "-", j)),
						session.Record{Data: data, Expires: clk.Now().Add(-time.Minute)})
				})
				b.StartTimer()
				got, err := s.DeleteExpired(ctx)
				if err != nil || got != expired {
					b.Fatalf("DeleteExpired = %d, %v", got, err)
				}
			}
		})
	}
}
