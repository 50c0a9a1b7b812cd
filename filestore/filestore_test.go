package filestore

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/location"
	"github.com/sessionkv/session/internal/testkit"
	"github.com/sessionkv/session/storetest"
)

// newTestStore opens a store in a fresh directory; edit may change the
// options first. Logs go to the returned buffer.
func newTestStore(t testing.TB, edit func(*Options)) (*Store, *testkit.LogBuffer) {
	t.Helper()
	logs := &testkit.LogBuffer{}
	opts := &Options{Logger: slog.New(slog.NewTextHandler(logs, nil))}
	if edit != nil {
		edit(opts)
	}
	s, err := New(filepath.Join(t.TempDir(), "sessions"), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, logs
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store {
		s, _ := newTestStore(t, nil)
		return s
	})
}

func TestConformance_NoSync(t *testing.T) {
	storetest.Run(t, func(t *testing.T) session.Store {
		s, _ := newTestStore(t, func(o *Options) { o.NoSync = true })
		return s
	})
}

func TestStore_Layout(t *testing.T) {
	s, _ := newTestStore(t, nil)
	ctx := t.Context()
	k := storetest.Key("layout")
	if err := s.Save(ctx, k, session.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]fs.FileMode{
		s.Dir():                          fs.ModeDir | 0o700,
		filepath.Join(s.Dir(), k[:2]):    fs.ModeDir | 0o700,
		filepath.Join(s.Dir(), k[:2], k): 0o600,
		filepath.Join(s.Dir(), lockDirName, k[:2]+lockSuffix): 0o600,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode(), want)
		}
	}
	if got, want := tree(t, s.Dir()), []string{".locks", ".locks/" + k[:2] + ".lock", k[:2], k[:2] + "/" + k}; !slices.Equal(got, want) {
		t.Errorf("directory holds %v, want %v", got, want)
	}
}

func TestNew_DirectoryDefaults(t *testing.T) {
	t.Run("SESSION_FILE_PATH", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "from-env")
		t.Setenv(envFilePath, dir)
		s, err := New("", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if s.Dir() != dir {
			t.Errorf("Dir = %s, want %s", s.Dir(), dir)
		}
	})
	t.Run("TempDir", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		t.Setenv(envFilePath, "")
		s, err := New("", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if want := location.DefaultDir(); s.Dir() != want {
			t.Errorf("Dir = %s, want %s", s.Dir(), want)
		}
	})
	t.Run("TempDirWritableByOthers", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		t.Setenv(envFilePath, "")
		dir := location.DefaultDir()
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if s, err := New("", nil); err == nil {
			s.Close()
			t.Fatal("New accepted a world-writable shared directory")
		}
	})
	t.Run("TempDirIsSymlink", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		t.Setenv(envFilePath, "")
		elsewhere := t.TempDir()
		if err := os.Symlink(elsewhere, location.DefaultDir()); err != nil {
			t.Fatal(err)
		}
		if s, err := New("", nil); err == nil {
			s.Close()
			t.Fatal("New followed a symbolic link planted in the shared temp dir")
		}
		if got := tree(t, elsewhere); len(got) != 0 {
			t.Errorf("New wrote %v through the link", got)
		}
	})
	t.Run("ExplicitWritableByOthersIsRefused", func(t *testing.T) {
		dir := worldWritableDir(t)
		s, err := New(dir, nil)
		if err == nil {
			s.Close()
			t.Fatal("New accepted a directory every user can write")
		}
		if !errors.Is(err, session.ErrUnsafeLocation) || !strings.Contains(err.Error(), "AllowSharedLocation") {
			t.Errorf("err = %v, want ErrUnsafeLocation naming the way out", err)
		}
	})
	t.Run("ExplicitSharedOnPurposeWarns", func(t *testing.T) {
		dir := worldWritableDir(t)
		logs := &testkit.LogBuffer{}
		s, err := New(dir, &Options{AllowSharedLocation: true, Logger: slog.New(slog.NewTextHandler(logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if !strings.Contains(logs.String(), "writable by other users") {
			t.Errorf("no warning about the open directory: %s", logs)
		}
	})
	t.Run("FreshMktempDirectory", func(t *testing.T) {
		dir, err := os.MkdirTemp("", "sessions-") // what mktemp -d makes
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(dir) })
		t.Setenv(envFilePath, dir)
		s, err := New("", nil)
		if err != nil {
			t.Fatalf("New refused a fresh mktemp -d directory: %v", err)
		}
		s.Close()
	})
	t.Run("DefaultOwnedByAnotherUser", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("giving a directory to another user needs root")
		}
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp)
		t.Setenv(envFilePath, "")
		dir := location.DefaultDir()
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		if s, err := New("", nil); !errors.Is(err, session.ErrUnsafeLocation) {
			if err == nil {
				s.Close()
			}
			t.Fatalf("New = %v, want ErrUnsafeLocation for a default directory another user made", err)
		}
	})
	t.Run("RelativeIsMadeAbsolute", func(t *testing.T) {
		t.Chdir(t.TempDir())
		s, err := New("rel", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if !filepath.IsAbs(s.Dir()) {
			t.Errorf("Dir = %s, want an absolute path", s.Dir())
		}
	})
}

