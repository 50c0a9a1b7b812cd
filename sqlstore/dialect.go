package sqlstore

import (
	"cmp"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Dialect names the database engine behind a *sql.DB.
type Dialect int

// The engines sqlstore speaks to.
const (
	// SQLite, through modernc.org/sqlite (driver name "sqlite").
	SQLite Dialect = iota + 1
	// PostgreSQL, through github.com/jackc/pgx/v5/stdlib (driver name
	// "pgx").
	PostgreSQL
	// MySQL and MariaDB, through github.com/go-sql-driver/mysql (driver
	// name "mysql"). A *sql.DB given to New should use the DSN parameter
	// clientFoundRows=true; Open sets it.
	MySQL
)

// String returns the dialect's name: "sqlite", "postgres" or "mysql".
func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case PostgreSQL:
		return "postgres"
	case MySQL:
		return "mysql"
	}
	return "Dialect(" + strconv.Itoa(int(d)) + ")"
}

func (d Dialect) valid() bool { return d >= SQLite && d <= MySQL }

// tableName is what Options.Table accepts: an unquoted identifier every
// engine takes as it is.
var tableName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,47}$`)

// checkTable returns an error for a table name the store cannot use.
func checkTable(name string) error {
	if !tableName.MatchString(name) {
		return fmt.Errorf("sqlstore: table name %q: want letters, digits and underscores, not starting with a digit, at most 48", name)
	}
	return nil
}

// Schema returns the statements that create the store's table and indexes
// in dialect d, each ending with a semicolon, for teams that run their
// migrations themselves (see Options.NoCreate). The statements are
// idempotent ("IF NOT EXISTS"). table "" means the default, "sessions".
//
// The table has one row per session: session_key (the store key, 1 to
// MaxKeyLen printable ASCII bytes, see ErrInvalidKey), data (the encoded
// session), expires_ms (its expiry, in Unix milliseconds), user_id (its
// owner's user ID, as bytes, empty for none), token (a random number
// each write sets, which the compare-and-set of PostgreSQL and MySQL
// checks) and sweep_ms (expires_ms rounded down to the minute, see
// SweepGranularity). The indexes are on sweep_ms, for the sweeper, and on
// user_id, for the per-user index.
//
// The sweeper's index is on sweep_ms rather than on expires_ms because a
// request that changes a session also extends its expiry: an index on
// the expiry would take an entry out and put one in on every such write,
// and keep PostgreSQL from updating the row in place (a heap-only tuple
// update). sweep_ms changes at most once a minute for a session in use.
func Schema(d Dialect, table string) (string, error) { return schema(ownLayout{}, d, table) }

// Upgrade returns the statements that bring a table of the shape Schema
// gave before sweep_ms existed (an index on expires_ms instead) to
// Schema's shape, in dialect d, each ending with a semicolon: add and fill
// sweep_ms, index it, drop the index on expires_ms. Open and New refuse
// such a table, with an error that gives these statements. The UPDATE
// rewrites every row: on a large table, run them when the sessions are
// quiet. table "" means the default, "sessions".
func Upgrade(d Dialect, table string) (string, error) {
	return statements(d, cmp.Or(table, DefaultTable), upgradeDDL)
}

// upgradeDDL returns the statements of Upgrade, without semicolons.
func upgradeDDL(d Dialect, t string) []string {
	typ, dropExpires := "BIGINT", `DROP INDEX `+t+`_expires`
	switch d {
	case SQLite:
		typ = "INTEGER"
	case MySQL:
		dropExpires += ` ON ` + t
	}
	// Rounding towards zero leaves a negative expiry's sweep_ms above it,
	// but at most 0: such a row is still found by every sweep.
	return []string{
		`ALTER TABLE ` + t + ` ADD COLUMN sweep_ms ` + typ + ` NOT NULL DEFAULT 0`,
		`UPDATE ` + t + ` SET sweep_ms = expires_ms - expires_ms % ` + strconv.FormatInt(SweepGranularity.Milliseconds(), 10),
		`CREATE INDEX ` + t + `_sweep ON ` + t + ` (sweep_ms)`,
		dropExpires,
	}
}

// oldColumns is a query that succeeds on a table of the shape Upgrade
// upgrades.
func oldColumns(t string) string {
	return columnsProbe(t, `session_key, data, expires_ms, user_id, token`)
}

// columnsProbe is a query that reads no row and fails unless table t
// exists and has the columns cols.
func columnsProbe(t, cols string) string { return `SELECT ` + cols + ` FROM ` + t + ` WHERE 1 = 0` }

// schema returns the statements of lay's table in dialect d, as Schema
// does.
func schema(lay layout, d Dialect, table string) (string, error) {
	return statements(d, cmp.Or(table, lay.defaultTable()), lay.ddl)
}

// statements returns the statements stmts gives for table in dialect d,
// each ending with a semicolon, once both are checked.
func statements(d Dialect, table string, stmts func(Dialect, string) []string) (string, error) {
	if err := checkTable(table); err != nil {
		return "", err
	}
	if !d.valid() {
		return "", fmt.Errorf("sqlstore: unknown dialect %v", d)
	}
	return strings.Join(stmts(d, table), ";\n") + ";\n", nil
}

// ddl returns the statements of Schema, without semicolons.
func ddl(d Dialect, t string) []string {
	switch d {
	case SQLite:
		return []string{
			`CREATE TABLE IF NOT EXISTS ` + t + ` (
  session_key TEXT NOT NULL PRIMARY KEY,
  data BLOB NOT NULL,
  expires_ms INTEGER NOT NULL,
  user_id BLOB NOT NULL DEFAULT x'',
  token INTEGER NOT NULL,
  sweep_ms INTEGER NOT NULL
)`,
			`CREATE INDEX IF NOT EXISTS ` + t + `_sweep ON ` + t + ` (sweep_ms)`,
			`CREATE INDEX IF NOT EXISTS ` + t + `_user ON ` + t + ` (user_id) WHERE user_id <> x''`,
		}
	case PostgreSQL:
		return []string{
			`CREATE TABLE IF NOT EXISTS ` + t + ` (
  session_key VARCHAR(255) NOT NULL PRIMARY KEY,
  data BYTEA NOT NULL,
  expires_ms BIGINT NOT NULL,
  user_id BYTEA NOT NULL DEFAULT '',
  token BIGINT NOT NULL,
  sweep_ms BIGINT NOT NULL
)`,
			`CREATE INDEX IF NOT EXISTS ` + t + `_sweep ON ` + t + ` (sweep_ms)`,
			`CREATE INDEX IF NOT EXISTS ` + t + `_user ON ` + t + ` (user_id) WHERE user_id <> ''`,
		}
	default: // MySQL: no partial indexes, nor IF NOT EXISTS on indexes in MySQL 8.
		return []string{
			`CREATE TABLE IF NOT EXISTS ` + t + ` (
  session_key VARCHAR(255) CHARACTER SET ascii COLLATE ascii_bin NOT NULL PRIMARY KEY,
  data LONGBLOB NOT NULL,
  expires_ms BIGINT NOT NULL,
  user_id VARBINARY(1024) NOT NULL DEFAULT '',
  token BIGINT NOT NULL,
  sweep_ms BIGINT NOT NULL,
  KEY ` + t + `_sweep (sweep_ms),
  KEY ` + t + `_user (user_id)
) ENGINE=InnoDB`,
		}
	}
}

// queries are the statements of one table in one dialect, with "?"
// placeholders turned into "$n" for PostgreSQL.
type queries struct {
	load      string // key, now → data, expires, user, token (live only)
	read      string // key → data, expires, user, token (any expiry)
	upsert    string // the arguments of layout.record
	insert    string // the same; no row when one exists
	update    string // the arguments of layout.update
	delete    string // key
	deleteTok string // key, token
	sweep     string // now (sweepNows times), limit
	sweepNows int    // how many times sweep takes the current time
	userKeys  string // user, now
	delUserEx string // user, now: the expired rows; then delUser
	delUser   string // user, now → live rows deleted
	count     string
	rangeLive string // after, now, limit
	rangeExp  string // after, now, limit
	exists    string // checks the table has the store's columns
	probe     string // key: an UPDATE that changes nothing (MySQL's found rows)
}

// number turns the "?" placeholders of every statement into PostgreSQL's.
func (q *queries) number() {
	for _, p := range []*string{&q.load, &q.read, &q.upsert, &q.insert, &q.update, &q.delete, &q.deleteTok,
		&q.sweep, &q.userKeys, &q.delUserEx, &q.delUser, &q.count, &q.rangeLive, &q.rangeExp, &q.exists, &q.probe} {
		*p = numbered(*p)
	}
}

// user is the condition that keeps a user query on the partial index.
func userCond(d Dialect) string {
	switch d {
	case SQLite:
		return `user_id = ? AND user_id <> x''`
	case PostgreSQL:
		return `user_id = ? AND user_id <> ''`
	}
	return `user_id = ?`
}

func makeQueries(d Dialect, t string) queries {
	cols := `session_key, data, expires_ms, user_id, token, sweep_ms`
	q := queries{
		load:      `SELECT data, expires_ms, user_id, token FROM ` + t + ` WHERE session_key = ? AND expires_ms > ?`,
		read:      `SELECT data, expires_ms, user_id, token FROM ` + t + ` WHERE session_key = ?`,
		update:    `UPDATE ` + t + ` SET data = ?, expires_ms = ?, user_id = ?, token = ?, sweep_ms = ? WHERE session_key = ? AND token = ?`,
		delete:    `DELETE FROM ` + t + ` WHERE session_key = ?`,
		deleteTok: `DELETE FROM ` + t + ` WHERE session_key = ? AND token = ?`,
		userKeys:  `SELECT session_key FROM ` + t + ` WHERE ` + userCond(d) + ` AND expires_ms > ?`,
		delUserEx: `DELETE FROM ` + t + ` WHERE ` + userCond(d) + ` AND expires_ms <= ?`,
		delUser:   `DELETE FROM ` + t + ` WHERE ` + userCond(d) + ` AND expires_ms > ?`,
		count:     `SELECT COUNT(*) FROM ` + t,
		rangeLive: `SELECT session_key, data, expires_ms, user_id FROM ` + t + ` WHERE session_key > ? AND expires_ms > ? ORDER BY session_key LIMIT ?`,
		rangeExp:  `SELECT session_key, data, expires_ms, user_id FROM ` + t + ` WHERE session_key > ? AND expires_ms <= ? ORDER BY session_key LIMIT ?`,
		exists:    columnsProbe(t, cols),
		probe:     `UPDATE ` + t + ` SET token = token WHERE session_key = ?`,
	}
	switch d {
	case MySQL:
		q.upsert = `INSERT INTO ` + t + ` (` + cols + `) VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE data = VALUES(data), expires_ms = VALUES(expires_ms), user_id = VALUES(user_id), token = VALUES(token), sweep_ms = VALUES(sweep_ms)`
		q.insert = `INSERT INTO ` + t + ` (` + cols + `) VALUES (?, ?, ?, ?, ?, ?)` // a duplicate key is the conflict
		// The index finds the rows whose expiry's minute has begun; the
		// expiry itself is checked on each row the statement deletes.
		q.sweep = `DELETE FROM ` + t + ` WHERE sweep_ms <= ? AND expires_ms <= ? ORDER BY sweep_ms LIMIT ?`
		q.sweepNows = 2
	default:
		q.upsert = `INSERT INTO ` + t + ` (` + cols + `) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_key) DO UPDATE SET data = excluded.data, expires_ms = excluded.expires_ms, user_id = excluded.user_id, token = excluded.token, sweep_ms = excluded.sweep_ms`
		q.insert = `INSERT INTO ` + t + ` (` + cols + `) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_key) DO NOTHING`
		// The subquery finds, through the index, the rows whose expiry's
		// minute has begun and whose expiry has passed, so that the live
		// rows of the current minute never fill a batch. The outer
		// condition on expires_ms makes PostgreSQL check it again on a row
		// that a write refreshed after the subquery found it.
		q.sweep = `DELETE FROM ` + t + ` WHERE expires_ms <= ? AND session_key IN (SELECT session_key FROM ` + t + ` WHERE sweep_ms <= ? AND expires_ms <= ? ORDER BY sweep_ms LIMIT ?)`
		q.sweepNows = 3
	}
	if d == PostgreSQL {
		q.number()
	}
	return q
}

// numbered turns the "?" placeholders of s into PostgreSQL's "$1", "$2"...
// The statements above hold no "?" anywhere else.
func numbered(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if r == '?' {
			n++
			b.WriteString("$" + strconv.Itoa(n))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
