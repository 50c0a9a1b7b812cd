package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/filestore"
	"github.com/sessionkv/session/internal/storeconfig"
	"github.com/sessionkv/session/memstore"
)

func TestSummarize_NearestRankPercentiles(t *testing.T) {
	sizes := make([]int32, 100)
	for i := range sizes {
		sizes[i] = int32(100 - i) // 100..1, unsorted
	}
	got := summarize(sizes)
	want := sizeStats{Total: 5050, Mean: 50, P50: 50, P90: 90, P99: 99, Max: 100}
	if got != want {
		t.Errorf("summarize = %+v, want %+v", got, want)
	}
	if one := summarize([]int32{7}); one.P50 != 7 || one.P99 != 7 || one.Max != 7 {
		t.Errorf("one value: %+v", one)
	}
	if none := summarize(nil); none != (sizeStats{}) {
		t.Errorf("no values: %+v", none)
	}
}

func TestBucketOf_EdgesBelongToTheNextBucket(t *testing.T) {
	for _, tc := range []struct {
		left time.Duration
		want int
	}{
		{-time.Second, 0}, {0, 0}, {time.Hour - 1, 0}, {time.Hour, 1},
		{13 * day, 5}, {14 * day, 6}, {400 * day, 6},
	} {
		if got := bucketOf(tc.left); got != tc.want {
			t.Errorf("bucketOf(%v) = %d, want %d", tc.left, got, tc.want)
		}
	}
	b := newBuckets()
	if len(b) != len(bucketBounds)+1 || b[0].Label != "0 - 1h" || b[len(b)-1].Label != "14d or more" {
		t.Errorf("buckets %+v", b)
	}
}

func TestHumanFormats(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := humanBytes(in); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[time.Duration]string{
		42 * time.Second: "42s", 90 * time.Second: "1m30s", 25 * time.Hour: "1d1h", -2 * time.Hour: "-2h0m",
	} {
		if got := humanDuration(in); got != want {
			t.Errorf("humanDuration(%v) = %q, want %q", in, got, want)
		}
	}
}

func TestKeySet_RoundTripsEveryKey(t *testing.T) {
	var s keySet
	exp := time.Unix(1700000000, 0)
	keys := []string{session.StoreKey("a"), session.StoreKey("b"), "not-a-hex-key", strings.ToUpper(session.StoreKey("c"))}
	for _, k := range keys {
		s.add(k, exp)
	}
	if s.len() != len(keys) || len(s.packed) != 2 {
		t.Fatalf("len %d, packed %d", s.len(), len(s.packed))
	}
	seen := map[string]bool{}
	_ = s.each(func(k string, e int64) error {
		seen[k] = e == exp.Unix()
		return nil
	})
	for _, k := range keys {
		if !seen[k] {
			t.Errorf("key %q lost or its expiry changed", k)
		}
	}
}

// droppingStore accepts every Save and forgets the keys in drop.
type droppingStore struct {
	*memstore.Store
	drop map[string]bool
}

func (d droppingStore) Save(ctx context.Context, key string, rec session.Record) error {
	if d.drop[key] {
		return nil
	}
	return d.Store.Save(ctx, key, rec)
}

// failingStore fails every Save.
type failingStore struct{ *memstore.Store }

func (failingStore) Save(context.Context, string, session.Record) error {
	return errors.New("disk full")
}

func fill(t *testing.T, st session.Store, n int) []string {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = session.StoreKey(fmt.Sprint(i))
		rec := session.Record{Data: []byte{byte(i)}, Expires: time.Now().Add(time.Hour), UserID: fmt.Sprint(i % 3)}
		if err := st.Save(context.Background(), keys[i], rec); err != nil {
			t.Fatal(err)
		}
	}
	return keys
}

func quietApp() *app {
	return newApp(migrateCommand, &bytes.Buffer{}, &bytes.Buffer{}, false)
}