func TestNew_RefusesUnusableDirectory(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := map[string]string{
		"IsARegularFile":     file,
		"ParentIsAFile":      filepath.Join(file, "sessions"),
		"GrandparentIsAFile": filepath.Join(file, "a", "sessions"),
	}
	for name, dir := range cases {
		t.Run(name, func(t *testing.T) {
			s, err := New(dir, nil)
			if err == nil {
				s.Close()
				t.Fatalf("New(%s) succeeded", dir)
			}
			if !strings.HasPrefix(err.Error(), "filestore: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
	t.Run("NotWritable", func(t *testing.T) {
		if os.Geteuid() == 0 {
			t.Skip("root bypasses permission bits; covered by the cases above")
		}
		dir := filepath.Join(base, "readonly")
		if err := os.Mkdir(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		s, err := New(dir, nil)
		if err == nil {
			s.Close()
			t.Fatal("New accepted a read-only directory")
		}
		if !errors.Is(err, fs.ErrPermission) || !strings.Contains(err.Error(), "not writable") {
			t.Errorf("err = %v, want a permission error saying the directory is not writable", err)
		}
	})
}

func TestStore_Closed(t *testing.T) {
	s, _ := newTestStore(t, nil)
	ctx := t.Context()
	k := storetest.Key("closed")
	if err := s.Save(ctx, k, session.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if _, err := s.Load(ctx, k); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Load after Close = %v", err)
	}
	if err := s.Save(ctx, k, session.Record{}); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Save after Close = %v", err)
	}
	if err := s.Delete(ctx, k); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Delete after Close = %v", err)
	}
	if err := s.UpdateRecord(ctx, k, func(r session.Record, _ bool) (session.Record, error) { return r, nil }); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Update after Close = %v", err)
	}
	if _, err := s.DeleteExpired(ctx); !errors.Is(err, session.ErrClosed) {
		t.Errorf("DeleteExpired after Close = %v", err)
	}
	if err := s.Range(ctx, func(string, session.Record) bool { return true }); !errors.Is(err, session.ErrClosed) {
		t.Errorf("Range after Close = %v", err)
	}
	if _, err := s.UserKeys(ctx, "alice"); !errors.Is(err, session.ErrClosed) {
		t.Errorf("UserKeys after Close = %v", err)
	}
	if _, err := s.DeleteUser(ctx, "alice"); !errors.Is(err, session.ErrClosed) {
		t.Errorf("DeleteUser after Close = %v", err)
	}
	// The files stay: another store opens them.
	again, err := New(s.Dir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if rec, err := again.Load(ctx, k); err != nil || string(rec.Data) != "x" {
		t.Errorf("reopened Load = %q, %v", rec.Data, err)
	}
}

func TestStore_ExtremeExpiry(t *testing.T) {
	s, _ := newTestStore(t, nil)
	ctx := t.Context()
	cases := map[string]struct {
		expires time.Time
		live    bool
	}{
		"Zero":      {time.Time{}, false},
		"Year1000":  {time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC), false},
		"Year9999":  {time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC), true},
		"InAMinute": {time.Now().Add(time.Minute), true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			k := storetest.Key(name)
			if err := s.Save(ctx, k, session.Record{Data: []byte(name), Expires: c.expires}); err != nil {
				t.Fatal(err)
			}
			_, err := s.Load(ctx, k)
			if live := err == nil; live != c.live {
				t.Errorf("Load = %v, want live %v", err, c.live)
			}
		})
	}
}

