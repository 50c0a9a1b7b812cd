// Command sessionbench runs sessionkv's benchmark suite: sessionkv beside
// the session libraries Go users would pick instead, on this machine, in
// one run.
//
// Usage, from the bench directory:
//
//	go run ./cmd/sessionbench                  # quick mode, well under a minute
//	go run ./cmd/sessionbench -mode full       # the figures to publish, a few minutes
//	go run ./cmd/sessionbench -mode full -publish
//
// The Redis cases run on a redis-server the command starts for the run (on
// a free loopback port, without persistence, stopped at the end) when one
// is on PATH, or on the server given with -redis URL; without either they
// are reported as not measured. Likewise, the PostgreSQL and MariaDB cases
// run on throwaway servers the command launches (sqlstore/sqltest: the
// Debian packages postgresql and mariadb-server) or on those given with
// -postgres URL and -mysql URL, whose user must be allowed to create and
// drop databases.
//
// It prints a table, then writes results.json, report.md and PNG charts to
// the output directory (default: the bench module's results directory).
// With -publish it also writes them to docs/bench beside the module, the
// copy the repository keeps. With -from it writes them again from an
// earlier results.json instead of running.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/sessionkv/session/bench"
	"github.com/sessionkv/session/sqlstore"
	"github.com/sessionkv/session/sqlstore/sqltest"
)

// benchModule is the module path whose directory holds the default output
// directories.
const benchModule = "github.com/sessionkv/session/bench"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	// The run has stopped the servers it launched; this removes the
	// templates they were made from.
	sqltest.StopShared()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "sessionbench:", err)
		}
		os.Exit(2)
	}
}

