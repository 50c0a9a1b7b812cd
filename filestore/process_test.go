package filestore

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/storetest"
)

// The multi-process tests re-execute the test binary; these variables tell
// the child which part to play.
const (
	envRole  = "FILESTORE_TEST_ROLE"
	envDir   = "FILESTORE_TEST_DIR"
	envChild = "FILESTORE_TEST_CHILD"
	envIters = "FILESTORE_TEST_ITERS"
	envBase  = "FILESTORE_TEST_BASE"
	envKill  = "FILESTORE_TEST_KILL"
)

// TestHelperProcess is not a test: it is the body of the child processes
// started by TestMultiProcess, TestCrash and the user index tests, and skips
// otherwise.
func TestHelperProcess(t *testing.T) {
	switch role := os.Getenv(envRole); role {
	case "":
		t.Skip("runs only as a child of TestMultiProcess, TestCrash or a user index test")
	case "counter":
		runCounter(t)
	case "crash-writer":
		runCrashWriter(t)
	case "user-writer":
		runUserWriter(t)
	case "marker-crash":
		runMarkerCrash(t)
	default:
		t.Fatalf("unknown role %q", role)
	}
}

// helperCommand returns a command running TestHelperProcess in role.
func helperCommand(ctx context.Context, role string, env ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), append([]string{envRole + "=" + role}, env...)...)
	return cmd
}

// startChildren starts n processes running TestHelperProcess in role on
// dir, each told its number and iters. done is closed once every child has
// exited; errs then holds the failure of each child that did not succeed,
// with its output.
func startChildren(ctx context.Context, role, dir string, n, iters int) (done <-chan struct{}, errs <-chan error) {
	finished := make(chan struct{})
	failures := make(chan error, n)
	var wg sync.WaitGroup
	for c := range n {
		wg.Go(func() {
			cmd := helperCommand(ctx, role, envDir+"="+dir, envChild+"="+strconv.Itoa(c), envIters+"="+strconv.Itoa(iters))
			if out, err := cmd.CombinedOutput(); err != nil {
				failures <- fmt.Errorf("child %d: %v\n%s", c, err, out)
			}
		})
	}
	go func() {
		wg.Wait()
		close(failures)
		close(finished)
	}()
	return finished, failures
}