func TestCopyAll_CountCheckFindsDroppedRecords(t *testing.T) {
	ctx := context.Background()
	src := memstore.New()
	keys := fill(t, src, 300)
	dst := droppingStore{memstore.New(), map[string]bool{keys[7]: true, keys[99]: true}}
	a := quietApp()
	var ks keySet
	n, err := a.copyAll(ctx, dst, &ks, 8, a.fromStore(src))
	if err != nil || n != 300 || ks.len() != 300 {
		t.Fatalf("copyAll = %d, %v (%d keys)", n, err, ks.len())
	}
	res := migrateResult{Copied: n}
	if err := a.verify(ctx, dst, &ks, &res); err != nil {
		t.Fatal(err)
	}
	if res.OK || res.Missing != 2 || res.Verified != 298 || len(res.MissingKeys) != 2 {
		t.Errorf("verify = %+v", res)
	}
	got, _ := dst.Load(ctx, keys[5])
	if want, _ := src.Load(ctx, keys[5]); !bytes.Equal(got.Data, want.Data) || got.UserID != want.UserID || !got.Expires.Equal(want.Expires) {
		t.Errorf("copied %+v, want %+v", got, want)
	}
}

func TestCopyAll_StopsAtTheFirstFailedSave(t *testing.T) {
	src := memstore.New()
	fill(t, src, 500)
	var ks keySet
	a := quietApp()
	n, err := a.copyAll(context.Background(), failingStore{memstore.New()}, &ks, 4, a.fromStore(src))
	if err == nil || !strings.Contains(err.Error(), "disk full") || n != 0 {
		t.Errorf("copyAll = %d, %v", n, err)
	}
}

func TestExitCode_MapsErrorsToStatuses(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want int
	}{
		{nil, exitOK},
		{errHelp, exitOK},
		{errors.New("boom"), exitError},
		{usageErrorf("bad"), exitUsage},
		{&statusError{exitCheck, errors.New("missing")}, exitCheck},
		{fmt.Errorf("open: %w", boltstore.ErrLocked), exitLocked},
		{fmt.Errorf("x: %w", storeconfig.ErrUnknownScheme), exitUsage},
		{fmt.Errorf("x: %w", storeconfig.ErrBadURL), exitUsage},
		{fmt.Errorf("x: %w", storeconfig.ErrNotExist), exitError},
	} {
		if got := exitCode(tc.err); got != tc.want {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.want)
		}
	}
}

func TestParse_FlagsMayFollowArguments(t *testing.T) {
	a := quietApp()
	a.cmd = showCommand
	fs := a.flags()
	cookie := fs.String("cookie", "", "")
	pos, err := a.parse(fs, []string{"KEY", "--json", "--cookie", "c", "MORE"})
	if err != nil || len(pos) != 2 || pos[0] != "KEY" || pos[1] != "MORE" || !a.json || *cookie != "c" {
		t.Errorf("parse = %v, %v; json %v cookie %q", pos, err, a.json, *cookie)
	}
}

func TestProgress_ShowsRateAndETAOnlyWhenEnabled(t *testing.T) {
	var stderr bytes.Buffer
	a := newApp(lsCommand, &bytes.Buffer{}, &stderr, true)
	bar := a.counter("copying sessions", "sessions", 100)
	for range 60 {
		bar.add(1)
	}
	time.Sleep(150 * time.Millisecond) // past the redraw throttle
	bar.add(1)
	out := stderr.String()
	if !strings.Contains(out, "copying sessions") || !strings.Contains(out, "sessions/s") ||
		!strings.Contains(out, "(61/100") || !strings.Contains(out, "61%") {
		t.Errorf("progress output %q", out)
	}
	bar.add(60) // past the estimate: the total grows instead of failing
	if st := bar.bar.State(); bar.total != 121 || st.CurrentNum != 121 || st.Max != 121 {
		t.Errorf("after passing the estimate: total %d, state %+v", bar.total, st)
	}
	bar.finish()

	stderr.Reset()
	off := newApp(lsCommand, &bytes.Buffer{}, &stderr, false)
	off.counter("x", "sessions", 10).add(5)
	off.bytes("x", 10).set(5)
	off.counter("x", "sessions", 10).finish()
	if stderr.Len() != 0 {
		t.Errorf("disabled progress wrote %q", stderr.String())
	}
}

func TestJSONSafe_NonFiniteFloatsBecomeStrings(t *testing.T) {
	in := map[string]any{"nan": math.NaN(), "list": []any{math.Inf(1), 1.5}, "m": map[string]any{"x": math.Inf(-1)}}
	got := fmt.Sprint(jsonSafe(in))
	if got != "map[list:[+Inf 1.5] m:map[x:-Inf] nan:NaN]" {
		t.Errorf("jsonSafe = %s", got)
	}
}

