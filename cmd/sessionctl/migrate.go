package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/storeconfig"
	"github.com/sessionkv/session/sqlstore"
)

var migrateCommand = &command{
	name:     "migrate",
	synopsis: "--to URL [--from URL] [--parallel N] [--json]",
	summary:  "copy every live session from one store to another",
	details: `
Copies every live session of the source store (--from; default the store
of SESSION_ENGINE and SESSION_FILE_PATH) into the target store (--to),
which is created if needed (an SQL target's table too; see 'sessionctl
schema'): the records as they are (data, expiry, user),
without decoding them, streamed in no particular order. Sessions keep
their store keys, so cookies stay valid. Each copy replaces the target's
record under the same key, so a run can be repeated: a second run copies
the same sessions again and leaves the same result.

After copying, every copied key is looked up in the target. Sessions that
expired since they were copied are reported but are not missing; any other
copied session that the target lacks makes the check fail (exit status 3).

Stop servers that write to the source first, or sessions changed during
the copy may be copied in an older version. A bbolt file can only be
migrated while no server has it open.

Django's stores (django-db:, django-file:) migrate between themselves
only, with SECRET_KEY set (a file target checks each session's
signature): their records are Django's signed session data under
Django's session keys, which no sessionkv store's engine reads, and the
other way round, so a migration between the two kinds is refused. A
session copied into a django-file: store expires SESSION_COOKIE_AGE (or
its own set_expiry age) after the copy, since Django's file backend
dates a session by its file's modification time. Signed cookies have no
store to migrate.`,
	example: `
sessionctl migrate --from file:/var/lib/app/sessions --to bolt:/var/lib/app/sessions.db
sessionctl migrate --from bolt:/var/lib/app/sessions.db --to sqlite:/var/lib/app/db.sqlite3
SECRET_KEY=... sessionctl migrate --from django-file:/var/lib/app/sessions --to django-db:postgres://app@db/app`,
	run: runMigrate,
}

// migrateResult is the output of migrate.
type migrateResult struct {
	From   string `json:"from"`
	To     string `json:"to"`
	Copied int    `json:"copied"`
	// Verified counts the copied sessions found in the target.
	Verified int `json:"verified"`
	// ExpiredSince counts the copied sessions not found in the target
	// because they expired after the copy.
	ExpiredSince int `json:"expired_since"`
	// Missing counts the copied sessions the target lacks otherwise.
	Missing int `json:"missing"`
	// MissingKeys lists up to maxMissingKeys of them.
	MissingKeys []string `json:"missing_keys,omitempty"`
	OK          bool     `json:"ok"`
}

const maxMissingKeys = 20

func runMigrate(ctx context.Context, a *app, args []string) (err error) {
	fs := a.flags()
	fromURL := fs.String("from", "", "the source store `URL` (default: from SESSION_ENGINE and SESSION_FILE_PATH)")
	toURL := fs.String("to", "", "the target store `URL` (required)")
	parallel := fs.Int("parallel", 16, "how many sessions to write at once (`N`)")
	if err := a.parseNoArgs(fs, args); err != nil {
		return err
	}
	from, to, err := migrateSpecs(*fromURL, *toURL, *parallel)
	if err != nil {
		return err
	}
	src, err := a.openSpec(from, true)
	if err != nil {
		return err
	}
	defer closeStore(src, &err)
	// A file store target skips its fsync per file, an SQLite one its
	// fsync per commit; one sync of the file system at the end makes the
	// whole copy durable at once.
	opts := a.openOptions(false)
	opts.NoSync = canSyncAll && (to.Engine == storeconfig.SchemeFile || to.Engine == storeconfig.EngineDjangoFile || isSQLite(to))
	dst, err := storeconfig.OpenSpec(to, opts)
	if err != nil {
		return err
	}
	defer closeStore(dst, &err)

	res := migrateResult{From: src.Spec.String(), To: dst.Spec.String()}
	var keys keySet
	res.Copied, err = a.copyAll(ctx, dst.Store, &keys, *parallel, a.fromStore(src.Store))
	if err == nil && opts.NoSync {
		err = syncAll()
	}
	if err != nil {
		return fmt.Errorf("migrate %s to %s (%d copied): %w", res.From, res.To, res.Copied, err)
	}
	if err := a.verify(ctx, dst.Store, &keys, &res); err != nil {
		return fmt.Errorf("check %s: %w", res.To, err)
	}
	if err := a.printMigrate(res); err != nil {
		return err
	}
	if !res.OK {
		return &statusError{exitCheck, fmt.Errorf("%d of %d copied sessions are missing from %s", res.Missing, res.Copied, res.To)}
	}
	return nil
}

