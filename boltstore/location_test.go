package boltstore_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/boltstore"
	"github.com/sessionkv/session/internal/testkit"
)

// otherUser is the uid planted files are given: another local user.
const otherUser = 65534

// plant builds, at path, the database another local user would leave for
// the next server to open: a session with role=admin under a key the
// planter knows, the file owned by that user and mode 0666.
func plant(t *testing.T, path string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("planting a file as another user needs root")
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	s, err := boltstore.Open(path, &boltstore.Options{AllowSharedLocation: true})
	if err != nil {
		t.Fatal(err)
	}
	data, err := session.MsgpackCodec{}.Encode(nil, map[string]any{"role": "admin"})
	if err != nil {
		t.Fatal(err)
	}
	rec := session.Record{Data: data, Expires: time.Now().Add(time.Hour)}
	if err := s.Save(context.Background(), session.StoreKey("planted-id"), rec); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, filepath.Dir(path)} {
		if err := os.Chown(p, otherUser, otherUser); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(path, 0o666); err != nil {
		t.Fatal(err)
	}
}

// refused asserts that Open(path) fails with ErrUnsafeLocation, naming the
// path and the way out.
func refused(t *testing.T, path string, opts *boltstore.Options) {
	t.Helper()
	s, err := boltstore.Open(path, opts)
	if err == nil {
		s.Close()
		t.Fatalf("Open(%q) opened a location another user controls", path)
	}
	if !errors.Is(err, session.ErrUnsafeLocation) {
		t.Fatalf("Open(%q) = %v, want ErrUnsafeLocation", path, err)
	}
	for _, want := range []string{"boltstore: ", "AllowSharedLocation", "mktemp -d"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestOpen_DefaultLocationIsPrivate(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("SESSION_FILE_PATH", "")
	want := filepath.Join(tmp, fmt.Sprint("sessionkv-", os.Geteuid()), boltstore.DefaultFileName)
	if got := boltstore.DefaultPath(); got != want {
		t.Fatalf("DefaultPath = %s, want %s", got, want)
	}
	s, err := boltstore.Open("", nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	fi, err := os.Stat(filepath.Dir(want))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("default directory mode %v, want 0700", fi.Mode().Perm())
	}
}

func TestOpen_RefusesPlantedDefaultDatabase(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	t.Setenv("SESSION_FILE_PATH", "")
	plant(t, boltstore.DefaultPath())
	refused(t, "", nil)
}

func TestOpen_RefusesPlantedFileInStickyDirectory(t *testing.T) {
	sticky := stickyDir(t)
	path := filepath.Join(sticky, boltstore.DefaultFileName)
	plant(t, path)
	if err := os.Chown(sticky, 0, 0); err != nil { // plant gave it away
		t.Fatal(err)
	}
	t.Setenv("SESSION_FILE_PATH", sticky)
	refused(t, "", nil)
	refused(t, path, nil)
}

func TestOpen_OwnFileInStickyDirectory(t *testing.T) {
	t.Setenv("SESSION_FILE_PATH", stickyDir(t))
	s, err := boltstore.Open("", nil) // how users point it at /tmp
	if err != nil {
		t.Fatalf("Open refused its own file in a sticky directory: %v", err)
	}
	s.Close()
	s, err = boltstore.Open("", nil) // and again, now that the file exists
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
}

func TestOpen_RefusesSharedLocations(t *testing.T) {
	t.Run("FileWritableByOthers", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "s.db")
		s, _ := boltstore.Open(path, nil)
		s.Close()
		if err := os.Chmod(path, 0o666); err != nil {
			t.Fatal(err)
		}
		refused(t, path, nil)
	})
	t.Run("DirectoryWritableByOthers", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "open")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		refused(t, filepath.Join(dir, "s.db"), nil)
		if _, err := os.Stat(filepath.Join(dir, "s.db")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a refused Open created the file: %v", err)
		}
	})
	t.Run("SharedOnPurpose", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "open")
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		logs := &testkit.LogBuffer{}
		s, err := boltstore.Open(filepath.Join(dir, "s.db"), &boltstore.Options{
			AllowSharedLocation: true,
			Logger:              slog.New(slog.NewTextHandler(logs, nil)),
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		if !strings.Contains(logs.String(), "writable by other users") {
			t.Errorf("no warning about the shared directory: %s", logs)
		}
	})
}

// stickyDir returns a new directory of mode 1777, as /tmp is.
func stickyDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tmp")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o777|os.ModeSticky); err != nil {
		t.Fatal(err)
	}
	return dir
}
