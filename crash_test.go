//go:build !nostores

// The nostores tag leaves out the tests that need the module's stores, for
// the fuzzing build of this package (scripts/test.sh).

package session_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/filestore"
	"github.com/sessionkv/session/sqlstore"
)

// The crash test's child runs this test binary again with these variables.
const (
	crashStoreEnv = "SESSIONKV_CRASH_STORE" // "bolt", "file" or "sqlite"
	crashPathEnv  = "SESSIONKV_CRASH_PATH"
)

func openCrashStore(kind, path string) (session.Store, error) {
	switch kind {
	case "bolt":
		return boltstore.Open(path, &boltstore.Options{Timeout: 5 * time.Second})
	case "file":
		return filestore.New(path, nil)
	case "sqlite":
		return sqlstore.Open("sqlite:"+path, nil)
	}
	return nil, fmt.Errorf("unknown store %q", kind)
}

// TestCrashChild is the child side of TestCrash_AcknowledgedSavesSurviveKill9:
// 16 goroutines create and update sessions through the engine with durable
// settings, and print "id value" once each save is acknowledged.
func TestCrashChild(t *testing.T) {
	kind := os.Getenv(crashStoreEnv)
	if kind == "" {
		t.Skip("run by TestCrash_AcknowledgedSavesSurviveKill9")
	}
	st, err := openCrashStore(kind, os.Getenv(crashPathEnv))
	if err != nil {
		fmt.Println(childErrPrefix, err)
		os.Exit(2)
	}
	e, err := session.New(st, nil)
	if err != nil {
		fmt.Println(childErrPrefix, err)
		os.Exit(2)
	}
	out := bufio.NewWriter(os.Stdout)
	var mu sync.Mutex
	ack := func(id string, v int) {
		mu.Lock()
		fmt.Fprintln(out, id, v)
		out.Flush()
		mu.Unlock()
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				s, _ := e.Load(ctx, "")
				for v := 1; v <= 3; v++ { // create, then update twice
					s.Set("v", v)
					s.Set("pad", strings.Repeat("x", 200*v))
					if err := e.Save(ctx, s); err != nil {
						fmt.Println(childErrPrefix, err)
						os.Exit(2)
					}
					ack(s.ID(), v)
				}
			}
		}()
	}
	wg.Wait()
}

// childErrPrefix starts the line a crash child prints for an error. It
// starts with a character no session ID holds (base64url has no '!'), so
// no acknowledgement can be taken for an error.
const childErrPrefix = "!error:"

// parseChildLine reads one line of a crash child's output: an
// acknowledgement "ID VALUE" (ok), an error line, or noise from the test
// framework (neither).
func parseChildLine(l string) (id string, v int, ok bool, err error) {
	if strings.HasPrefix(l, childErrPrefix) {
		return "", 0, false, errors.New(strings.TrimSpace(strings.TrimPrefix(l, childErrPrefix)))
	}
	if _, err := fmt.Sscan(l, &id, &v); err != nil || !session.ValidID(id) {
		return "", 0, false, nil
	}
	return id, v, true, nil
}

// crashRounds is how many times each store is killed: 20 by default (CI),
// 3 with -short, SESSIONKV_CRASH_ROUNDS for longer campaigns.
func crashRounds() int {
	if n, err := strconv.Atoi(os.Getenv("SESSIONKV_CRASH_ROUNDS")); err == nil && n > 0 {
		return n
	}
	if testing.Short() {
		return 3
	}
	return 20
}

// TestCrash_AcknowledgedSavesSurviveKill9 starts a child that saves durably
// from 16 goroutines, SIGKILLs it at a random moment, reopens the store and
// checks that every save the child saw acknowledged is there, at least as
// new as acknowledged, and decodes; that nothing is half-written; and that
// the store opens without repair.
func TestCrash_AcknowledgedSavesSurviveKill9(t *testing.T) {
	for _, kind := range []string{"bolt", "file", "sqlite"} {
		t.Run(kind, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "store")
			if kind != "file" {
				path += ".db"
			}
			acked := map[string]int{} // id → highest acknowledged value
			rounds := crashRounds()
			total := 0
			for round := range rounds {
				n := crashRound(t, kind, path, acked)
				total += n
				verifyAfterCrash(t, kind, path, acked, round)
			}
			t.Logf("%s: %d kills, %d acknowledged saves, all intact", kind, rounds, total)
		})
	}
}

