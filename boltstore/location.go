package boltstore

import (
	"fmt"
	"os"
	"path/filepath"

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
		err = location.Judge(location.MakeDefaultDir(filepath.Dir(path)), o.AllowSharedLocation, o.Logger, "boltstore")
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

// checkLocation checks path by the location rule (location.Judge says
// what a shared location gets).
func checkLocation(path string, o Options) error {
	return location.Judge(location.Check(path, location.File), o.AllowSharedLocation, o.Logger, "boltstore")
}

// checkOpenedLocation checks the file just opened from path by the same
// rule (location.CheckOpened).
func checkOpenedLocation(f *os.File, path string, o Options) error {
	return location.Judge(location.CheckOpened(f, path), o.AllowSharedLocation, o.Logger, "boltstore")
}

// locationError names path in err, which Judge already explained.
func locationError(path string, err error) error {
	return fmt.Errorf("boltstore: open %s: %w", path, err)
}
