// Package location checks that a store's file or directory is private to
// the current user: that no other local user can write it, replace it, or
// have planted it before the store first opened it.
//
// The rule, the same for every embedded store:
//
//   - The store itself (a database file, or a directory of session files)
//     must belong to the current user and be writable by no group and no
//     other user.
//   - Every directory above it must belong to the current user or to root
//     and be writable by no one else, unless it has the sticky bit (as /tmp
//     has): there others cannot remove or rename what they do not own. A
//     store directory itself gets no such exception: in a shared directory
//     others could create session files.
//   - A symbolic link on the way must belong to the current user or to
//     root; the path it leads to is held to the same rule.
//
// Root's permission checks are the kernel's business, not this package's:
// a store running as root is held to the same rule, with root as the
// current user.
//
// The checks are a no-op outside Unix, which has no such permission bits.
//
// # Concurrency
//
// The functions are safe for concurrent use; they only read file metadata.
package location

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/sessionkv/session"
)

// Kind says what a checked path must be.
type Kind int

// The kinds of store location.
const (
	// File is a store kept in one file (bbolt). The file need not exist
	// yet: then only the directories above it are checked.
	File Kind = iota
	// Dir is a store kept as files in one directory (the file store). The
	// directory must exist.
	Dir
)

// maxLinks bounds how many symbolic links Check follows, as the kernel's
// own limit does.
const maxLinks = 40

// Check returns nil when path is private by the package's rule, or an
// error wrapping session.ErrUnsafeLocation that names the offending path
// and why. The path is made absolute and cleaned lexically first
// (filepath.Abs), so "link/.." means the directory holding link: the
// caller must open that same cleaned path. Errors from the file system (a missing directory above the
// store, a permission error) are returned as they are.
func Check(path string, kind Kind) error { return check(path, kind) }

// CheckOpened checks the store file f, just opened from path, by the
// package's rule for the store itself, and that it is still the file at
// path and has no other name (hard link). Checking the path before the open
// is not enough: in a sticky directory another user can create the file
// between the check and the open, and unlink it once the store has written
// into it. Errors wrap session.ErrUnsafeLocation.
func CheckOpened(f *os.File, path string) error { return checkOpened(f, path) }

var errUnsafe = session.ErrUnsafeLocation

// Judge turns the result of a check of store's location into what store
// (its package name, for the log) does with it. An error wrapping
// session.ErrUnsafeLocation gets the ways out appended, unless allow (the
// store's Options.AllowSharedLocation) accepts the location: then Judge
// logs a warning and returns nil. Other errors come back as they are.
func Judge(err error, allow bool, log *slog.Logger, store string) error {
	if !errors.Is(err, errUnsafe) {
		return err
	}
	if allow {
		log.Warn(store+": keeping sessions in a shared location (Options.AllowSharedLocation)", "err", err)
		return nil
	}
	return fmt.Errorf("%w; keep the store where only this user can write (mkdir -m 700, or mktemp -d), "+
		"remove what another user made there, run as the user who owns the store, "+
		"or set Options.AllowSharedLocation to share it on purpose", err)
}

// DefaultDir is the directory in os.TempDir() where the embedded stores keep
// their data when SESSION_FILE_PATH is not set: "sessionkv-" and the
// current user's ID on Unix, so that the servers of two users on one host
// never collide, and "sessionkv" elsewhere, where the temp dir is the
// user's own. MakeDefaultDir makes it private.
func DefaultDir() string {
	return filepath.Join(os.TempDir(), defaultDirName())
}

// MakeDefaultDir creates dir (mode 0700, with missing parents) if it does
// not exist and checks it as a store's default directory: a real directory,
// not a symbolic link (the default sits in the shared temporary directory,
// where anyone may have made the name first), private by Check's rule.
func MakeDefaultDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%w: %s is a symbolic link, which the default directory never is", errUnsafe, dir)
	}
	return Check(dir, Dir)
}
