package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// runner runs the groups of one run of the suite.
type runner struct {
	plan     *Plan
	env      *env
	progress io.Writer
	results  []Result
	skipped  []Skip
	sqlOnce  sync.Once
}

// group is one set of cases measured together.
type group struct {
	name string
	run  func(r *runner) error
}

// groups lists the groups in the order they run: the size cases last, as
// their large stores make the heap, and so the collector's work, grow.
var groups = []group{
	{"codec", (*runner).codecGroup},
	{"store", (*runner).storeGroup},
	{"cycle", (*runner).cycleGroup},
	{"commit", (*runner).commitGroup},
	{"sweep", (*runner).sweepGroup},
	{"keys", (*runner).keysGroup},
	{"size", (*runner).sizeGroup},
}

// Run measures every case the plan selects and returns the results, with
// the targets checked. It writes progress lines to progress (io.Discard for
// none). Stores are made in a new directory under plan.TempDir, removed
// before Run returns. Cancelling ctx stops the run at the next store call.
func Run(ctx context.Context, plan Plan, progress io.Writer) (res *Results, err error) {
	if err := plan.validate(); err != nil {
		return nil, err
	}
	started := time.Now()
	machine := DescribeMachine(plan.TempDir)
	dir, err := os.MkdirTemp(plan.TempDir, "sessionbench-")
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer func() {
		if rmErr := os.RemoveAll(dir); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("bench: remove the stores: %w", rmErr))
		}
	}()
	data, err := makeSessionData(ctx)
	if err != nil {
		return nil, err
	}
	// The Redis server, if the suite starts one, lives in the run's
	// directory and stops before that is removed.
	redis := newRedisSource(plan.RedisURL, filepath.Join(dir, "redis"))
	defer func() {
		if stopErr := redis.close(); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
	}()
	// The PostgreSQL and MariaDB servers, if the suite launches them, live
	// in sqltest's directory in os.TempDir(), where the postgres user can
	// reach them.
	postgres := newSQLSource(postgresKind, plan.PostgresURL)
	mysql := newSQLSource(mysqlKind, plan.MySQLURL)
	defer func() {
		if stopErr := errors.Join(postgres.close(), mysql.close()); stopErr != nil {
			err = errors.Join(err, stopErr)
		}
	}()
	e := &env{ctx: ctx, dir: dir, data: data, redis: redis, postgres: postgres, mysql: mysql}
	r := &runner{plan: &plan, env: e, progress: progress}
	for _, g := range groups {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "%s\n", g.name)
		groupStart := time.Now()
		if err := g.run(r); err != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "  (%s: %v)\n", g.name, time.Since(groupStart).Round(time.Millisecond))
	}
	res = &Results{
		Machine: machine, Mode: plan.Mode, Rounds: plan.Rounds, RoundTime: plan.RoundTime,
		Started: started, Elapsed: time.Since(started), Cases: r.results, Skipped: r.skipped,
		Redis: redis.describe(), Postgres: postgres.describe(), MySQL: mysql.describe(),
	}
	res.Verdicts = Check(res)
	return res, nil
}

// measure measures the cases of one group and keeps their results.
func (r *runner) measure(cases []*benchCase) error {
	if len(cases) == 0 {
		return nil
	}
	if err := measure(cases, r.plan, r.progress); err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	for _, c := range cases {
		r.results = append(r.results, c.Result)
	}
	return nil
}

// startSQLServers gets ready, side by side, every database server the
// plan's cases need: launching the two takes seconds each.
func (r *runner) startSQLServers() {
	var wg sync.WaitGroup
	for _, b := range []backend{postgresBackend, mysqlBackend} {
		if slices.ContainsFunc(contenders(), func(c contender) bool { return c.server == b && r.plan.wantsContender(c) }) {
			wg.Go(func() { _ = r.env.ready(b) }) // the error is kept for the cases
		}
	}
	wg.Wait()
}

// closeAll runs the closers of a group's subjects and stores.
func (r *runner) closeAll(closers []func() error) error {
	var errs []error
	for _, c := range closers {
		errs = append(errs, c())
	}
	return errors.Join(errs...)
}

// available reports whether a contender can run: one that needs a server
// (Redis, PostgreSQL, MariaDB) cannot when the run has none, and is then
// recorded as not measured. Any other failure to reach the server is an
// error.
func (r *runner) available(contender string, needs backend) (bool, error) {
	if needs == postgresBackend || needs == mysqlBackend {
		r.sqlOnce.Do(r.startSQLServers)
	}
	err := r.env.ready(needs)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, needs.missing()):
		if !slices.ContainsFunc(r.skipped, func(s Skip) bool { return s.Contender == contender }) {
			r.skipped = append(r.skipped, Skip{Contender: contender, Reason: needs.missing().Error()})
			fmt.Fprintf(r.progress, "  %s: not measured: %v\n", contender, err)
		}
		return false, nil
	}
	return false, err
}