// migrateSpecs checks migrate's arguments.
func migrateSpecs(fromURL, toURL string, parallel int) (from, to storeconfig.Spec, err error) {
	if toURL == "" {
		return from, to, usageErrorf("missing --to URL")
	}
	if parallel < 1 {
		return from, to, usageErrorf("--parallel %d: must be 1 or more", parallel)
	}
	if from, err = specOf(fromURL); err != nil {
		return from, to, err
	}
	if to, err = specOf(toURL); err != nil {
		return from, to, err
	}
	if from.SameStore(to) {
		return from, to, usageErrorf("--from and --to name the same store %s", from)
	}
	return from, to, checkFormats(from, to)
}

// isSQLite reports whether s names an SQLite database.
func isSQLite(s storeconfig.Spec) bool {
	t, err := s.SQLTarget()
	return err == nil && t.Dialect == sqlstore.SQLite
}

// copyJob is one record on its way to the target.
type copyJob struct {
	key string
	rec session.Record
}

// emitFunc hands one record to copyAll. rec.Data need only be valid
// during the call.
type emitFunc func(key string, rec session.Record) error

// fromStore returns a producer for copyAll that emits every live record
// of src.
func (a *app) fromStore(src session.Store) func(context.Context, emitFunc) error {
	return func(ctx context.Context, emit emitFunc) error {
		return a.scan(ctx, src, "copying sessions", func(key string, rec session.Record) (bool, error) {
			return true, emit(key, rec)
		})
	}
}

// copyAll saves every record that produce emits into dst, with up to
// parallel saves in flight so that stores which group commits (bolt) or
// write files (file) are not limited by one fsync at a time. Each key is
// added to keys. It returns how many records were saved.
func (a *app) copyAll(ctx context.Context, dst session.Store, keys *keySet, parallel int,
	produce func(ctx context.Context, emit emitFunc) error) (int, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	jobs := make(chan copyJob, 2*parallel)
	var copied atomic.Int64
	var wg sync.WaitGroup
	for range parallel {
		wg.Go(func() {
			for j := range jobs {
				if err := dst.Save(ctx, j.key, j.rec); err != nil {
					cancel(fmt.Errorf("save %s: %w", printable(j.key), err))
					continue
				}
				copied.Add(1)
			}
		})
	}
	produceErr := produce(ctx, func(key string, rec session.Record) error {
		rec.Data = bytes.Clone(rec.Data)
		keys.add(key, rec.Expires)
		select {
		case jobs <- copyJob{key, rec}:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	})
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return int(copied.Load()), err
	}
	return int(copied.Load()), produceErr
}

// verify looks every copied key up in dst and fills in the check's part
// of res.
func (a *app) verify(ctx context.Context, dst session.Store, keys *keySet, res *migrateResult) error {
	bar := a.counter("checking the copies", "sessions", int64(keys.len()))
	defer bar.finish()
	err := keys.each(func(key string, expires int64) error {
		bar.add(1)
		_, err := dst.Load(ctx, key)
		switch {
		case err == nil:
			res.Verified++
		case !errors.Is(err, session.ErrNotFound):
			return fmt.Errorf("load %s: %w", key, err)
		case time.Now().Unix() >= expires:
			res.ExpiredSince++
		default:
			res.Missing++
			if len(res.MissingKeys) < maxMissingKeys {
				res.MissingKeys = append(res.MissingKeys, key)
			}
		}
		return nil
	})
	res.OK = err == nil && res.Missing == 0 && res.Verified+res.ExpiredSince == res.Copied
	return err
}

func (a *app) printMigrate(r migrateResult) error {
	if a.json {
		return a.printJSON(r)
	}
	fmt.Fprintf(a.stdout, "copied %s from %s to %s\n", plural(r.Copied, "session"), printable(r.From), printable(r.To))
	fmt.Fprintf(a.stdout, "check: %d found in the target, %d expired since the copy, %d missing\n",
		r.Verified, r.ExpiredSince, r.Missing)
	for _, k := range r.MissingKeys {
		fmt.Fprintf(a.stdout, "missing: %s\n", printable(k))
	}
	return nil
}
