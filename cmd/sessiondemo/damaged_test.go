package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
)

// TestDemoMainChild runs the demo's main in a child process for
// TestDemo_DamagedBoltFileExitsWithOneLine.
func TestDemoMainChild(t *testing.T) {
	if os.Getenv("SESSIONDEMO_CHILD") == "" {
		t.Skip("run by TestDemo_DamagedBoltFileExitsWithOneLine")
	}
	os.Args = append([]string{"sessiondemo"}, strings.Fields(os.Getenv("SESSIONDEMO_ARGS"))...)
	main()
}

// damageBolt zeroes, in the bolt file at path, the first page whose loss
// boltstore.Check notices.
func damageBolt(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const page = 4096
	for p := 2; p < len(data)/page; p++ {
		bad := bytes.Clone(data)
		clear(bad[p*page : (p+1)*page])
		if err := os.WriteFile(path, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := boltstore.Check(path, nil); errors.Is(err, session.ErrCorrupt) {
			return
		}
	}
	t.Fatal("no zeroed page made the file fail its check")
}

func TestDemo_DamagedBoltFileExitsWithOneLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, boltstore.DefaultFileName)
	st, err := boltstore.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b", "c"} {
		rec := session.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)}
		if err := st.Save(context.Background(), session.StoreKey(id), rec); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	damageBolt(t, path)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestDemoMainChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SESSIONDEMO_CHILD=1", "SESSIONDEMO_ARGS=-addr 127.0.0.1:0",
		"SESSION_ENGINE=bolt", "SESSION_FILE_PATH="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("demo on a damaged file: %v, want exit status 1\nstdout:\n%s\nstderr:\n%s", err, &stdout, &stderr)
	}
	out := stderr.String()
	if strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, "sessiondemo: ") ||
		!strings.Contains(out, path) || !strings.Contains(out, "sessionctl salvage") {
		t.Errorf("stderr = %q, want one line naming the file and the way out", out)
	}
}

func TestDemo_HelpExitsZero(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestDemoMainChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SESSIONDEMO_CHILD=1", "SESSIONDEMO_ARGS=-h")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sessiondemo -h: %v\n%s", err, &stderr)
	}
	if !strings.Contains(stderr.String(), "Usage: sessiondemo") || strings.Contains(stderr.String(), "help requested") {
		t.Errorf("sessiondemo -h printed %q", &stderr)
	}
}

func TestDemo_UnreachableRedisIsOneLine(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^TestDemoMainChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SESSIONDEMO_CHILD=1", "SESSIONDEMO_ARGS=-addr 127.0.0.1:0",
		"SESSION_ENGINE=redis", "REDIS_URL=redis://127.0.0.1:1/0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("demo with Redis unreachable: %v, want exit status 1\n%s", err, &stderr)
	}
	if n := strings.Count(stderr.String(), "\n"); n != 1 {
		t.Errorf("demo with Redis unreachable printed %d lines, want one:\n%s", n, &stderr)
	}
}

// TestDemo_UnreachableDatabaseIsOneLineWithoutPassword: the database
// drivers report each connection attempt on a line of their own, and the
// URL holds a password.
func TestDemo_UnreachableDatabaseIsOneLineWithoutPassword(t *testing.T) {
	for _, url := range []string{
		"postgres://app:hunter2@127.0.0.1:1/app?connect_timeout=2",
		"postgres://127.0.0.1:1/app?user=app&password=hunter2&connect_timeout=2",
		"mysql://app:hunter2@127.0.0.1:1/app?timeout=2s",
		"mysql://app:hunter2@127.0.0.1:1", // no database: a bad URL
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestDemoMainChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "SESSIONDEMO_CHILD=1", "SESSIONDEMO_ARGS=-addr 127.0.0.1:0",
			"SESSION_ENGINE=db", "DATABASE_URL="+url)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 {
			t.Fatalf("demo with %s: %v, want exit status 1\n%s", url, err, &stderr)
		}
		out := stderr.String()
		if strings.Count(out, "\n") != 1 || strings.Contains(out, "hunter2") || !strings.Contains(out, "xxxxx") {
			t.Errorf("demo with %s printed:\n%s", url, out)
		}
	}
}
