package filestore_test

// Tests of the file store's private location and its
// context-aware locks. Each reproduces an attack or an
// unlucky operator's mistake and checks that it fails.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/filestore"
	"github.com/sessionkv/session/internal/location"
	"github.com/sessionkv/session/storetest"
)

const attackNobody = 65534

func quietOpts() *filestore.Options {
	return &filestore.Options{NoSync: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
}

// TestNew_SharedDirectoriesAreRefused: SESSION_FILE_PATH pointing at a
// sticky world-writable directory (as /tmp itself), at /tmp, or at a
// default directory that another user planted as a symbolic link, is
// refused, and nothing is created in it.
func TestNew_SharedDirectoriesAreRefused(t *testing.T) {
	base := t.TempDir()
	sticky := filepath.Join(base, "tmp")
	if err := os.Mkdir(sticky, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{sticky, "/tmp"} {
		t.Setenv("SESSION_FILE_PATH", dir)
		_, locksBefore := os.Lstat(filepath.Join(dir, ".locks"))
		s, err := filestore.New("", quietOpts())
		if err == nil {
			s.Close()
			t.Errorf("New with SESSION_FILE_PATH=%s opened it", dir)
		} else if !errors.Is(err, session.ErrUnsafeLocation) {
			t.Errorf("New with SESSION_FILE_PATH=%s = %v, want ErrUnsafeLocation", dir, err)
		}
		if _, err := os.Lstat(filepath.Join(dir, ".locks")); err == nil && locksBefore != nil {
			t.Errorf("a refused New created %s/.locks", dir)
		}
	}
	if os.Geteuid() != 0 {
		return
	}
	// The default directory, planted as another user's link to a
	// directory that looks private.
	t.Setenv("SESSION_FILE_PATH", "")
	t.Setenv("TMPDIR", sticky)
	target := filepath.Join(base, "looks-private")
	if err := os.Mkdir(target, 0o700); err != nil {
		t.Fatal(err)
	}
	link := location.DefaultDir()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Lchown(link, attackNobody, attackNobody); err != nil {
		t.Fatal(err)
	}
	if s, err := filestore.New("", quietOpts()); err == nil {
		s.Close()
		t.Error("New followed another user's link planted as the default directory")
	}
}

// TestNew_DotDotAfterSymlinkIsUsedAsChecked: the file store cleans its
// path once (filepath.Abs) and uses that string for the check and for
// every file, so "link/.." is at least consistently the directory the
// check saw, never the parent of the link's target.
func TestNew_DotDotAfterSymlinkIsUsedAsChecked(t *testing.T) {
	base := t.TempDir()
	shared := filepath.Join(base, "shared")
	if err := os.Mkdir(shared, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(shared, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(shared, "release"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(shared, "release"), filepath.Join(base, "current")); err != nil {
		t.Fatal(err)
	}
	s, err := filestore.New(filepath.Join(base, "current")+"/../sessions", quietOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Dir() != filepath.Join(base, "sessions") {
		t.Errorf("Dir() = %s", s.Dir())
	}
	if err := s.Save(context.Background(), storetest.Key("k"), session.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(shared, "sessions")); err == nil {
		t.Error("sessions were written under the shared directory")
	}
}

// pausingCtx's first Done call waits for release: the scheduler pausing a
// writer between the store's closed check and its wait for the lock.
type pausingCtx struct {
	context.Context
	once    sync.Once
	entered chan struct{}
	release chan struct{}
}

func (c *pausingCtx) Done() <-chan struct{} {
	c.once.Do(func() {
		close(c.entered)
		<-c.release
	})
	return c.Context.Done()
}

// TestStore_WriteAcrossCloseIsRefused: a Save or UpdateRecord paused between
// its closed check and its lock wait while Close runs fails with ErrClosed
// once it gets the lock (lock checks again), unlike memstore.
func TestStore_WriteAcrossCloseIsRefused(t *testing.T) {
	dir := t.TempDir()
	rec := session.Record{Data: []byte("late"), Expires: time.Now().Add(time.Hour)}
	for name, op := range map[string]func(s *filestore.Store, ctx context.Context) error{
		"Save": func(s *filestore.Store, ctx context.Context) error { return s.Save(ctx, storetest.Key("Save"), rec) },
		"Update": func(s *filestore.Store, ctx context.Context) error {
			return s.UpdateRecord(ctx, storetest.Key("Update"), func(session.Record, bool) (session.Record, error) { return rec, nil })
		},
	} {
		s, err := filestore.New(dir, quietOpts())
		if err != nil {
			t.Fatal(err)
		}
		ctx := &pausingCtx{Context: context.Background(), entered: make(chan struct{}), release: make(chan struct{})}
		done := make(chan error, 1)
		go func() { done <- op(s, ctx) }()
		<-ctx.entered
		s.Close()
		close(ctx.release)
		if err := <-done; !errors.Is(err, session.ErrClosed) {
			t.Errorf("%s across Close = %v, want ErrClosed", name, err)
		}
	}
	s, _ := filestore.New(dir, quietOpts())
	defer s.Close()
	if _, err := s.Load(context.Background(), storetest.Key("Save")); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("the write across Close landed: %v", err)
	}
}

// TestStore_NoLockLeaksUnderRandomDeadlines: two Stores on one directory
// (standing for two processes, so the flocks contend too), writers and
// sweeps with deadlines that end at random moments; afterwards every shard
// used can be written by either Store with a short deadline, and the user
// index matches the records.
func TestStore_NoLockLeaksUnderRandomDeadlines(t *testing.T) {
	dir := t.TempDir()
	a, err := filestore.New(dir, quietOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := filestore.New(dir, quietOpts())
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	stores := []*filestore.Store{a, b}
	fdsBefore := openFDs(t)
	keys := make([]string, 8)
	for i := range keys {
		keys[i] = storetest.Key(fmt.Sprint(i))
	}
	var wg sync.WaitGroup
	for g := range 12 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(g), 11))
			for range 60 {
				s := stores[rng.IntN(2)]
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rng.IntN(2000))*time.Microsecond)
				k := keys[rng.IntN(len(keys))]
				rec := session.Record{Data: []byte(k), Expires: time.Now().Add(time.Duration(rng.IntN(3)-1) * time.Hour), UserID: fmt.Sprint("u", rng.IntN(2))}
				switch rng.IntN(6) {
				case 0, 1:
					_ = s.Save(ctx, k, rec)
				case 2:
					_ = s.Delete(ctx, k)
				case 3:
					_ = s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) { return rec, nil })
				case 4:
					_, _ = s.DeleteUser(ctx, rec.UserID)
				case 5:
					_, _ = s.DeleteExpired(ctx)
				}
				cancel()
			}
		})
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	for i, k := range keys {
		s := stores[i%2]
		if err := s.Save(ctx, k, session.Record{Data: []byte("final"), Expires: time.Now().Add(time.Hour), UserID: "final"}); err != nil {
			t.Fatalf("Save after the storm: %v (a leaked stripe or flock?)", err)
		}
		if err := stores[1-i%2].UpdateRecord(ctx, k, func(cur session.Record, found bool) (session.Record, error) { return cur, nil }); err != nil {
			t.Fatalf("Update from the other Store after the storm: %v", err)
		}
	}
	for _, u := range []string{"u0", "u1"} {
		if ks, err := a.UserKeys(ctx, u); err != nil || len(ks) != 0 {
			t.Errorf("UserKeys(%s) = %v, %v: keys that now belong to another user", u, ks, err)
		}
	}
	if ks, err := b.UserKeys(ctx, "final"); err != nil || len(ks) != len(keys) {
		t.Errorf("UserKeys(final) = %d keys, %v; want %d", len(ks), err, len(keys))
	}
	if after := openFDs(t); after > fdsBefore+2 {
		t.Errorf("%d descriptors open after the storm, %d before: lock files leaked", after, fdsBefore)
	}
}

func openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc")
	}
	return len(entries)
}

// TestNew_DefaultDirectoryIsPerUser: the default location
// is $TMPDIR/sessionkv whoever runs the server, and /tmp is shared. A
// directory of that name made by another local user, whether a second
// application's user or a hostile one, makes every later server of every
// other user fail to start with ErrUnsafeLocation (the bolt store's
// default file lives there too): a denial of service any local user can
// cause with one mkdir. A per-user name (sessionkv-<uid>) would not
// collide.
func TestNew_DefaultDirectoryIsPerUser(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("playing another user needs root")
	}
	sticky := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(sticky, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sticky, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TMPDIR", sticky)
	t.Setenv("SESSION_FILE_PATH", "")
	squat := filepath.Join(sticky, "sessionkv") // the name every user shared before
	if err := os.Mkdir(squat, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(squat, attackNobody, attackNobody); err != nil { // another user got there first
		t.Fatal(err)
	}
	s, err := filestore.New("", quietOpts())
	if err != nil {
		t.Fatalf("New with the default location, after another user made %s: %v", squat, err)
	}
	s.Close()
}
