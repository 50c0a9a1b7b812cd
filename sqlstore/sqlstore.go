package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/closer"
	"github.com/sessionkv/session/internal/groupcommit"
	"github.com/sessionkv/session/internal/optimistic"
	"github.com/sessionkv/session/internal/redact"
)

// DefaultTable is the table the store uses when Options.Table is empty.
const DefaultTable = "sessions"

// DefaultMaxAttempts is the default of Options.MaxAttempts.
const DefaultMaxAttempts = 100

// ErrNoTable is returned by Open and New with Options.NoCreate when the
// store's table does not exist.
var ErrNoTable = errors.New("sqlstore: the sessions table does not exist")

// ErrConflict is returned by UpdateRecord on PostgreSQL and MySQL when other
// processes kept changing the record for Options.MaxAttempts attempts.
var ErrConflict = errors.New("sqlstore: too many concurrent writes to one session")

// ErrInvalidKey is returned by Load, Save, Delete and UpdateRecord for a
// key the table cannot hold as it is: empty, longer than MaxKeyLen, or
// with a byte that is not printable ASCII (a space, a control character,
// anything above 0x7e). Nothing is read or written for such a key. The
// engine's store keys (session.StoreKey) are always valid; the check keeps
// the engines from disagreeing on the others (MySQL's PAD SPACE collation
// takes "k" and "k " for one key, PostgreSQL refuses a NUL, MySQL without
// strict mode truncates a long key or turns a non-ASCII byte into "?"), so
// that two keys never share a row.
var ErrInvalidKey = errors.New("sqlstore: invalid store key")

// MaxKeyLen is the longest key the store accepts, in bytes: the length of
// the table's session_key column.
const MaxKeyLen = 255

// checkKey returns an error wrapping ErrInvalidKey unless key fits the
// session_key column on every engine. It never echoes the key, which may
// be huge or hold control characters.
func (s *Store) checkKey(key string) error {
	if max := s.lay.maxKey(); len(key) == 0 || len(key) > max {
		return fmt.Errorf("%w: %d bytes, want 1 to %d", ErrInvalidKey, len(key), max)
	}
	for i := 0; i < len(key); i++ {
		if c := key[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: byte %#02x at %d is not printable ASCII", ErrInvalidKey, c, i)
		}
	}
	return nil
}

// Options configures a Store. A nil *Options means the defaults below.
type Options struct {
	// Table names the table of the sessions; its indexes are named after
	// it (Table+"_sweep", Table+"_user"). Letters, digits and
	// underscores. Default "sessions". A "table" parameter in Open's URL
	// overrides it.
	Table string
	// NoCreate skips the creation of the table and its indexes, for teams
	// that run migrations themselves (see Schema for the statements).
	// The store then checks that the table exists and has its columns.
	// Default false: Open and New create what is missing. Either way, on
	// MySQL, Open and New check that session_key is the table's key.
	NoCreate bool

	// NoSync, for SQLite, commits without waiting for the disk
	// (synchronous=NORMAL in WAL mode): a power failure or an operating
	// system crash can lose the last commits, never the file's integrity;
	// a crash of the process alone loses nothing. Default false:
	// synchronous=FULL, every commit on disk before it returns. The server
	// engines ignore it: their durability is the server's setting.
	NoSync bool
	// BusyTimeout, for SQLite, is how long a write waits for another
	// process that holds the database's write lock before it fails.
	// Default 5 seconds.
	BusyTimeout time.Duration
	// AllowSharedLocation, for SQLite, accepts a database file in a
	// directory that another local user owns or can write to (even a
	// sticky one such as /tmp: SQLite keeps companion files beside the
	// database, which such a user could plant), or a file another user
	// owns. Open otherwise refuses it with an error wrapping
	// session.ErrUnsafeLocation. Set it only for a location shared on
	// purpose; Open then logs a warning instead. Default false.
	AllowSharedLocation bool

	// SweepBatch is the most records DeleteExpired deletes in one
	// statement. Default 1000.
	SweepBatch int
	// MaxAttempts bounds the compare-and-set attempts of one UpdateRecord
	// on PostgreSQL and MySQL before it fails with ErrConflict. Default
	// 100.
	MaxAttempts int
	// Logger receives warnings. Default slog.Default().
	Logger *slog.Logger
	// Now returns the current time. Default time.Now; tests set a fake
	// clock.
	Now func() time.Time
}