func envInt(t *testing.T, name string) int {
	n, err := strconv.Atoi(os.Getenv(name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return n
}

// Shared sessions of the multi-process test, and per-child churn keys all in
// one shard, which children keep emptying while the parent sweeps it away.
var (
	sharedKeys = []string{storetest.Key("shared-0"), storetest.Key("shared-1"), storetest.Key("shared-2")}
	churnKeys  = keysInShard("churn", "c7", 4)
)

// keysInShard returns n distinct keys of the given shard.
func keysInShard(prefix, shard string, n int) []string {
	var keys []string
	for i := 0; len(keys) < n; i++ {
		if k := storetest.Key(fmt.Sprint(prefix, "-", i)); k[:2] == shard {
			keys = append(keys, k)
		}
	}
	return keys
}

// counterData encodes a counter so that any mix of two versions is
// detected: a prefix with the count, then filler whose length and bytes
// depend on it.
func counterData(n int) []byte {
	b := fmt.Appendf(nil, "count=%010d;", n)
	return append(b, bytes.Repeat([]byte{byte('a' + n%26)}, 200+n%97)...)
}

func parseCounter(data []byte) (int, error) {
	var n int
	if _, err := fmt.Sscanf(string(data), "count=%010d;", &n); err != nil {
		return 0, fmt.Errorf("torn or foreign counter %.40q: %v", data, err)
	}
	if !bytes.Equal(data, counterData(n)) {
		return 0, fmt.Errorf("torn counter %d: %d bytes, %.40q", n, len(data), data)
	}
	return n, nil
}

// runCounter increments the shared counters through UpdateRecord, checks
// lock-free loads of the others, and churns its own key.
func runCounter(t *testing.T) {
	ctx := t.Context()
	s, err := New(os.Getenv(envDir), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	child, iters := envInt(t, envChild), envInt(t, envIters)
	live := time.Now().Add(time.Hour)
	for i := range iters {
		k := sharedKeys[(child+i)%len(sharedKeys)]
		err := s.UpdateRecord(ctx, k, func(cur session.Record, found bool) (session.Record, error) {
			if !found {
				return session.Record{}, errors.New("shared counter vanished")
			}
			n, err := parseCounter(cur.Data)
			if err != nil {
				return session.Record{}, err
			}
			return session.Record{Data: counterData(n + 1), Expires: cur.Expires}, nil
		})
		if err != nil {
			t.Fatalf("child %d, update %d: %v", child, i, err)
		}
		rec, err := s.Load(ctx, sharedKeys[(child+i+1)%len(sharedKeys)])
		if err != nil {
			t.Fatalf("child %d: load: %v", child, err)
		}
		if _, err := parseCounter(rec.Data); err != nil {
			t.Fatalf("child %d: load: %v", child, err)
		}
		ck := churnKeys[child]
		if err := s.Save(ctx, ck, session.Record{Data: []byte("churn"), Expires: live}); err != nil {
			t.Fatalf("child %d: churn save: %v", child, err)
		}
		if rec, err := s.Load(ctx, ck); err != nil || string(rec.Data) != "churn" {
			t.Fatalf("child %d: churn load = %q, %v", child, rec.Data, err)
		}
		if err := s.Delete(ctx, ck); err != nil {
			t.Fatalf("child %d: churn delete: %v", child, err)
		}
	}
}

// TestMultiProcess runs 4 processes incrementing shared counters in one
// directory through UpdateRecord while this one reads them without a lock and
// sweeps: no read is torn and no increment is lost.
func TestMultiProcess(t *testing.T) {
	const children, iters = 4, 120
	ctx := withTimeout(t, 90*time.Second)
	dir := t.TempDir()
	s, err := New(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	live := time.Now().Add(time.Hour)
	for _, k := range sharedKeys {
		if err := s.Save(ctx, k, session.Record{Data: counterData(0), Expires: live}); err != nil {
			t.Fatal(err)
		}
	}

	done, errs := startChildren(ctx, "counter", dir, children, iters)

	reads, sweeps := 0, 0
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		for _, k := range sharedKeys {
			rec, err := s.Load(ctx, k)
			if err != nil {
				t.Fatalf("parent load: %v", err)
			}
			if _, err := parseCounter(rec.Data); err != nil {
				t.Fatalf("parent load: %v", err)
			}
			reads++
		}
		if _, err := s.DeleteExpired(ctx); err != nil {
			t.Fatalf("parent sweep: %v", err)
		}
		sweeps++
	}
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		return
	}

	want := make([]int, len(sharedKeys))
	for c := range children {
		for i := range iters {
			want[(c+i)%len(sharedKeys)]++
		}
	}
	total := 0
	for i, k := range sharedKeys {
		rec, err := s.Load(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		n, err := parseCounter(rec.Data)
		if err != nil {
			t.Fatal(err)
		}
		if n != want[i] {
			t.Errorf("counter %d = %d, want %d: increments were lost", i, n, want[i])
		}
		total += n
	}
	if total != children*iters {
		t.Errorf("total %d, want %d", total, children*iters)
	}
	t.Logf("%d increments by %d processes; %d lock-free reads and %d sweeps meanwhile", total, children, reads, sweeps)
}

// Keys the crash writer rewrites, and the owners it gives them in turn.
var (
	crashKeys  = []string{storetest.Key("crash-0"), storetest.Key("crash-1"), storetest.Key("crash-2"), storetest.Key("crash-3")}
	crashUsers = []string{"ana", "ben", "chloé"}
)

// crashOwner is the owner of version v of the i-th crash key: it changes
// with every version, so that a kill is likely to land between the steps
// that move a marker.
func crashOwner(i, v int) string { return crashUsers[(i+v)%len(crashUsers)] }

// versionData is version v of key's record: sizes vary up to 48 KiB so that
// a cut-short write is likely to land mid-file.
func versionData(key string, v int) []byte {
	b := fmt.Appendf(nil, "%s v=%d;", key[:8], v)
	return append(b, bytes.Repeat([]byte{byte(v)}, 100+(v*7919)%(48<<10))...)
}

// runCrashWriter rewrites crashKeys with durable settings until it is
// killed, alternating Save and UpdateRecord, and prints "ready" once each key has
// a version.
func runCrashWriter(t *testing.T) {
	ctx := t.Context()
	s, err := New(os.Getenv(envDir), nil)
	if err != nil {
		t.Fatal(err)
	}
	base := envInt(t, envBase)
	expires := time.Now().Add(24 * time.Hour)
	for v := base; ; v++ {
		for i, k := range crashKeys {
			rec := session.Record{Data: versionData(k, v), Expires: expires, UserID: crashOwner(i, v)}
			if (v+i)%2 == 0 {
				err = s.Save(ctx, k, rec)
			} else {
				err = s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) { return rec, nil })
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		if v == base {
			fmt.Println("ready")
		}
	}
}

// TestCrash kills a durable writer with SIGKILL at a random moment, five
// times over the same directory: each time every session file is a whole
// version that was written, every session's owner has its marker in the
// user index, the store opens and loads them all, and the sweeper clears
// the orphaned temporary files and stale markers, after which UserKeys of
// each user gives exactly that user's sessions.
func TestCrash(t *testing.T) {
	ctx := withTimeout(t, 90*time.Second)
	dir := t.TempDir()
	for round := range 5 {
		base := round*1_000_000 + 1
		cmd := helperCommand(ctx, "crash-writer", envDir+"="+dir, envBase+"="+strconv.Itoa(base))
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		ready := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if sc.Text() == "ready" {
					ready <- true
					return
				}
			}
			ready <- false
		}()
		if !<-ready {
			cmd.Wait()
			t.Fatalf("round %d: writer exited before writing: %s", round, stderr.Bytes())
		}
		time.Sleep(time.Duration(rand.IntN(30_000)) * time.Microsecond)
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Fatalf("round %d: writer ended with %v, want killed: %s", round, err, stderr.Bytes())
		}

		versions, temps, stale := checkCrashDir(t, dir, base)
		s, err := New(dir, &Options{Now: func() time.Time { return time.Now().Add(2 * time.Hour) }})
		if err != nil {
			t.Fatal(err)
		}
		owned := map[string][]string{}
		for i, k := range crashKeys {
			rec, err := s.Load(ctx, k)
			if err != nil {
				t.Fatalf("round %d: Load after the crash: %v", round, err)
			}
			v := versions[k]
			if !bytes.Equal(rec.Data, versionData(k, v)) {
				t.Fatalf("round %d: Load gave other data than the file's version %d", round, v)
			}
			if want := crashOwner(i, v); rec.UserID != want {
				t.Fatalf("round %d: Load gave owner %q, want %q", round, rec.UserID, want)
			}
			owned[rec.UserID] = append(owned[rec.UserID], k)
		}
		// Sweep first, so that the sweeper, not UserKeys, meets the stale
		// markers; UserKeys sees through them in TestCrash_MarkerOrdering.
		if n, err := s.DeleteExpired(ctx); err != nil || n != 0 {
			t.Fatalf("round %d: sweep = %d, %v; want 0 live sessions removed", round, n, err)
		}
		for _, u := range crashUsers {
			if got, want := sortedUserKeys(t, s, u), sorted(owned[u]); !slices.Equal(got, want) {
				t.Fatalf("round %d: UserKeys(%s) = %d keys, want %d", round, u, len(got), len(want))
			}
		}
		s.Close()
		if _, after, staleAfter := checkCrashDir(t, dir, base); after != 0 || staleAfter != 0 {
			t.Errorf("round %d: %d temporary files and %d stale markers left after the sweep", round, after, staleAfter)
		}
		vs := make([]int, len(crashKeys))
		for i, k := range crashKeys {
			vs[i] = versions[k] - base + 1
		}
		t.Logf("round %d: killed during round %v of writes, leaving %d temporary files and %d stale markers", round, vs, temps, stale)
	}
}