// crashRound runs one child until a random number of acknowledgements, then
// kills it, and records what it acknowledged.
func crashRound(t *testing.T, kind, path string, acked map[string]int) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashStoreEnv+"="+kind, crashPathEnv+"="+path)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	n := 0
	record := func(l string) {
		id, v, ok, err := parseChildLine(l)
		if err != nil {
			t.Fatalf("child: %v", err)
		}
		if ok {
			acked[id] = max(acked[id], v)
			n++
		}
	}
	want := 10 + rand.IntN(300)
	deadline := time.After(60 * time.Second)
	for n < want {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("child exited early: %v", cmd.Wait())
			}
			record(l)
		case <-deadline:
			t.Fatal("child acknowledged too slowly")
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	for l := range lines { // acknowledgements already written count too
		record(l)
	}
	_ = cmd.Wait()
	return n
}

func verifyAfterCrash(t *testing.T, kind, path string, acked map[string]int, round int) {
	t.Helper()
	st, err := openCrashStore(kind, path)
	if err != nil {
		t.Fatalf("round %d: reopening after kill -9: %v", round, err)
	}
	defer st.(interface{ Close() error }).Close()
	if b, ok := st.(*boltstore.Store); ok {
		err := b.DB().View(func(tx *bbolt.Tx) error {
			for err := range tx.Check() {
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatalf("round %d: bbolt consistency check: %v", round, err)
		}
	}
	if q, ok := st.(*sqlstore.Store); ok {
		var verdict string
		if err := q.DB().QueryRow("PRAGMA integrity_check").Scan(&verdict); err != nil || verdict != "ok" {
			t.Fatalf("round %d: SQLite integrity check: %q, %v", round, verdict, err)
		}
	}
	opts := session.DefaultOptions()
	opts.SweepInterval = -1
	e, _ := session.New(st, opts)
	defer e.Close()
	ctx := context.Background()
	for id, v := range acked {
		s, err := e.Load(ctx, id)
		if err != nil || s.ID() != id {
			t.Fatalf("round %d: acknowledged session %s lost (%v)", round, id[:8], err)
		}
		got, _ := s.GetInt("v")
		pad, _ := s.GetString("pad")
		if got < v || pad != strings.Repeat("x", 200*got) {
			t.Fatalf("round %d: session %s holds v=%d (pad %d bytes), acknowledged v=%d", round, id[:8], got, len(pad), v)
		}
	}
	// Nothing half-written: every record in the store decodes.
	err = e.Range(ctx, func(key string, rec session.Record) bool {
		if _, err := session.DecodeRecord(rec, session.MsgpackCodec{}); err != nil {
			t.Errorf("round %d: record %s does not decode: %v", round, key[:8], err)
			return false
		}
		return true
	})
	if err != nil {
		t.Fatalf("round %d: Range: %v", round, err)
	}
}

func TestParseChildLine_AnIDStartingWithERRIsAnAcknowledgement(t *testing.T) {
	id := "ERR" + strings.Repeat("A", 40) // one valid ID in 262,144 starts so
	if !session.ValidID(id) {
		t.Fatalf("%s is not a valid ID", id)
	}
	if got, v, ok, err := parseChildLine(id + " 2"); err != nil || !ok || got != id || v != 2 {
		t.Errorf("parseChildLine(%q) = %q, %d, %v, %v; want an acknowledgement", id+" 2", got, v, ok, err)
	}
	if _, _, ok, err := parseChildLine(childErrPrefix + " open: boom"); err == nil || ok || err.Error() != "open: boom" {
		t.Errorf("error line: ok %v, err %v", ok, err)
	}
	if _, _, ok, err := parseChildLine("=== RUN   TestCrashChild"); ok || err != nil {
		t.Errorf("framework noise: ok %v, err %v", ok, err)
	}
}
