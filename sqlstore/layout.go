package sqlstore

import (
	"bytes"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
)

// layout is the shape of a store's table: sessionkv's own (ownLayout), or
// Django's django_session (djangoLayout). It gives the statements, and the
// arguments and scans that go with them.
type layout interface {
	// ddl returns the statements that create the table and its indexes.
	ddl(d Dialect, table string) []string
	// queries returns the statements of the table.
	queries(d Dialect, table string) queries
	// maxKey is the longest key the table holds.
	maxKey() int
	// defaultTable is the table's name when Options.Table is empty.
	defaultTable() string
	// schemaFunc names the function that prints the table's statements.
	schemaFunc() string
	// same reports whether two reads of a row saw the same write: what
	// the compare-and-set of update and deleteOld compares.
	same(a, b row) bool
	// when returns Unix milliseconds as an argument compared with the
	// expiry column.
	when(d Dialect, ms int64) any
	// record returns the arguments of upsert and insert.
	record(d Dialect, key string, data []byte, exp int64, user []byte) []any
	// update returns the arguments of update: the new record, if the row
	// under key is still old.
	update(d Dialect, key string, data []byte, exp int64, user []byte, old row) []any
	// deleteOld returns the arguments of deleteTok: key's row, if still old.
	deleteOld(key string, old row) []any
	// scan reads a row of load and read, whose columns follow the key in a
	// row of rangeLive and rangeExp.
	scan(dest func(...any) error, withKey bool) (key string, r row, err error)
}

// scanRow reads a row of the load and read queries; a missing one is a row
// that does not exist.
func scanRow(l layout, q *sql.Row) (row, error) {
	_, r, err := l.scan(q.Scan, false)
	if errors.Is(err, sql.ErrNoRows) {
		return row{}, nil
	}
	if err != nil {
		return row{}, err
	}
	r.exists = true
	if r.data == nil {
		r.data = []byte{}
	}
	return r, nil
}

// ownLayout is sessionkv's table: the record as it is, its owner, and a
// token that each write changes, for the compare-and-set.
type ownLayout struct{}

func (ownLayout) ddl(d Dialect, t string) []string    { return ddl(d, t) }
func (ownLayout) queries(d Dialect, t string) queries { return makeQueries(d, t) }
func (ownLayout) maxKey() int                         { return MaxKeyLen }
func (ownLayout) defaultTable() string                { return DefaultTable }
func (ownLayout) schemaFunc() string                  { return "Schema" }
func (ownLayout) same(a, b row) bool                  { return a.token == b.token }
func (ownLayout) when(_ Dialect, ms int64) any        { return ms }
func (ownLayout) deleteOld(key string, old row) []any { return []any{key, old.token} }
func (ownLayout) record(_ Dialect, key string, data []byte, exp int64, user []byte) []any {
	return []any{key, data, exp, user, newToken(), sweepMs(exp)}
}

func (ownLayout) update(_ Dialect, key string, data []byte, exp int64, user []byte, old row) []any {
	return []any{data, exp, user, newToken(), sweepMs(exp), key, old.token}
}

// SweepGranularity is the step of the sweep_ms column of Schema's table:
// a row's expiry rounded down to a multiple of it, a minute.
const SweepGranularity = time.Minute

// sweepMs is the sweep_ms of a row that expires at exp (Unix ms): exp
// rounded down to a multiple of SweepGranularity (math.MinInt64 within a
// minute of it), so that sweep_ms <= exp and a row that has expired by now
// has sweep_ms <= now.
func sweepMs(exp int64) int64 {
	const g = int64(SweepGranularity / time.Millisecond)
	r := exp % g
	if r < 0 {
		if exp < math.MinInt64+g {
			return math.MinInt64
		}
		r += g
	}
	return exp - r
}

func (ownLayout) scan(dest func(...any) error, withKey bool) (string, row, error) {
	var key string
	var r row
	var err error
	if withKey {
		err = dest(&key, &r.data, &r.expires, &r.user)
	} else {
		err = dest(&r.data, &r.expires, &r.user, &r.token)
	}
	return key, r, err
}

// DjangoTable is the table Django's db session backend keeps its sessions
// in.
const DjangoTable = "django_session"

// djangoMaxKey is the length of django_session's session_key column.
const djangoMaxKey = 40

// djangoLayout is Django's django_session table: session_key,
// session_data (the signed session, as text) and expire_date (a timestamp,
// in UTC). It has no owner column, and no token: the compare-and-set
// compares session_data, which every write of Django's format changes (it
// holds the signing time and its signature).
type djangoLayout struct{}

func (djangoLayout) maxKey() int          { return djangoMaxKey }
func (djangoLayout) defaultTable() string { return DjangoTable }
func (djangoLayout) schemaFunc() string   { return "DjangoSchema" }
func (djangoLayout) same(a, b row) bool   { return bytes.Equal(a.data, b.data) }

func (djangoLayout) ddl(d Dialect, t string) []string {
	// Django's own migration (sessions 0001_initial), with IF NOT EXISTS.
	index := t + "_expire_date"
	if t == DjangoTable {
		index = "django_session_expire_date_a5c62663" // Django's name for it
	}
	switch d {
	case SQLite:
		return []string{
			`CREATE TABLE IF NOT EXISTS "` + t + `" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" datetime NOT NULL)`,
			`CREATE INDEX IF NOT EXISTS "` + index + `" ON "` + t + `" ("expire_date")`,
		}
	case PostgreSQL:
		like := t + "_session_key_like"
		if t == DjangoTable {
			like = "django_session_session_key_c0390e0f_like"
		}
		return []string{
			`CREATE TABLE IF NOT EXISTS "` + t + `" ("session_key" varchar(40) NOT NULL PRIMARY KEY, "session_data" text NOT NULL, "expire_date" timestamp with time zone NOT NULL)`,
			`CREATE INDEX IF NOT EXISTS "` + index + `" ON "` + t + `" ("expire_date")`,
			`CREATE INDEX IF NOT EXISTS "` + like + `" ON "` + t + `" ("session_key" varchar_pattern_ops)`,
		}
	}
	return []string{
		"CREATE TABLE IF NOT EXISTS `" + t + "` (`session_key` varchar(40) NOT NULL PRIMARY KEY, `session_data` longtext NOT NULL, `expire_date` datetime(6) NOT NULL, KEY `" + index + "` (`expire_date`))",
	}
}

