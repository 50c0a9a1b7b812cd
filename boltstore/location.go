package boltstore

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/location"
)

// DefaultPath returns the file Open uses for an empty path: DefaultFileName
// in $SESSION_FILE_PATH or, when that is not set, in the file store's
// default directory in the temp dir ("sessionkv-" and the user ID on Unix),
// which Open makes private to the current user.
func DefaultPath() string {
	if dir := os.Getenv("SESSION_FILE_PATH"); dir != "" {
		return filepath.Join(dir, DefaultFileName)
	}
	return filepath.Join(location.DefaultDir(), DefaultFileName)
}

// prepareLocation resolves an empty path to DefaultPath, creates the
// directory that will hold the file, and checks that no other user controls
// the file or the directories above it (location.Check).
func prepareLocation(path string, o Options) (string, error) {
	isDefault := path == "" && os.Getenv("SESSION_FILE_PATH") == ""
	if path == "" {
		path = DefaultPath()
	}
	// The path is cleaned once, and the cleaned one is both checked and
	// opened: "link/../x" would otherwise be checked beside the link and
	// opened beside its target.
	path, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("boltstore: open: %w", err)
	}
	if isDefault {
		err = location.MakeDefaultDir(filepath.Dir(path))
	} else {
		err = os.MkdirAll(filepath.Dir(path), 0o700)
	}
	if err == nil {
		err = checkLocation(path, o)
	}
	if err != nil {
		return "", locationError(path, err)
	}
	return path, nil
}

// checkLocation checks path by the location rule, or only logs what is
// wrong when Options.AllowSharedLocation accepts a shared location.
func checkLocation(path string, o Options) error {
	err := location.Check(path, location.File)
	if errors.Is(err, session.ErrUnsafeLocation) && o.AllowSharedLocation {
		o.Logger.Warn("boltstore: keeping sessions in a shared location (Options.AllowSharedLocation)", "err", err)
		return nil
	}
	return err
}

// checkOpenedLocation checks the file just opened from path by the same
// rule (location.CheckOpened), or only logs what is wrong when
// Options.AllowSharedLocation accepts a shared location.
func checkOpenedLocation(f *os.File, path string, o Options) error {
	err := location.CheckOpened(f, path)
	if errors.Is(err, session.ErrUnsafeLocation) && o.AllowSharedLocation {
		o.Logger.Warn("boltstore: keeping sessions in a shared location (Options.AllowSharedLocation)", "err", err)
		return nil
	}
	return err
}

// locationError says what is wrong with path and, for an unsafe location,
// how to fix it.
func locationError(path string, err error) error {
	if errors.Is(err, session.ErrUnsafeLocation) {
		return fmt.Errorf("boltstore: open %s: %w; keep the database in a directory only this user can write "+
			"(mkdir -m 700, or mktemp -d), remove a file another user made, run as the user who owns the store, "+
			"or set Options.AllowSharedLocation to share it on purpose", path, err)
	}
	return fmt.Errorf("boltstore: open %s: %w", path, err)
}
