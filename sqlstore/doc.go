// Package sqlstore keeps sessions in an SQL database, Django's default
// session backend: SQLite (modernc.org/sqlite, pure Go) for one host, and
// PostgreSQL (github.com/jackc/pgx/v5) or MySQL and MariaDB
// (github.com/go-sql-driver/mysql) for many. One Store type serves the
// three; Open takes a URL ("sqlite:/var/lib/app/db.sqlite3",
// "postgres://app@db/app", "mysql://app@db/app"), New a *sql.DB the
// application already has.
//
// # The table
//
// One row per session in one table (default "sessions"; Schema prints its
// statements): the store key, the encoded session, its expiry in Unix
// milliseconds, the same rounded down to the minute (indexed, for the
// sweeper: a write that extends the expiry within its minute leaves the
// index as it is, and PostgreSQL can update the row in place), its
// owner's user ID (indexed, for the per-user operations) and a random
// token that every write changes. Open and New create the table and
// indexes when missing, unless Options.NoCreate; they refuse a table of
// the earlier shape, indexed on the exact expiry, until the statements of
// Upgrade have run.
//
// The Store implements every optional capability of the server-side
// stores: session.Updater, session.Sweeper (DeleteExpired deletes in
// bounded batches through the index on the expiry's minute),
// session.Ranger and session.ExpiredRanger (pages in key order, no
// transaction held open), session.UserIndexer, session.Counter and
// io.Closer.
//
// # SQLite
//
// The database runs in WAL mode with synchronous=FULL (every commit is on
// disk before Save returns) and a busy timeout, so several processes can
// share one file: each write transaction takes the database's write lock
// when it begins (BEGIN IMMEDIATE). Writes of one Store share transactions
// under load (group commit, as boltstore does): writers that arrive while
// a commit is under way are committed together by the next one, with one
// fsync. Options.NoSync trades the last commits before a power failure for
// speed (synchronous=NORMAL). UpdateRecord reads, calls its function and
// writes inside one such transaction.
//
// The database's directory must be private to the current user, as a file
// store's directory is: SQLite keeps companion files (-wal, -shm) beside
// the database, which another user who can write there could plant. Open
// creates the file with mode 0600.
//
// # PostgreSQL and MySQL
//
// Each Load, Save and Delete is one prepared statement. UpdateRecord is an
// optimistic compare-and-set on the row's token, retried with back-off
// against writers in other processes and hosts; updates of one key
// through one Store take turns instead. After a Load, the next
// UpdateRecord of the same key takes what Load read as its first guess, so
// the engine's request cycle costs two statements. DeleteUser runs in one
// transaction.
//
// Context deadlines bound every call. A server that is down or restarting
// gives errors, never a hang; database/sql replaces broken connections, so
// the store works again once the server is back.
//
// # Concurrency and crashes
//
// A Store is safe for concurrent use, from any number of goroutines,
// processes and (for the server engines) hosts. A write that has returned
// nil is committed: on SQLite on disk (unless Options.NoSync), on a server
// by the server's own durability settings. A crash of the process loses
// only the writes that have not returned; the database's own recovery
// deals with a transaction under way.
package sqlstore