// checkCrashDir checks that every file under dir is a lock file, an
// orphaned temporary file, a marker of the user index, or a whole session
// file holding a version the writer wrote in this round (at least base),
// and that every session's owner has the session's marker. It returns the
// version of each key, the number of temporary files and the number of
// stale markers.
func checkCrashDir(t *testing.T, dir string, base int) (versions map[string]int, temps, stale int) {
	t.Helper()
	versions = map[string]int{}
	owners := map[string]string{}    // key → hash of its owner
	markers := map[string][]string{} // key → hashes of the users marking it
	for _, rel := range tree(t, dir) {
		parts := strings.Split(filepath.ToSlash(rel), "/")
		switch {
		case rel == lockDirName, rel == usersDirName, len(parts) == 1 && len(rel) == 2:
		case len(parts) == 2 && parts[0] == lockDirName && strings.HasSuffix(parts[1], lockSuffix):
		case len(parts) == 2 && parts[0] == usersDirName && isShardName(parts[1]):
		case len(parts) == 3 && parts[0] == usersDirName && isKey(parts[2]) && parts[2][:2] == parts[1]:
		case len(parts) == 4 && parts[0] == usersDirName && isKey(parts[3]):
			markers[parts[3]] = append(markers[parts[3]], parts[2])
		case len(parts) == 2 && strings.HasPrefix(parts[1], tmpPrefix):
			temps++
		case len(parts) == 2 && isKey(parts[1]) && parts[1][:2] == parts[0]:
			key := parts[1]
			content, err := os.ReadFile(filepath.Join(dir, rel))
			if err != nil {
				t.Fatal(err)
			}
			h, data, err := decodeFile(content)
			if err != nil {
				t.Fatalf("%s is not a whole version: %v", rel, err)
			}
			owners[key] = userHash(h.user)
			var v int
			if _, err := fmt.Sscanf(string(data), key[:8]+" v=%d;", &v); err != nil {
				t.Fatalf("%s holds foreign data %.40q", rel, data)
			}
			if v < base || !bytes.Equal(data, versionData(key, v)) {
				t.Fatalf("%s holds a damaged version %d (%d bytes)", rel, v, len(data))
			}
			versions[key] = v
		default:
			t.Fatalf("unexpected file %s", rel)
		}
	}
	if len(versions) != len(crashKeys) {
		t.Fatalf("%d session files, want %d", len(versions), len(crashKeys))
	}
	for key, owner := range owners {
		if !slices.Contains(markers[key], owner) {
			t.Fatalf("session %s has no marker in its owner's index directory", key[:8])
		}
	}
	for key, hashes := range markers {
		for _, h := range hashes {
			if owners[key] != h {
				stale++
			}
		}
	}
	return versions, temps, stale
}