func (o *Options) withDefaults(lay layout) (Options, error) {
	var r Options
	if o != nil {
		r = *o
	}
	if r.Table == "" {
		r.Table = lay.defaultTable()
	}
	if err := checkTable(r.Table); err != nil {
		return r, err
	}
	if r.BusyTimeout <= 0 {
		r.BusyTimeout = 5 * time.Second
	}
	if r.SweepBatch <= 0 {
		r.SweepBatch = 1000
	}
	if r.MaxAttempts < 0 {
		return r, fmt.Errorf("sqlstore: negative MaxAttempts %d", r.MaxAttempts)
	}
	if r.MaxAttempts == 0 {
		r.MaxAttempts = DefaultMaxAttempts
	}
	if r.Logger == nil {
		r.Logger = slog.Default()
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	return r, nil
}

// Store is a session.Store in an SQL table. Create it with Open or New. It
// is safe for concurrent use.
type Store struct {
	db      *sql.DB
	ownsDB  bool
	dialect Dialect
	lay     layout
	q       queries
	opts    Options
	closed  closer.Flag

	// SQLite: writes share transactions.
	group *groupcommit.Committer[*sql.Tx]
	// PostgreSQL, MySQL: per-key turns and Load's hints for UpdateRecord.
	keys *optimistic.Keys[row]

	mu    sync.Mutex
	stmts map[string]*sql.Stmt // prepared statements by SQL text

	closeOnce sync.Once
	closeErr  error
}

var (
	_ session.Store         = (*Store)(nil)
	_ session.Sweeper       = (*Store)(nil)
	_ session.Updater       = (*Store)(nil)
	_ session.Ranger        = (*Store)(nil)
	_ session.ExpiredRanger = (*Store)(nil)
	_ session.UserIndexer   = (*Store)(nil)
	_ session.Counter       = (*Store)(nil)
)

// Open connects to the database the URL names (see ParseURL), creates the
// store's table and indexes unless Options.NoCreate, and returns a Store
// that owns the connection pool: Close closes it. Open fails when the
// database cannot be reached within 30 seconds (a "connect_timeout" or
// "timeout" parameter of the URL shortens the driver's wait), and its
// errors never show the URL's passwords.
//
// For SQLite, Open creates the file (mode 0600, and its directory 0700) if
// needed, puts it in WAL mode and sets synchronous=FULL (NORMAL with
// Options.NoSync) and a busy timeout (Options.BusyTimeout), unless the URL
// sets those parameters itself. It refuses, with an error wrapping
// session.ErrUnsafeLocation, a file in a directory another local user
// owns or can write, or a file another user owns or can write (see
// Options.AllowSharedLocation). A path that is a symbolic link is held to
// that rule where it leads, since SQLite keeps its companion files beside
// the file it opens; a link to a file that does not exist is refused.
func Open(rawURL string, opts *Options) (*Store, error) {
	return open(rawURL, opts, ownLayout{})
}

// open is Open of a table of layout lay.
func open(rawURL string, opts *Options, lay layout) (*Store, error) {
	t, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	o, err := opts.withDefaults(lay)
	if err != nil {
		return nil, err
	}
	if t.Table != "" {
		if err := checkTable(t.Table); err != nil {
			return nil, err
		}
		o.Table = t.Table
	}
	var db *sql.DB
	switch t.Dialect {
	case SQLite:
		db, err = openSQLite(t, o)
	case MySQL:
		var c driver.Connector
		if c, err = mysql.NewConnector(t.mysql); err == nil {
			db = sql.OpenDB(c)
		}
	default:
		db, err = sql.Open(t.driver, t.dsn)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlstore: open %s: %w", t, redact.Error(err, rawURL))
	}
	if t.Dialect != SQLite {
		// As many idle connections as busy servers use: closing and
		// reopening them costs a connect per request under load.
		db.SetMaxIdleConns(64)
		db.SetConnMaxIdleTime(5 * time.Minute)
	}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: open %s: connect: %w", t, redact.Error(err, rawURL))
	}
	s, err := newStore(db, t.Dialect, o, lay)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlstore: open %s: %w", t, redact.Error(err, rawURL))
	}
	s.ownsDB = true
	return s, nil
}

