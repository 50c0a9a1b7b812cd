package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sessionkv/session/bench"
)

func TestRun_WritesAndPublishes(t *testing.T) {
	out, pub := t.TempDir(), t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"-mode", "smoke", "-run", "^codec/|^cycle/(floor|sessionkv-memstore|scs-memstore)/c=1$",
		"-out", out, "-publish", "-publish-dir", pub, "-tmp", t.TempDir()}
	if err := run(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	for _, dir := range []string{out, pub} {
		for _, f := range []string{bench.JSONFile, bench.ReportFile, bench.ThroughputChart} {
			if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
				t.Error(err)
			}
		}
		// No size or keys case ran, so there is no chart of them.
		for _, chart := range []string{bench.SizeChart, bench.KeysChart} {
			if _, err := os.Stat(filepath.Join(dir, chart)); err == nil {
				t.Errorf("%s written without its cases", chart)
			}
		}
	}
	if !strings.Contains(stdout.String(), "cycle/scs-memstore/c=1") || !strings.Contains(stdout.String(), "MET") &&
		!strings.Contains(stdout.String(), "MISSED") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
	if !strings.Contains(stderr.String(), "codec") {
		t.Errorf("no progress on stderr:\n%s", stderr.String())
	}
}

func TestRun_RejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-mode", "fast"},
		{"-run", "("},
		{"-sizes", "10,x"},
		{"-redis", "127.0.0.1:6379"},
		{"-redis", "http://127.0.0.1:6379"},
		{"-postgres", "mysql://127.0.0.1/x"},
		{"-postgres", "127.0.0.1:5432"},
		{"-mysql", "postgres://127.0.0.1/x"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		if err := run(t.Context(), append(args, "-out", t.TempDir()), &stdout, &stderr); err == nil {
			t.Errorf("run(%q) did not fail", args)
		}
	}
}

func TestOptions_Plan(t *testing.T) {
	o := &options{mode: "quick", rounds: 3, sizes: "100, 20000", filter: "^size/", redis: "redis://127.0.0.1:6380/2",
		postgres: "postgresql://b@db/postgres", mysql: "mysql://b:s@db/mysql"}
	p, err := o.plan()
	if err != nil {
		t.Fatal(err)
	}
	if p.Rounds != 3 || len(p.StoreSizes) != 2 || p.StoreSizes[1] != 20000 || p.FileStoreMaxSize < 20000 ||
		p.Filter == nil || !p.Filter.MatchString("size/x") || p.RedisURL != "redis://127.0.0.1:6380/2" ||
		p.PostgresURL != o.postgres || p.MySQLURL != o.mysql {
		t.Errorf("plan = %+v", p)
	}
}

func TestModuleDir_FindsTheBenchModule(t *testing.T) {
	dir, err := moduleDir() // tests run in cmd/sessionbench
	if err != nil {
		t.Fatal(err)
	}
	if !isBenchModule(dir) || filepath.Base(dir) != "bench" {
		t.Errorf("moduleDir() = %s", dir)
	}
}

func TestRun_RewritesFromResults(t *testing.T) {
	first, again := t.TempDir(), t.TempDir()
	var stdout, stderr bytes.Buffer
	args := []string{"-mode", "smoke", "-run", "^codec/", "-out", first, "-tmp", t.TempDir(), "-q"}
	if err := run(t.Context(), args, &stdout, &stderr); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr.String())
	}
	stdout.Reset()
	from := filepath.Join(first, bench.JSONFile)
	if err := run(t.Context(), []string{"-from", from, "-out", again}, &stdout, &stderr); err != nil {
		t.Fatalf("run -from: %v\n%s", err, stderr.String())
	}
	want, err := os.ReadFile(filepath.Join(first, bench.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(again, bench.ReportFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("report from -from differs:\n%s\nwant:\n%s", got, want)
	}
	if !strings.Contains(stdout.String(), "codec/encoding-gob") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}
