package boltstore

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	bolterrors "go.etcd.io/bbolt/errors"
)

// Check verifies the structure of the database file at path without
// changing it, as Open does before it uses a file (see the package
// documentation's # Damaged files): it returns nil for a sound file, an
// error wrapping
// session.ErrCorrupt that says what is wrong and where for a damaged one,
// and ErrLocked if a process that has the file open (a running server)
// keeps it locked for longer than opts.Timeout. It never creates the file.
// An empty file passes: Open makes it a new store.
//
// A file that passes can still hold records whose bytes were damaged in
// place: the store treats those as missing and logs them. When one meta
// page is damaged and bbolt would open the file at the other (losing the
// last commit), Check passes and logs a warning to opts.Logger.
//
// Check reads each page of the file's trees once, with no memory map.
func Check(path string, opts *Options) error {
	o := opts.withDefaults()
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("boltstore: check %s: %w", path, err)
	}
	defer f.Close()
	if err := lockFile(f, false, o.Timeout); err != nil {
		return lockError("check", path, o, err)
	}
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("boltstore: check %s: %w", path, err)
	}
	if fi.Size() == 0 {
		return nil
	}
	c, err := verifyFile(f, fi.Size())
	if err != nil {
		return fmt.Errorf("boltstore: check %s: %w", path, err)
	}
	warnOtherMeta(o.Logger, path, c)
	return nil
}

// lockError is the error for a failed lock of path.
func lockError(op, path string, o Options, err error) error {
	if errors.Is(err, bolterrors.ErrTimeout) {
		return fmt.Errorf("boltstore: %s %s: %w (waited %v)", op, path, ErrLocked, o.Timeout)
	}
	return fmt.Errorf("boltstore: %s %s: %w", op, path, err)
}

// warnOtherMeta logs that one meta page is damaged, if it is.
func warnOtherMeta(log *slog.Logger, path string, c metaChoice) {
	if c.other != nil {
		log.Warn("boltstore: a meta page is damaged; the file is used as of the other one, which may lack the last commit",
			"path", path, "err", c.other, "meta", c.page, "txid", c.txid)
	}
}

// verifiedOpener returns the OpenFile function Open gives bbolt. It opens
// the file, takes bbolt's exclusive lock on it first (waiting o.Timeout,
// then failing with bbolt's ErrTimeout), so no other process writes while
// it reads, and verifies a non-empty file before bbolt maps it: a damaged
// file fails bbolt.Open with a *damageError instead of panicking in it.
// bbolt's own lock on the same file then succeeds at once.
func verifiedOpener(o Options) func(string, int, os.FileMode) (*os.File, error) {
	return func(name string, flag int, perm os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, perm)
		if err != nil {
			return nil, err
		}
		if err := checkOpenedLocation(f, name, o); err != nil {
			f.Close()
			return nil, err
		}
		c, err := lockAndVerify(f, o.Timeout)
		if err != nil {
			f.Close()
			return nil, err
		}
		warnOtherMeta(o.Logger, name, c)
		return f, nil
	}
}

// lockAndVerify takes the exclusive lock on f and verifies it, unless it
// is empty.
func lockAndVerify(f *os.File, timeout time.Duration) (metaChoice, error) {
	if err := lockFile(f, true, timeout); err != nil {
		return metaChoice{}, err
	}
	fi, err := f.Stat()
	if err != nil || fi.Size() == 0 {
		return metaChoice{}, err
	}
	return verifyFile(f, fi.Size())
}

// openError is Open's error for a failure of bbolt.Open other than its
// lock timeout: for a damaged file, it names the commands that show the
// damage and recover what can be.
func openError(path string, err error) error {
	var d *damageError
	if errors.As(err, &d) {
		return fmt.Errorf("boltstore: open %s: %w; `sessionctl check --store bolt:%s` shows the damage, and `sessionctl salvage --from bolt:%s --to bolt:NEW` copies the sessions that can still be read into a new file",
			path, err, path, path)
	}
	return fmt.Errorf("boltstore: open %s: %w", path, err)
}