// New returns a Store in a database the application already has open (its
// pool, its TLS settings), creating the table and indexes unless
// Options.NoCreate. d says which engine db speaks to. Close does not
// close db. For MySQL, db should report found rows (the DSN parameter
// clientFoundRows=true): New checks and fails otherwise. For SQLite, db
// should have a busy timeout and begin transactions with BEGIN IMMEDIATE
// (the modernc.org/sqlite DSN parameter _txlock=immediate), as Open's does.
func New(db *sql.DB, d Dialect, opts *Options) (*Store, error) {
	return newWith(db, d, opts, ownLayout{})
}

// newWith is New of a table of layout lay.
func newWith(db *sql.DB, d Dialect, opts *Options, lay layout) (*Store, error) {
	if db == nil {
		return nil, errors.New("sqlstore: New: nil database")
	}
	if !d.valid() {
		return nil, fmt.Errorf("sqlstore: New: unknown dialect %v", d)
	}
	o, err := opts.withDefaults(lay)
	if err != nil {
		return nil, err
	}
	return newStore(db, d, o, lay)
}

// openTimeout bounds what Open and New do before they return: connecting,
// and creating or checking the table.
const openTimeout = 30 * time.Second

func newStore(db *sql.DB, d Dialect, o Options, lay layout) (*Store, error) {
	s := &Store{db: db, dialect: d, lay: lay, q: lay.queries(d, o.Table), opts: o, stmts: map[string]*sql.Stmt{}}
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	if err := s.prepareTable(ctx); err != nil {
		return nil, err
	}
	if d == SQLite {
		s.group = groupcommit.New(groupcommit.Config[*sql.Tx]{
			Update: s.transact,
			PanicError: func(r any) error {
				return fmt.Errorf("sqlstore: panic during a group commit: %v", r)
			},
		})
	} else {
		s.keys = optimistic.New[row]()
	}
	return s, nil
}

// prepareTable creates the table and indexes, unless NoCreate is set,
// and checks that the table is there with the store's columns; on MySQL it
// then checks the table and the connection (checkMySQL), whoever created
// the table.
func (s *Store) prepareTable(ctx context.Context) error {
	err := s.checkColumns(ctx)
	if !s.opts.NoCreate && (err == nil || errors.Is(err, ErrNoTable)) {
		// Checked first: on a table of another shape, CREATE INDEX would
		// fail on a missing column less clearly than checkColumns does.
		for _, stmt := range s.lay.ddl(s.dialect, s.opts.Table) {
			if _, err := s.db.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("create table %s: %w", s.opts.Table, err)
			}
		}
		if err != nil {
			err = s.checkColumns(ctx) // the table just created
		}
	}
	if err != nil {
		return err
	}
	if s.dialect == MySQL {
		return s.checkMySQL(ctx)
	}
	return nil
}

// checkColumns checks that the table exists (else ErrNoTable) and has the
// columns the store reads and writes. A table of the shape before
// sweep_ms gets an error that gives the statements of Upgrade.
func (s *Store) checkColumns(ctx context.Context) error {
	rows, err := s.db.QueryContext(ctx, s.q.exists)
	switch {
	case isNoTable(err):
		how := "create it with the statements of " + s.lay.schemaFunc()
		if !s.opts.NoCreate {
			how = "it could not be created"
		}
		return fmt.Errorf("%w: table %s (%s): %v", ErrNoTable, s.opts.Table, how, err)
	case isNoColumn(err):
		if _, own := s.lay.(ownLayout); own && s.hasOldColumns(ctx) {
			return fmt.Errorf("table %s has the shape of an earlier version, without sweep_ms; upgrade it with the statements of Upgrade: %s",
				s.opts.Table, strings.Join(upgradeDDL(s.dialect, s.opts.Table), "; "))
		}
		return fmt.Errorf("table %s lacks a column of the store's (see %s; ALTER it to match, or name another table): %w", s.opts.Table, s.lay.schemaFunc(), err)
	case err != nil:
		return fmt.Errorf("table %s: %w", s.opts.Table, err)
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("table %s: %w", s.opts.Table, err)
	}
	return nil
}