func TestStoredCount_CountsFilesIncludingExpired(t *testing.T) {
	dir := t.TempDir()
	st, err := filestore.New(dir, &filestore.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	fill(t, st, 40)
	expired := session.Record{Data: []byte("x"), Expires: time.Now().Add(-time.Hour)}
	if err := st.Save(context.Background(), session.StoreKey("old"), expired); err != nil {
		t.Fatal(err)
	}
	// Debris that is not a session: a stray file and a misplaced key.
	k := session.StoreKey("stray")
	os.WriteFile(filepath.Join(dir, "notes.txt"), nil, 0o600)
	os.MkdirAll(filepath.Join(dir, "zz"), 0o700)
	os.WriteFile(filepath.Join(dir, "zz", k), nil, 0o600)
	n, ok, err := storedCount(context.Background(), st)
	if err != nil || !ok || n != 41 {
		t.Errorf("storedCount = %d, %v, %v; want 41", n, ok, err)
	}
}

func TestCopyDB_CopiesNestedBucketsAndSequences(t *testing.T) {
	dir := t.TempDir()
	src, err := bbolt.Open(filepath.Join(dir, "src.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	err = src.Update(func(tx *bbolt.Tx) error {
		a, _ := tx.CreateBucket([]byte("a"))
		a.SetSequence(42)
		for i := range 500 {
			a.Put([]byte(fmt.Sprintf("k%03d", i)), bytes.Repeat([]byte{byte(i)}, i))
		}
		inner, _ := a.CreateBucket([]byte("inner"))
		inner.SetSequence(7)
		inner.Put([]byte("x"), []byte("y"))
		deep, _ := inner.CreateBucket([]byte("deep"))
		deep.Put([]byte("z"), []byte{})
		_, err := tx.CreateBucket([]byte("empty"))
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	dst, err := bbolt.Open(filepath.Join(dir, "dst.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	steps := 0
	if err := copyDB(context.Background(), dst, src, 4096, func(n int) { steps += n }); err != nil { // many commits
		t.Fatal(err)
	}
	if steps != 502 || countKeys(src) < 502 {
		t.Errorf("copied %d keys, countKeys %d; want 502", steps, countKeys(src))
	}
	if got, want := dump(t, dst), dump(t, src); got != want {
		t.Errorf("copy differs:\n%s\nwant\n%s", got[:min(len(got), 500)], want[:min(len(want), 500)])
	}

	// Ctrl-C stops the copy where it is, not at its end.
	ctx, cancel := context.WithCancel(context.Background())
	stopped, err := bbolt.Open(filepath.Join(dir, "stopped.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stopped.Close()
	copied := 0
	err = copyDB(ctx, stopped, src, 4096, func(n int) {
		if copied += n; copied == 10 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || copied > 11 {
		t.Errorf("copyDB canceled after 10 keys = %v after %d keys; want context.Canceled at once", err, copied)
	}
}

// dump describes every bucket, sequence and key of db.
func dump(t *testing.T, db *bbolt.DB) string {
	var sb strings.Builder
	var walk func(path string, b *bbolt.Bucket)
	walk = func(path string, b *bbolt.Bucket) {
		fmt.Fprintf(&sb, "bucket %s seq %d\n", path, b.Sequence())
		b.ForEach(func(k, v []byte) error {
			if v == nil {
				walk(path+"/"+string(k), b.Bucket(k))
			} else {
				fmt.Fprintf(&sb, "%s/%s=%x\n", path, k, v)
			}
			return nil
		})
	}
	if err := db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			walk(string(name), b)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

func TestRun_ProgressGoesToStderrOnly(t *testing.T) {
	path, f := newBolt(t)
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"stats", "--store", "bolt:" + path, "--json"}, &stdout, &stderr, true)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var st statsResult
	if err := json.Unmarshal(stdout.Bytes(), &st); err != nil || st.Live != f.live() {
		t.Errorf("stdout %q: %v", stdout.String(), err)
	}
	if !strings.Contains(stderr.String(), "reading sessions") {
		t.Errorf("no progress bar on stderr: %q", stderr.String())
	}
}