// options are the command's flags.
type options struct {
	mode       string
	out        string
	publish    bool
	publishDir string
	filter     string
	rounds     int
	roundTime  time.Duration
	sizes      string
	tmp        string
	quiet      bool
	from       string
	redis      string
	postgres   string
	mysql      string
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	var o options
	fs := flag.NewFlagSet("sessionbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.mode, "mode", string(bench.Quick), "smoke, quick or full")
	fs.StringVar(&o.out, "out", "", "output directory (default: results in the bench module)")
	fs.BoolVar(&o.publish, "publish", false, "also write the report, charts and results.json to -publish-dir")
	fs.StringVar(&o.publishDir, "publish-dir", "", "where -publish writes (default: docs/bench beside the bench module)")
	fs.StringVar(&o.filter, "run", "", "run only the cases whose name matches this regular expression")
	fs.IntVar(&o.rounds, "rounds", 0, "rounds per case (default: the mode's)")
	fs.DurationVar(&o.roundTime, "round-time", 0, "time per case per round (default: the mode's)")
	fs.StringVar(&o.sizes, "sizes", "", "comma-separated store sizes of the size cases (default: the mode's)")
	fs.StringVar(&o.tmp, "tmp", "", "directory for the stores' files; the durable cases measure its disk (default: the temp dir)")
	fs.BoolVar(&o.quiet, "q", false, "no progress lines on stderr")
	fs.StringVar(&o.redis, "redis", "", "URL of the Redis server of the Redis cases, e.g. redis://127.0.0.1:6379/0 "+
		"(default: start a redis-server from PATH for the run; without one they are not measured)")
	fs.StringVar(&o.postgres, "postgres", "", "URL of the PostgreSQL server of the PostgreSQL cases, e.g. "+
		"postgres://bench@127.0.0.1:5432/postgres, whose user may create databases "+
		"(default: launch a throwaway server if PostgreSQL is installed)")
	fs.StringVar(&o.mysql, "mysql", "", "URL of the MariaDB or MySQL server of the MariaDB cases, e.g. "+
		"mysql://bench:secret@127.0.0.1:3306/mysql, whose user may create databases "+
		"(default: launch a throwaway server if MariaDB is installed)")
	fs.StringVar(&o.from, "from", "", "instead of running, write the table, report and charts again from this results.json")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	return &o, nil
}

// plan turns the flags into a bench.Plan.
func (o *options) plan() (bench.Plan, error) {
	p, err := bench.PlanFor(bench.Mode(o.mode))
	if err != nil {
		return p, err
	}
	if o.rounds > 0 {
		p.Rounds = o.rounds
	}
	if o.roundTime > 0 {
		p.RoundTime = o.roundTime
	}
	if o.sizes != "" {
		p.StoreSizes = nil
		for _, f := range strings.Split(o.sizes, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			if err != nil || n < 1 {
				return p, fmt.Errorf("-sizes: bad size %q", f)
			}
			p.StoreSizes = append(p.StoreSizes, n)
			p.FileStoreMaxSize = max(p.FileStoreMaxSize, n)
		}
	}
	if o.filter != "" {
		re, err := regexp.Compile(o.filter)
		if err != nil {
			return p, fmt.Errorf("-run: %w", err)
		}
		p.Filter = re
	}
	if o.redis != "" {
		if u, err := url.Parse(o.redis); err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			return p, fmt.Errorf("-redis: want a URL such as redis://127.0.0.1:6379/0, not %q", o.redis)
		}
		p.RedisURL = o.redis
	}
	for _, s := range []struct {
		flag, value, example string
		schemes              []string
		dst                  *string
	}{
		{"-postgres", o.postgres, "postgres://bench@127.0.0.1:5432/postgres", []string{"postgres", "postgresql"}, &p.PostgresURL},
		{"-mysql", o.mysql, "mysql://bench:secret@127.0.0.1:3306/mysql", []string{"mysql", "mariadb"}, &p.MySQLURL},
	} {
		if s.value == "" {
			continue
		}
		if u, err := url.Parse(s.value); err != nil || !slices.Contains(s.schemes, u.Scheme) || u.Host == "" {
			return p, fmt.Errorf("%s: want a URL such as %s, not %q", s.flag, s.example, sqlstore.Redact(s.value))
		}
		*s.dst = s.value
	}
	p.TempDir = o.tmp
	return p, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	plan, err := o.plan()
	if err != nil {
		return err
	}
	out, publishDir := o.out, o.publishDir
	if out == "" || (o.publish && publishDir == "") {
		dir, err := moduleDir()
		if err != nil {
			return fmt.Errorf("%w; give -out and -publish-dir", err)
		}
		if out == "" {
			out = filepath.Join(dir, "results")
		}
		if publishDir == "" {
			publishDir = filepath.Join(dir, "..", "docs", "bench")
		}
	}
	progress := stderr
	if o.quiet {
		progress = io.Discard
	}
	res, err := results(ctx, o, plan, progress)
	if err != nil {
		return err
	}
	if err := bench.WriteTable(stdout, res); err != nil {
		return err
	}
	dirs := []string{out}
	if o.publish {
		dirs = append(dirs, publishDir)
	}
	for _, dir := range dirs {
		if err := bench.WriteFiles(dir, res); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s, %s and charts to %s\n", bench.ReportFile, bench.JSONFile, dir)
	}
	return nil
}

// results runs the plan, or reads the results of an earlier run with -from
// and checks the targets on them again.
func results(ctx context.Context, o *options, plan bench.Plan, progress io.Writer) (*bench.Results, error) {
	if o.from == "" {
		return bench.Run(ctx, plan, progress)
	}
	res, err := bench.ReadJSON(o.from)
	if err != nil {
		return nil, err
	}
	res.Verdicts = bench.Check(res)
	return res, nil
}

// moduleDir finds the bench module's directory: the working directory or
// one of its parents, or a "bench" directory in one of them.
func moduleDir() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		for _, cand := range []string{dir, filepath.Join(dir, "bench")} {
			if isBenchModule(cand) {
				return cand, nil
			}
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("no %s module around %s", benchModule, wd)
		}
	}
}

func isBenchModule(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && f[1] == benchModule {
			return true
		}
	}
	return false
}