// hasOldColumns reports whether the table has the columns it had before
// sweep_ms existed.
func (s *Store) hasOldColumns(ctx context.Context) bool {
	rows, err := s.db.QueryContext(ctx, oldColumns(s.opts.Table))
	if err != nil {
		return false
	}
	return rows.Close() == nil
}

// checkMySQL makes sure, with a probe row, that session_key is unique
// (MySQL's upsert, ON DUPLICATE KEY UPDATE, would otherwise add a second
// row under the key, and a Load return either one), and that an UPDATE
// which changes nothing still reports the row it matched
// (clientFoundRows), on which the compare-and-set relies. PostgreSQL and
// SQLite need no such check: their upsert fails on a table without the key.
func (s *Store) checkMySQL(ctx context.Context) error {
	key := fmt.Sprintf("sqlstore-probe-%016x", rand.Uint64())
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	probe := s.lay.record(s.dialect, key, []byte{}, 0, []byte{})
	if _, err := conn.ExecContext(ctx, s.q.insert, probe...); err != nil {
		return fmt.Errorf("table %s: %w", s.opts.Table, err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), s.q.delete, key)
	_, err = conn.ExecContext(ctx, s.q.insert, probe...)
	switch {
	case err == nil:
		return fmt.Errorf("table %s: session_key is not its primary key (see Schema): a key could have two rows", s.opts.Table)
	case !isDuplicate(err):
		return fmt.Errorf("table %s: %w", s.opts.Table, err)
	}
	res, err := conn.ExecContext(ctx, s.q.probe, key)
	if err != nil {
		return fmt.Errorf("table %s: %w", s.opts.Table, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errors.New("the MySQL connection must report found rows: add clientFoundRows=true to its DSN")
	}
	return nil
}

// isNoTable reports whether err says that the table queried does not
// exist: SQLite's "no such table", PostgreSQL's undefined_table (42P01),
// MySQL's ER_NO_SUCH_TABLE (1146).
func isNoTable(err error) bool {
	if err == nil {
		return false
	}
	var pe *pgconn.PgError
	var me *mysql.MySQLError
	switch {
	case errors.As(err, &pe):
		return pe.Code == "42P01"
	case errors.As(err, &me):
		return me.Number == 1146
	}
	return strings.Contains(err.Error(), "no such table")
}

// isNoColumn reports whether err says that a column queried does not
// exist: SQLite's "no such column", PostgreSQL's undefined_column (42703),
// MySQL's ER_BAD_FIELD_ERROR (1054).
func isNoColumn(err error) bool {
	var pe *pgconn.PgError
	var me *mysql.MySQLError
	switch {
	case err == nil:
		return false
	case errors.As(err, &pe):
		return pe.Code == "42703"
	case errors.As(err, &me):
		return me.Number == 1054
	}
	return strings.Contains(err.Error(), "no such column")
}

// DB returns the underlying database.
func (s *Store) DB() *sql.DB { return s.db }

// Dialect returns the engine the store speaks to.
func (s *Store) Dialect() Dialect { return s.dialect }

// Table returns the name of the store's table.
func (s *Store) Table() string { return s.opts.Table }

// Close marks the store closed, waits for nothing, and closes the database
// if Open opened it. Later calls return session.ErrClosed. Close is
// idempotent.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closed.Close()
		if s.keys != nil {
			s.keys.ForgetAll()
		}
		s.mu.Lock()
		for _, st := range s.stmts {
			st.Close()
		}
		s.stmts = nil
		s.mu.Unlock()
		if s.ownsDB {
			s.closeErr = s.db.Close()
		}
	})
	return s.closeErr
}

