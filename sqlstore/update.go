package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/go-sql-driver/mysql"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/optimistic"
)

// UpdateRecord implements session.Updater.
//
// On SQLite the read, fn and the write run in one write transaction, which
// holds the database's write lock against every other process and is
// shared with concurrent writes of this Store (group commit); fn may run
// again when another write of its group fails.
//
// On PostgreSQL and MySQL it is an optimistic compare-and-set: read the
// row, call fn, then write only if the row still carries the token that
// was read (every write sets a new random token), else read again and
// retry, with back-off, up to Options.MaxAttempts attempts (then
// ErrConflict). Updates of one key through this Store take turns rather
// than conflict, so fn must not call UpdateRecord itself. After a Load of
// the key through this Store, as the engine does on each request, the
// first attempt takes what Load read as its guess and skips the read: a
// request cycle is then two statements, the SELECT and the conditional
// write. An error from fn is returned only once a read has confirmed the
// guess it was computed from, and nothing is written.
func (s *Store) UpdateRecord(ctx context.Context, key string, fn session.UpdateFunc) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	if err := s.checkKey(key); err != nil {
		return err
	}
	var err error
	if s.group != nil {
		err = s.group.Run(ctx, func(tx *sql.Tx) error { return s.updateIn(ctx, tx, key, fn) })
	} else {
		unlock, lockErr := s.keys.Lock(ctx, key)
		if lockErr != nil {
			return lockErr
		}
		defer unlock()
		err = s.compareAndSet(ctx, key, fn)
	}
	var fe funcError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &fe):
		return fe.err
	}
	return s.fail("update", ctx, err)
}

// funcError wraps fn's error so that UpdateRecord returns it unchanged.
type funcError struct{ err error }

func (e funcError) Error() string { return e.err.Error() }
func (e funcError) Unwrap() error { return e.err }

// updateIn is UpdateRecord on SQLite, inside the group's transaction.
func (s *Store) updateIn(ctx context.Context, tx *sql.Tx, key string, fn session.UpdateFunc) error {
	q, err := s.queryRow(ctx, tx, s.q.read, key)
	if err != nil {
		return err
	}
	r, err := scanRow(s.lay, q)
	if err != nil {
		return err
	}
	next, found, err := s.apply(r, fn)
	if err != nil {
		return funcError{err}
	}
	if !found {
		if r.exists {
			_, err = s.exec(ctx, tx, s.q.delete, key)
		}
		return err
	}
	data, exp, user := recordArgs(next)
	_, err = s.exec(ctx, tx, s.q.upsert, s.lay.record(s.dialect, key, data, exp, user)...)
	return err
}

// apply calls fn on r and returns the record to write, with found false
// when the row is to be deleted (fn returned an expired record).
func (s *Store) apply(r row, fn session.UpdateFunc) (session.Record, bool, error) {
	now := s.opts.Now()
	var cur session.Record
	live := r.live(ms(now))
	if live {
		cur = r.record()
	}
	next, err := fn(cur, live)
	if err != nil {
		return session.Record{}, false, err
	}
	if err := session.CheckUserID(next.UserID); err != nil {
		return session.Record{}, false, err
	}
	return next, !next.Expired(now), nil
}

// compareAndSet is UpdateRecord on PostgreSQL and MySQL, with key's turn
// held.
func (s *Store) compareAndSet(ctx context.Context, key string, fn session.UpdateFunc) error {
	r, guessed := s.keys.Take(key)
	if !guessed {
		var err error
		if r, err = s.read(ctx, key); err != nil {
			return err
		}
	}
	for attempt := 1; ; attempt++ {
		next, keep, fnErr := s.apply(r, fn)
		if fnErr != nil && guessed {
			// Confirm the guess before acting on fn's verdict.
			guessed = false
			fresh, err := s.read(ctx, key)
			if err != nil {
				return err
			}
			if fresh.exists != r.exists || !s.lay.same(fresh, r) {
				r = fresh
				attempt--
				continue
			}
		}
		if fnErr != nil {
			return funcError{fnErr}
		}
		landed, err := s.conditionalWrite(ctx, key, r, next, keep)
		if err != nil || landed {
			return err
		}
		if r, err = s.read(ctx, key); err != nil {
			return err
		}
		if guessed {
			// The row changed since Load read it: not contention.
			guessed = false
			attempt--
			continue
		}
		if attempt >= s.opts.MaxAttempts {
			return fmt.Errorf("%w (%d attempts)", ErrConflict, attempt)
		}
		if err := optimistic.Backoff(ctx, attempt); err != nil {
			return err
		}
	}
}

// read returns key's row whatever its expiry.
func (s *Store) read(ctx context.Context, key string) (row, error) {
	q, err := s.queryRow(ctx, nil, s.q.read, key)
	if err != nil {
		return row{}, err
	}
	return scanRow(s.lay, q)
}

// conditionalWrite writes next (or deletes the row when !keep) if key's
// row is still cur, and reports whether it did.
func (s *Store) conditionalWrite(ctx context.Context, key string, cur row, next session.Record, keep bool) (bool, error) {
	var res sql.Result
	var err error
	data, exp, user := recordArgs(next)
	switch {
	case !keep && !cur.exists:
		return true, nil
	case !keep:
		res, err = s.exec(ctx, nil, s.q.deleteTok, s.lay.deleteOld(key, cur)...)
	case cur.exists:
		res, err = s.exec(ctx, nil, s.q.update, s.lay.update(s.dialect, key, data, exp, user, cur)...)
	default:
		res, err = s.exec(ctx, nil, s.q.insert, s.lay.record(s.dialect, key, data, exp, user)...)
		if isDuplicate(err) {
			return false, nil
		}
	}
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, err
	}
	return n == 1, nil
}

// isDuplicate reports whether err is MySQL's duplicate key error, which an
// insert racing with another gets.
func isDuplicate(err error) bool {
	var me *mysql.MySQLError
	return errors.As(err, &me) && me.Number == 1062
}
