package sqlstore

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/sessionkv/session"
)

// rangePage is how many rows Range and RangeExpired read per query, at
// most.
const rangePage = 500

// rangePageBytes bounds the memory that a page of Range and RangeExpired
// holds: a page stops at the row that brings its keys, data and user IDs
// to that size, and the next query asks for no more rows than fitted.
const rangePageBytes = 8 << 20

// DeleteExpired implements session.Sweeper: it deletes the expired rows in
// batches of Options.SweepBatch, one statement each (on SQLite, each in a
// transaction shared with concurrent writes), found through the index on
// sweep_ms (see Schema), so that its cost follows the number of expired
// rows, not the size of the table. A record refreshed while the sweep
// runs is not deleted.
func (s *Store) DeleteExpired(ctx context.Context) (int, error) {
	if err := s.closed.Check(ctx); err != nil {
		return 0, err
	}
	now := s.now()
	total := 0
	for {
		var n int64
		err := s.write(ctx, "sweep", "", func(tx *sql.Tx) error {
			args := make([]any, s.q.sweepNows+1)
			at := s.lay.when(s.dialect, now)
			for i := range s.q.sweepNows {
				args[i] = at
			}
			args[s.q.sweepNows] = s.opts.SweepBatch
			res, err := s.exec(ctx, tx, s.q.sweep, args...)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, err
		}
		total += int(n)
		if n < int64(s.opts.SweepBatch) {
			return total, nil
		}
		if err := s.closed.Check(ctx); err != nil {
			return total, err
		}
	}
}

// Range implements session.Ranger. It reads the live rows in pages, in
// key order, each page a query of its own: no transaction stays open while
// fn runs, and fn may call the store. A page holds at most 500 rows, and
// stops at the row that brings it to 8 MiB, so that the memory Range
// holds does not grow with the size of the sessions.
func (s *Store) Range(ctx context.Context, fn func(key string, rec session.Record) bool) error {
	return s.scan(ctx, "range", s.q.rangeLive, fn)
}

// RangeExpired implements session.ExpiredRanger, as Range does for the
// rows that have expired but are still stored.
func (s *Store) RangeExpired(ctx context.Context, fn func(key string, rec session.Record) bool) error {
	return s.scan(ctx, "range expired", s.q.rangeExp, fn)
}

func (s *Store) scan(ctx context.Context, op, query string, fn func(string, session.Record) bool) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	now := s.now()
	after := ""
	type item struct {
		key string
		rec session.Record
	}
	page := make([]item, 0, rangePage)
	limit := rangePage
	for {
		page = page[:0]
		cut := false // the page reached rangePageBytes
		err := func() error {
			st, err := s.stmt(ctx, query)
			if err != nil {
				return err
			}
			rows, err := st.QueryContext(ctx, after, s.lay.when(s.dialect, now), limit)
			if err != nil {
				return err
			}
			defer rows.Close()
			size := 0
			for rows.Next() {
				key, r, err := s.lay.scan(rows.Scan, true)
				if err != nil {
					return err
				}
				if r.data == nil {
					r.data = []byte{}
				}
				it := item{key: key, rec: r.record()}
				page = append(page, it)
				if size += len(key) + len(r.data) + len(r.user); size >= rangePageBytes {
					cut = true
					break
				}
			}
			return rows.Err()
		}()
		if err != nil {
			return s.fail(op, ctx, err)
		}
		for _, it := range page {
			if !fn(it.key, it.rec) {
				return nil
			}
		}
		if !cut && len(page) < limit {
			return nil
		}
		if cut {
			limit = len(page)
		} else {
			limit = min(2*limit, rangePage)
		}
		after = page[len(page)-1].key
		if err := s.closed.Check(ctx); err != nil {
			return err
		}
	}
}

// UserKeys implements session.UserIndexer through the index on user_id.
func (s *Store) UserKeys(ctx context.Context, uid string) ([]string, error) {
	if err := s.closed.Check(ctx); err != nil {
		return nil, err
	}
	if uid == "" {
		return nil, nil
	}
	st, err := s.stmt(ctx, s.q.userKeys)
	if err != nil {
		return nil, s.fail("user keys", ctx, err)
	}
	rows, err := st.QueryContext(ctx, []byte(uid), s.now())
	if err != nil {
		return nil, s.fail("user keys", ctx, err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			return nil, s.fail("user keys", ctx, err)
		}
		keys = append(keys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, s.fail("user keys", ctx, err)
	}
	return keys, nil
}

// DeleteUser implements session.UserIndexer: in one transaction, it
// deletes uid's expired rows, then its live ones, which it counts. In
// that order the count is exact even where each statement sees the rows
// committed before it began (PostgreSQL's READ COMMITTED): a row that a
// Save commits between the two is live, so the second statement deletes
// it and counts it, where the other order would delete it uncounted.
func (s *Store) DeleteUser(ctx context.Context, uid string) (int, error) {
	if err := s.closed.Check(ctx); err != nil {
		return 0, err
	}
	if uid == "" {
		return 0, nil
	}
	var n int64
	del := func(tx *sql.Tx) error {
		now := s.now()
		if _, err := s.exec(ctx, tx, s.q.delUserEx, []byte(uid), now); err != nil {
			return err
		}
		res, err := s.exec(ctx, tx, s.q.delUser, []byte(uid), now)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	}
	var err error
	if s.group != nil {
		err = s.group.Run(ctx, del)
	} else {
		err = s.inTx(ctx, del)
	}
	if err != nil {
		return 0, s.fail("delete user", ctx, err)
	}
	if s.keys != nil {
		// The hints of the deleted keys are stale; the compare-and-set
		// would catch them, but they would cost a round trip each.
		s.keys.ForgetAll()
	}
	return int(n), nil
}

// inTx runs fn in a transaction of its own on a server engine, again
// when the server rolled it back as a deadlock victim, a few times.
func (s *Store) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	_, err := retryDeadlock(ctx, func() (struct{}, error) { return struct{}{}, s.runTx(ctx, fn) })
	return err
}

// Count implements session.Counter: SELECT COUNT(*), expired rows
// included.
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := s.closed.Check(ctx); err != nil {
		return 0, err
	}
	q, err := s.queryRow(ctx, nil, s.q.count)
	if err != nil {
		return 0, s.fail("count", ctx, err)
	}
	var n int
	if err := q.Scan(&n); err != nil {
		return 0, s.fail("count", ctx, err)
	}
	return n, nil
}

// String describes the store for logs: its dialect and table.
func (s *Store) String() string {
	return fmt.Sprintf("sqlstore(%v, table %s)", s.dialect, s.opts.Table)
}