// stmt returns the prepared statement of query, preparing it on first
// use. Prepared statements spare the server a parse per call, and MySQL
// two round trips.
func (s *Store) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stmts == nil {
		return nil, session.ErrClosed
	}
	if st, ok := s.stmts[query]; ok {
		return st, nil
	}
	st, err := s.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	s.stmts[query] = st
	return st, nil
}

// exec runs query with args, in tx when not nil. A statement of its own
// that the server chose as a deadlock victim (InnoDB picks one among
// concurrent upserts of neighbouring keys), and so rolled back, runs again,
// a few times.
func (s *Store) exec(ctx context.Context, tx *sql.Tx, query string, args ...any) (sql.Result, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if tx != nil {
		return tx.StmtContext(ctx, st).ExecContext(ctx, args...)
	}
	return retryDeadlock(ctx, func() (sql.Result, error) { return st.ExecContext(ctx, args...) })
}

// maxDeadlockRetries bounds how often a statement or transaction chosen as
// a deadlock victim runs.
const maxDeadlockRetries = 5

// retryDeadlock calls f again, after a back-off, while the server chooses
// what f ran as a deadlock victim (and so rolled it back), at most
// maxDeadlockRetries times in all.
func retryDeadlock[T any](ctx context.Context, f func() (T, error)) (T, error) {
	for attempt := 1; ; attempt++ {
		v, err := f()
		if err == nil || !isDeadlock(err) || attempt == maxDeadlockRetries {
			return v, err
		}
		if err := optimistic.Backoff(ctx, attempt+1); err != nil {
			return v, err
		}
	}
}

// isDeadlock reports whether err is a deadlock the server resolved by
// rolling back the statement or transaction that got it: MySQL's
// ER_LOCK_DEADLOCK (1213), PostgreSQL's deadlock_detected (40P01).
func isDeadlock(err error) bool {
	var pe *pgconn.PgError
	var me *mysql.MySQLError
	switch {
	case errors.As(err, &pe):
		return pe.Code == "40P01"
	case errors.As(err, &me):
		return me.Number == 1213
	}
	return false
}

// queryRow runs query with args, in tx when not nil.
func (s *Store) queryRow(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Row, error) {
	st, err := s.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if tx != nil {
		st = tx.StmtContext(ctx, st)
	}
	return st.QueryRowContext(ctx, args...), nil
}

// row is one table row: a record and its write token.
type row struct {
	exists  bool
	data    []byte
	expires int64 // Unix ms
	user    []byte
	token   int64
}

func (r row) record() session.Record {
	return session.Record{Data: r.data, Expires: time.UnixMilli(r.expires), UserID: string(r.user)}
}

func (r row) live(now int64) bool { return r.exists && r.expires > now }

// The instants that Unix milliseconds in an int64 can represent.
var (
	minMs = time.UnixMilli(math.MinInt64)
	maxMs = time.UnixMilli(math.MaxInt64)
)

// ms is t in Unix milliseconds, clamped to what an int64 holds rather than
// wrapped around (UnixMilli's result is undefined past about 292 million
// years from 1970), so that a far-future expiry never turns into a past
// one, nor a far-past one into a future one.
func ms(t time.Time) int64 {
	switch {
	case t.Before(minMs):
		return math.MinInt64
	case t.After(maxMs):
		return math.MaxInt64
	}
	return t.UnixMilli()
}

// now is the store's clock in Unix milliseconds.
func (s *Store) now() int64 { return ms(s.opts.Now()) }

// newToken returns the token of a write: random, so that a row deleted and
// written again never looks like the one a compare-and-set read.
func newToken() int64 { return rand.Int64() }

// Load implements session.Store: one indexed SELECT.
func (s *Store) Load(ctx context.Context, key string) (session.Record, error) {
	if err := s.closed.Check(ctx); err != nil {
		return session.Record{}, err
	}
	if err := s.checkKey(key); err != nil {
		return session.Record{}, err
	}
	q, err := s.queryRow(ctx, nil, s.q.load, key, s.lay.when(s.dialect, s.now()))
	if err != nil {
		return session.Record{}, s.fail("load", ctx, err)
	}
	r, err := scanRow(s.lay, q)
	if err != nil {
		return session.Record{}, s.fail("load", ctx, err)
	}
	if !r.exists {
		if s.keys != nil {
			s.keys.Forget(key)
		}
		return session.Record{}, session.ErrNotFound
	}
	if s.keys != nil {
		// The caller owns r.data; the hint keeps a copy of its own.
		h := r
		h.data = append([]byte(nil), r.data...)
		s.keys.Remember(key, h)
	}
	return r.record(), nil
}