func (djangoLayout) queries(d Dialect, t string) queries {
	cols := `session_key, session_data, expire_date`
	q := queries{
		load:      `SELECT session_data, expire_date FROM ` + t + ` WHERE session_key = ? AND expire_date > ?`,
		read:      `SELECT session_data, expire_date FROM ` + t + ` WHERE session_key = ?`,
		update:    `UPDATE ` + t + ` SET session_data = ?, expire_date = ? WHERE session_key = ? AND session_data = ?`,
		delete:    `DELETE FROM ` + t + ` WHERE session_key = ?`,
		deleteTok: `DELETE FROM ` + t + ` WHERE session_key = ? AND session_data = ?`,
		count:     `SELECT COUNT(*) FROM ` + t,
		rangeLive: `SELECT session_key, session_data, expire_date FROM ` + t + ` WHERE session_key > ? AND expire_date > ? ORDER BY session_key LIMIT ?`,
		rangeExp:  `SELECT session_key, session_data, expire_date FROM ` + t + ` WHERE session_key > ? AND expire_date <= ? ORDER BY session_key LIMIT ?`,
		exists:    columnsProbe(t, cols),
		probe:     `UPDATE ` + t + ` SET expire_date = expire_date WHERE session_key = ?`,
	}
	switch d {
	case MySQL:
		q.upsert = `INSERT INTO ` + t + ` (` + cols + `) VALUES (?, ?, ?) ON DUPLICATE KEY UPDATE session_data = VALUES(session_data), expire_date = VALUES(expire_date)`
		q.insert = `INSERT INTO ` + t + ` (` + cols + `) VALUES (?, ?, ?)`
		q.sweep = `DELETE FROM ` + t + ` WHERE expire_date <= ? AND expire_date <= ? ORDER BY expire_date LIMIT ?`
		q.sweepNows = 2
	default:
		q.upsert = `INSERT INTO ` + t + ` (` + cols + `) VALUES (?, ?, ?) ON CONFLICT (session_key) DO UPDATE SET session_data = excluded.session_data, expire_date = excluded.expire_date`
		q.insert = `INSERT INTO ` + t + ` (` + cols + `) VALUES (?, ?, ?) ON CONFLICT (session_key) DO NOTHING`
		q.sweep = `DELETE FROM ` + t + ` WHERE expire_date <= ? AND session_key IN (SELECT session_key FROM ` + t + ` WHERE expire_date <= ? ORDER BY expire_date LIMIT ?)`
		q.sweepNows = 2
	}
	if d == PostgreSQL {
		q.number()
	}
	return q
}

// djangoTimeText is how Django's SQLite backend writes a datetime: Python's
// str() of a naive UTC datetime, with microseconds only when there are some.
// The text compares in time order.
const djangoTimeText = "2006-01-02 15:04:05.000000"

func (djangoLayout) when(d Dialect, ms int64) any {
	t := time.UnixMilli(ms).UTC()
	if ms <= minDjangoMs {
		t = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	} else if ms >= maxDjangoMs {
		t = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	}
	if d != SQLite {
		return t
	}
	if t.Nanosecond() == 0 {
		return t.Format(time.DateTime)
	}
	return t.Format(djangoTimeText)
}

// The instants a Python datetime holds (years 1 to 9999), in Unix ms.
var (
	minDjangoMs = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	maxDjangoMs = time.Date(9999, 12, 31, 23, 59, 59, 999000000, time.UTC).UnixMilli()
)

func (l djangoLayout) record(d Dialect, key string, data []byte, exp int64, _ []byte) []any {
	return []any{key, string(data), l.when(d, exp)}
}

func (l djangoLayout) update(d Dialect, key string, data []byte, exp int64, _ []byte, old row) []any {
	return []any{string(data), l.when(d, exp), key, string(old.data)}
}

func (djangoLayout) deleteOld(key string, old row) []any { return []any{key, string(old.data)} }

func (djangoLayout) scan(dest func(...any) error, withKey bool) (string, row, error) {
	var key, data string
	var exp any
	var err error
	if withKey {
		err = dest(&key, &data, &exp)
	} else {
		err = dest(&data, &exp)
	}
	if err != nil {
		return key, row{}, err
	}
	t, err := djangoTime(exp)
	if err != nil {
		return key, row{}, err
	}
	return key, row{data: []byte(data), expires: ms(t)}, nil
}

// djangoTime reads an expire_date as a driver returns it: a time (pgx,
// MySQL with parseTime) or the text of one (SQLite, MySQL without it), in
// UTC.
func djangoTime(v any) (time.Time, error) {
	switch v := v.(type) {
	case time.Time:
		return v, nil
	case []byte:
		return parseDjangoTime(string(v))
	case string:
		return parseDjangoTime(v)
	}
	return time.Time{}, fmt.Errorf("expire_date of type %T", v)
}

func parseDjangoTime(s string) (time.Time, error) {
	s = strings.TrimSuffix(strings.TrimSuffix(s, "+00:00"), "Z")
	for _, f := range []string{"2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.ParseInLocation(f, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("expire_date %q is not a UTC time", s)
}