// TestStore_WriteFailureKeepsPreviousVersion injects a full disk into the
// write of a session file: the error comes back, the previous version is
// still there, and no temporary file is left.
func TestStore_WriteFailureKeepsPreviousVersion(t *testing.T) {
	failures := map[string]struct {
		write func(f *os.File, b []byte) (int, error)
		want  error
	}{
		"ENOSPC": {func(*os.File, []byte) (int, error) { return 0, syscall.ENOSPC }, syscall.ENOSPC},
		"PartialThenENOSPC": {func(f *os.File, b []byte) (int, error) {
			n, _ := f.Write(b[:len(b)/2])
			return n, syscall.ENOSPC
		}, syscall.ENOSPC},
		"EACCES": {func(*os.File, []byte) (int, error) { return 0, syscall.EACCES }, fs.ErrPermission},
	}
	for name, fail := range failures {
		t.Run(name, func(t *testing.T) {
			s, _ := newTestStore(t, nil)
			ctx := t.Context()
			k := storetest.Key("enospc")
			old := session.Record{Data: []byte("previous version"), Expires: time.Now().Add(time.Hour)}
			if err := s.Save(ctx, k, old); err != nil {
				t.Fatal(err)
			}
			s.hooks.write = fail.write
			next := session.Record{Data: bytes.Repeat([]byte("n"), 500), Expires: time.Now().Add(2 * time.Hour)}
			err := s.Save(ctx, k, next)
			if err == nil || !strings.HasPrefix(err.Error(), "filestore: ") {
				t.Fatalf("Save = %v, want a filestore error", err)
			}
			if !errors.Is(err, fail.want) {
				t.Errorf("Save = %v, does not wrap %v", err, fail.want)
			}
			err = s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) { return next, nil })
			if err == nil {
				t.Fatal("Update succeeded through a failing write")
			}
			s.hooks.write = nil
			if rec, err := s.Load(ctx, k); err != nil || !bytes.Equal(rec.Data, old.Data) {
				t.Errorf("after the failed write Load = %q, %v; want the previous version", rec.Data, err)
			}
			if files := tree(t, filepath.Join(s.Dir(), k[:2])); len(files) != 1 {
				t.Errorf("shard holds %v, want only the session file", files)
			}
		})
	}
}

func TestStore_PermissionErrorKeepsPreviousVersion(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root bypasses permission bits; TestStore_WriteFailureKeepsPreviousVersion injects EACCES instead")
	}
	s, _ := newTestStore(t, nil)
	ctx := t.Context()
	k := storetest.Key("eacces")
	old := session.Record{Data: []byte("previous version"), Expires: time.Now().Add(time.Hour)}
	if err := s.Save(ctx, k, old); err != nil {
		t.Fatal(err)
	}
	shardDir := filepath.Join(s.Dir(), k[:2])
	if err := os.Chmod(shardDir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(shardDir, 0o700) })
	err := s.Save(ctx, k, session.Record{Data: []byte("next"), Expires: time.Now().Add(time.Hour)})
	if !errors.Is(err, fs.ErrPermission) {
		t.Fatalf("Save into a read-only shard = %v, want a permission error", err)
	}
	if err := s.Delete(ctx, k); !errors.Is(err, fs.ErrPermission) {
		t.Errorf("Delete in a read-only shard = %v, want a permission error", err)
	}
	if rec, err := s.Load(ctx, k); err != nil || !bytes.Equal(rec.Data, old.Data) {
		t.Errorf("Load = %q, %v; want the previous version", rec.Data, err)
	}
}

// tree returns the paths of every file and directory under root, relative
// to it and sorted.
func tree(t testing.TB, root string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if path != root {
			rel, _ := filepath.Rel(root, path)
			paths = append(paths, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	return paths
}

func withTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// TestStore_UpdateToExpiredRemovesFile: an UpdateRecord that returns an expired
// record, such as the zero Record, leaves nothing for Load or the sweeper.
func TestStore_UpdateToExpiredRemovesFile(t *testing.T) {
	s, _ := newTestStore(t, nil)
	ctx := t.Context()
	k := storetest.Key("retire")
	if err := s.Save(ctx, k, session.Record{Data: []byte("x"), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	err := s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) { return session.Record{}, nil })
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Load(ctx, k); !errors.Is(err, session.ErrNotFound) {
		t.Errorf("Load = %v, want ErrNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(s.Dir(), k[:2], k)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the file is still there: %v", err)
	}
	if n, err := s.DeleteExpired(ctx); err != nil || n != 0 {
		t.Errorf("DeleteExpired = %d, %v; want nothing left to sweep", n, err)
	}
}

// worldWritableDir returns a new directory of mode 0777 in a private one.
func worldWritableDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "open")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	return dir
}