// Save implements session.Store: one upsert (on SQLite, in a transaction
// shared with concurrent writes). A record already expired is stored, for
// Load to ignore and the sweeper to remove, as the other stores that
// sweep do.
func (s *Store) Save(ctx context.Context, key string, rec session.Record) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	if err := s.checkKey(key); err != nil {
		return err
	}
	if err := session.CheckUserID(rec.UserID); err != nil {
		return fmt.Errorf("sqlstore: save: %w", err)
	}
	data, exp, user := recordArgs(rec)
	return s.write(ctx, "save", key, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, s.q.upsert, s.lay.record(s.dialect, key, data, exp, user)...)
		return err
	})
}

// recordArgs returns rec's columns as statement arguments. Data is never
// nil: the columns are NOT NULL.
func recordArgs(rec session.Record) (data []byte, expires int64, user []byte) {
	data = rec.Data
	if data == nil {
		data = []byte{}
	}
	return data, ms(rec.Expires), []byte(rec.UserID)
}

// Delete implements session.Store.
func (s *Store) Delete(ctx context.Context, key string) error {
	if err := s.closed.Check(ctx); err != nil {
		return err
	}
	if err := s.checkKey(key); err != nil {
		return err
	}
	return s.write(ctx, "delete", key, func(tx *sql.Tx) error {
		_, err := s.exec(ctx, tx, s.q.delete, key)
		return err
	})
}

// write runs fn, which writes key's row: on SQLite in a transaction shared
// with concurrent writes, elsewhere on its own, after dropping key's hint.
func (s *Store) write(ctx context.Context, op, key string, fn func(tx *sql.Tx) error) error {
	var err error
	if s.group != nil {
		err = s.group.Run(ctx, fn)
	} else {
		s.keys.Forget(key)
		err = fn(nil)
	}
	if err != nil {
		return s.fail(op, ctx, err)
	}
	return nil
}

// transact runs fn in one SQLite write transaction (BEGIN IMMEDIATE: the
// write lock is taken at once, or waited for up to the busy timeout),
// committed when fn succeeds. The group committer calls it. The
// transaction is bound to no caller's context, since it serves many; each
// member's statements run under its own caller's.
func (s *Store) transact(fn func(*sql.Tx) error) error {
	return s.runTx(context.Background(), fn)
}

// runTx runs fn in a transaction, committed when fn succeeds.
func (s *Store) runTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// fail wraps err, the failure of op, for the caller: a context's end as
// the context's error, a closed database as session.ErrClosed.
func (s *Store) fail(op string, ctx context.Context, err error) error {
	switch {
	case errors.Is(err, session.ErrClosed), errors.Is(err, sql.ErrConnDone) && s.closedNow():
		return fmt.Errorf("sqlstore: %s: %w", op, session.ErrClosed)
	case ctx.Err() != nil && !errors.Is(err, ctx.Err()):
		return fmt.Errorf("sqlstore: %s: %w (%v)", op, ctx.Err(), err)
	}
	if s.closedNow() && closedBySQL(err) {
		return fmt.Errorf("sqlstore: %s: %w", op, session.ErrClosed)
	}
	return fmt.Errorf("sqlstore: %s: %w", op, err)
}

// closedBySQL reports whether err is database/sql's refusal of a closed
// database or prepared statement: a call that took a statement just before
// Close closed it gets the latter. database/sql exports neither error.
func closedBySQL(err error) bool {
	switch err.Error() {
	case "sql: database is closed", "sql: statement is closed":
		return true
	}
	return false
}

func (s *Store) closedNow() bool { return s.closed.Check(context.Background()) != nil }
