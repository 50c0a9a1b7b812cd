// Package sqltest starts throwaway PostgreSQL and MariaDB servers for tests,
// on free loopback ports (127.0.0.1 only), each in a temporary directory of
// its own. A test either starts a dedicated server, which its Cleanup stops
// and removes (StartPostgres, StartMySQL: for tests that kill, stop or
// pause the server), or uses the server its test binary shares
// (SharedPostgres, SharedMySQL) and takes a fresh database on it with
// Server.NewDatabase, which its Cleanup drops: the cheap way to an
// isolated store.
//
// # Servers
//
// PostgreSQL comes from initdb and postgres: the newest
// /usr/lib/postgresql/N/bin (the layout of the Debian package postgresql),
// else both on PATH. It needs version 13 or later. As root, initdb and the
// server run as the postgres system user that the package creates, since
// PostgreSQL refuses to run as root. The superuser is postgres, with trust
// authentication: no password.
//
// MariaDB comes from mariadbd and mariadb-install-db (the Debian package
// mariadb-server), on PATH or in /usr/sbin or /usr/bin. It runs as the
// test's user (with --user=root as root) and without reading any option
// file (--no-defaults). Its user root has an empty password.
//
// Both keep their durable defaults (fsync on, synchronous commit;
// innodb_flush_log_at_trx_commit=1), so that benchmarks on them measure
// what production pays. Both run in UTC with UTF-8 by default (utf8mb4's
// default collation on MariaDB, which is case-insensitive: a store that
// needs exact comparisons must declare its own) and accept 300
// connections. Settings may be changed at run time: ALTER SYSTEM and
// pg_reload_conf() on PostgreSQL, SET GLOBAL on MariaDB.
//
// Each kind of server is initialized once per test binary, into a template
// data directory that every server of that kind then copies, which makes a
// start take a fraction of a second. The templates and the servers'
// directories live in one directory per test binary, in os.TempDir()
// rather than in a test's TempDir, since the postgres user must be able to
// reach them ($TMPDIR, when set, must allow that). A server's output goes
// to the file server.log in its directory; a failed start reports its
// end, and so does a failed test's Cleanup for a dedicated server.
//
// When a server program is missing, the tests that ask for that server are
// skipped with a message on stderr, unless the environment variable
// SESSIONKV_REQUIRE_POSTGRES (for PostgreSQL) or SESSIONKV_REQUIRE_MYSQL
// (for MariaDB) is "1", in which case they fail: CI sets both so that
// these tests always run there. scripts/sql-deps.sh installs both
// packages.
//
// # Servers outside tests
//
// LaunchPostgres and LaunchMySQL start a server for a program rather than
// a test (a benchmark command, say): they return errors instead of failing
// a test, wrapping ErrNotInstalled when the server's programs are missing,
// and the caller stops the server and removes its directory with Close. On
// Linux such a server still dies with the process, however it ends. The
// templates stay for the servers launched later; StopShared removes them,
// and the work directory, once the program's servers are closed. Without
// StopShared, a later program or test binary using this package sweeps
// them up.
//
// # Shared servers and TestMain
//
// A shared server outlives the tests that use it. A package that uses one
// should stop it at the end from its TestMain:
//
//	func TestMain(m *testing.M) { sqltest.Main(m) }
//
// Without that, on Linux, the kernel still kills every server with SIGKILL
// when the test binary exits, however it exits (each server is started
// with a parent-death signal, from a thread that lives as long as the
// process), but the server's directory stays behind until a later test
// binary using this package removes it, a minute or more after. The same
// goes for every server of a test binary that is killed or crashes. On
// other systems, StopShared and Main are the only way shared servers stop.
//
// # Concurrency
//
// Everything here is safe for use from parallel tests: starting servers,
// the shared servers (started once, on first use; a failed start fails
// every test that asks for that server), and all methods of Server. A
// dedicated server belongs to the test that started it, and a launched one
// to the program that launched it; only they may Kill, Stop, Pause,
// Restart or Close it. A shared server must not be killed, stopped, paused
// or closed, since other tests use it: those methods panic on it.
package sqltest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	// The database/sql drivers, registered as "mysql" and "pgx".
	_ "github.com/go-sql-driver/mysql"
	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/sessionkv/session/internal/testkit"
)

// RequirePostgresEnv is the environment variable that, set to "1", turns a
// missing PostgreSQL into a test failure instead of a skip.
const RequirePostgresEnv = "SESSIONKV_REQUIRE_POSTGRES"

// RequireMySQLEnv is the environment variable that, set to "1", turns a
// missing MariaDB into a test failure instead of a skip.
const RequireMySQLEnv = "SESSIONKV_REQUIRE_MYSQL"

// ErrNotInstalled is wrapped by the errors of LaunchPostgres and
// LaunchMySQL when the server's programs are not installed (or, for
// PostgreSQL run as root, there is no postgres user to run them as): the
// case in which the tests that need the server are skipped.
var ErrNotInstalled = errors.New("not installed")

const (
	// startTimeout bounds how long a server may take to accept
	// connections, and initdb or mariadb-install-db to finish.
	startTimeout = 30 * time.Second
	// stopTimeout bounds a graceful stop; SIGKILL follows it.
	stopTimeout = 30 * time.Second
	// opTimeout bounds one administrative statement.
	opTimeout = 30 * time.Second
)

// RequirePostgres skips tb (or fails it when RequirePostgresEnv is "1")
// unless PostgreSQL's initdb and postgres are installed and, when the test
// runs as root, the postgres system user exists.
func RequirePostgres(tb testing.TB) {
	tb.Helper()
	require(tb, postgres)
}

// RequireMySQL skips tb (or fails it when RequireMySQLEnv is "1") unless
// MariaDB's mariadbd and mariadb-install-db are installed.
func RequireMySQL(tb testing.TB) {
	tb.Helper()
	require(tb, mysql)
}

func require(tb testing.TB, f *flavor) {
	tb.Helper()
	if _, err := f.install(); err != nil {
		msg := fmt.Sprintf("sqltest: %v, so the %s tests do not run "+
			"(install the %s package, e.g. with scripts/sql-deps.sh)", err, f.name, f.pkg)
		if os.Getenv(f.env) == "1" {
			tb.Fatalf("%s; %s=1 requires it", msg, f.env)
		}
		f.skipNotice.Do(func() { fmt.Fprintln(os.Stderr, "SKIP", msg) })
		tb.Skip(msg)
	}
}

// Server is one PostgreSQL or MariaDB server process, listening on
// 127.0.0.1. Its methods are safe for concurrent use.
type Server struct {
	flavor *flavor
	inst   *install
	tb     testing.TB // the owner of a dedicated server; nil otherwise
	shared bool       // SharedPostgres or SharedMySQL's
	dir    string
	port   int
	dbs    atomic.Int64 // databases made by NewDatabase, for their names

	mu     sync.Mutex
	cmd    *exec.Cmd     // nil while the server is down
	done   chan struct{} // closed when cmd has exited
	paused bool

	closeOnce sync.Once
	closeErr  error
}

// StartPostgres starts a PostgreSQL server for tb alone, on a free
// loopback port, and registers its shutdown and the removal of its
// directory with tb.Cleanup. It skips or fails tb as RequirePostgres does
// when PostgreSQL is not installed.
func StartPostgres(tb testing.TB) *Server {
	tb.Helper()
	RequirePostgres(tb)
	return startFor(tb, postgres)
}

// StartMySQL starts a MariaDB server for tb alone, on a free loopback
// port, and registers its shutdown and the removal of its directory with
// tb.Cleanup. It skips or fails tb as RequireMySQL does when MariaDB is not
// installed.
func StartMySQL(tb testing.TB) *Server {
	tb.Helper()
	RequireMySQL(tb)
	return startFor(tb, mysql)
}

func startFor(tb testing.TB, f *flavor) *Server {
	tb.Helper()
	s, err := newServer(f)
	if err != nil {
		tb.Fatalf("sqltest: %v", err)
	}
	s.tb = tb
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("sqltest: end of the %s log (%s):\n%s", f.name, s.logPath(), s.logTail())
		}
		if err := s.Close(); err != nil {
			tb.Logf("sqltest: %v", err)
		}
	})
	return s
}

// LaunchPostgres starts a PostgreSQL server, as StartPostgres does, for a
// caller that is not a test: the caller must Close it. When PostgreSQL is
// not installed, the error wraps ErrNotInstalled.
func LaunchPostgres() (*Server, error) { return launch(postgres) }

// LaunchMySQL starts a MariaDB server, as StartMySQL does, for a caller
// that is not a test: the caller must Close it. When MariaDB is not
// installed, the error wraps ErrNotInstalled.
func LaunchMySQL() (*Server, error) { return launch(mysql) }

func launch(f *flavor) (*Server, error) {
	if _, err := f.install(); err != nil {
		return nil, fmt.Errorf("sqltest: %s %w: %v (install the %s package, e.g. with scripts/sql-deps.sh)",
			f.name, ErrNotInstalled, err, f.pkg)
	}
	s, err := newServer(f)
	if err != nil {
		return nil, fmt.Errorf("sqltest: %w", err)
	}
	return s, nil
}

// Close stops the server the quick way (PostgreSQL's immediate shutdown,
// SIGKILL for MariaDB: neither keeps its data) and removes its directory.
// Later calls do nothing and return the first one's result. A dedicated
// server's Cleanup closes it; a launched one's caller must. It panics on a
// shared server: see StopShared.
func (s *Server) Close() error {
	s.mustOwn("Close")
	s.closeOnce.Do(func() { s.closeErr = s.destroy() })
	return s.closeErr
}

// newServer makes a server directory from the flavor's template and starts
// a server in it, trying a few ports in case another process takes the
// one chosen first.
func newServer(f *flavor) (*Server, error) {
	inst, err := f.install()
	if err != nil {
		return nil, err
	}
	tmpl, err := f.template.get(func() (string, error) { return makeTemplate(f, inst) })
	if err != nil {
		return nil, err
	}
	w, err := getWork()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(w.path, f.prefix+"-")
	if err != nil {
		return nil, fmt.Errorf("server directory: %w", err)
	}
	if err := copyTree(tmpl, filepath.Join(dir, "data"), inst.runAs); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("copy the %s template: %w", f.name, err)
	}
	if err := inst.runAs.chown(dir); err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	s := &Server{flavor: f, inst: inst, dir: dir}
	for range 3 {
		if s.port, err = freePort(); err != nil {
			break
		}
		if err = s.launch(); err == nil {
			return s, nil
		}
	}
	_ = s.destroy()
	return nil, err
}

// Addr returns the server's address, 127.0.0.1:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Port returns the server's port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// Dir returns the server's directory: its data directory is "data" in it,
// and its output goes to "server.log".
func (s *Server) Dir() string { return s.dir }

// Driver returns the name of the database/sql driver for the server's
// DSN: "pgx" (github.com/jackc/pgx/v5/stdlib) or "mysql"
// (github.com/go-sql-driver/mysql). This package registers both.
func (s *Server) Driver() string { return s.flavor.driver }

// URL returns the URL of database db on the server, in the form the
// sqlstore package takes: postgres://postgres@127.0.0.1:PORT/DB?sslmode=disable
// or mysql://root@127.0.0.1:PORT/DB. An empty db names the server's default
// database: postgres on PostgreSQL, none on MariaDB.
func (s *Server) URL(db string) string { return s.flavor.url(s.Addr(), db) }

// DSN returns the data source name of database db on the server for
// Driver's driver: the URL for pgx, root@tcp(127.0.0.1:PORT)/DB for
// go-sql-driver/mysql, without parameters (append "?name=value" to set
// some). An empty db is as for URL.
func (s *Server) DSN(db string) string { return s.flavor.dsn(s.Addr(), db) }

// Open returns a database/sql handle on database db of the server (see
// DSN), closed by tb.Cleanup.
func (s *Server) Open(tb testing.TB, db string) *sql.DB {
	tb.Helper()
	h, err := sql.Open(s.Driver(), s.DSN(db))
	if err != nil {
		tb.Fatalf("sqltest: %v", err)
	}
	tb.Cleanup(func() { _ = h.Close() })
	return h
}

// NewDatabase creates an empty database with a new name on the server,
// drops it in tb.Cleanup (only logging a failure to, and skipping it when
// the server is down or paused then) and returns its URL (see URL). It is
// s.URL(s.CreateDatabase(tb)).
func (s *Server) NewDatabase(tb testing.TB) string {
	tb.Helper()
	return s.URL(s.CreateDatabase(tb))
}

// CreateDatabase is NewDatabase, returning the new database's name rather
// than its URL: for DSN or Open.
func (s *Server) CreateDatabase(tb testing.TB) string {
	tb.Helper()
	name := fmt.Sprintf("t_%s_%d", identifier(tb.Name()), s.dbs.Add(1))
	if err := s.exec(s.flavor.createDB(name)); err != nil {
		tb.Fatalf("sqltest: create database %s: %v", name, err)
	}
	tb.Cleanup(func() {
		if !s.answering() {
			return
		}
		if err := s.exec(s.flavor.dropDB(name)); err != nil {
			tb.Logf("sqltest: drop database %s: %v", name, err)
		}
	})
	return name
}

// identifier turns a test name into the start of a database name: lower
// case letters, digits and underscores, at most 40 bytes.
func identifier(testName string) string {
	var b strings.Builder
	under := false
	for _, r := range strings.ToLower(testName) {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9'
		if !ok {
			if !under && b.Len() > 0 {
				b.WriteByte('_')
			}
			under = true
			continue
		}
		under = false
		b.WriteRune(r)
		if b.Len() >= 40 {
			break
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

// exec runs one administrative statement on a new connection to the
// server's default database.
func (s *Server) exec(stmt string) error {
	db, err := sql.Open(s.Driver(), s.flavor.adminDSN(s.Addr()))
	if err != nil {
		return err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	_, err = db.ExecContext(ctx, stmt)
	return err
}

// Log returns the server's output so far, from every run of it.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath())
	return string(b)
}

func (s *Server) logPath() string { return filepath.Join(s.dir, "server.log") }

// logTail returns the end of the server's output.
func (s *Server) logTail() string {
	f, err := os.Open(s.logPath())
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	defer f.Close()
	return readTail(f)
}

// readTail returns the last few thousand bytes of f.
func readTail(f *os.File) string {
	const n = 3000
	if fi, err := f.Stat(); err == nil && fi.Size() > n {
		_, _ = f.Seek(fi.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// Kill stops the server at once with SIGKILL, as a crash would (on Unix,
// its whole process group: PostgreSQL's backends too), and waits for it to
// exit. Killing a server that is down does nothing. Restart brings it
// back. It panics on a shared server.
func (s *Server) Kill() {
	s.mustOwn("Kill")
	s.kill()
}

// Stop shuts the server down cleanly (PostgreSQL's fast shutdown, which
// disconnects its clients; MariaDB's normal one) and waits for it to exit,
// killing it if it takes longer than 30 seconds. Stopping a server that is
// down does nothing. Restart brings it back. It panics on a shared server.
func (s *Server) Stop() {
	s.mustOwn("Stop")
	s.stop(s.flavor.stopSignal)
}

// Restart starts the server again after Kill or Stop, on the same port and
// data directory, and waits until it accepts connections (PostgreSQL and
// InnoDB recover from a Kill first). It fails the test that started the
// server if the server is running or does not come back within 30
// seconds; a launched server, which has no test to fail, panics then. It
// panics on a shared server.
func (s *Server) Restart() {
	s.mustOwn("Restart")
	if s.tb != nil {
		s.tb.Helper()
	}
	if err := s.restart(); err != nil {
		if s.tb == nil {
			panic(err.Error())
		}
		s.tb.Fatal(err.Error())
	}
}

func (s *Server) restart() error {
	if s.running() {
		return fmt.Errorf("sqltest: Restart of a running %s server; Kill or Stop it first", s.flavor.name)
	}
	var err error
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		if err = s.launch(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("sqltest: restart: %w", err)
}

// Pause freezes the server with SIGSTOP (on Unix, its whole process group):
// connections stay open and nothing answers, like a hung host. Resume
// undoes it; Kill and Stop also work on a paused server. Where there is no
// SIGSTOP, Pause skips tb. It panics on a shared server.
func (s *Server) Pause(tb testing.TB) {
	tb.Helper()
	s.mustOwn("Pause")
	if sigStop == nil {
		tb.Skip("sqltest: Pause needs SIGSTOP")
	}
	// The signal is on its way when kill returns; a server thread woken by
	// a query before it lands would still answer.
	if err := testkit.WaitStopped(startTimeout, s.signalGroup(sigStop, true)...); err != nil {
		tb.Fatalf("sqltest: Pause: %v", err)
	}
}

// Resume continues a paused server with SIGCONT.
func (s *Server) Resume() {
	if sigCont != nil {
		s.signalGroup(sigCont, false)
	}
}

// mustOwn panics if s is shared.
func (s *Server) mustOwn(method string) {
	if s.shared {
		panic(fmt.Sprintf("sqltest: %s of a shared %s server, which other tests use; "+
			"start one of the test's own with Start%s", method, s.flavor.name, s.flavor.title))
	}
}

// running reports whether the server process is up (or starting).
func (s *Server) running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// answering reports whether the server is up and not paused.
func (s *Server) answering() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil && !s.paused
}

// take returns the running process and forgets it, or nil when the server
// is down.
func (s *Server) take() (*exec.Cmd, chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd, done := s.cmd, s.done
	s.cmd, s.done, s.paused = nil, nil, false
	return cmd, done
}

func (s *Server) kill() {
	if cmd, done := s.take(); cmd != nil {
		killGroup(cmd.Process, done)
		<-done
	}
}

// stop sends sig (nil: SIGKILL to the group at once) to the server and
// waits up to stopTimeout for it to exit, then kills its group.
func (s *Server) stop(sig os.Signal) {
	cmd, done := s.take()
	if cmd == nil {
		return
	}
	if sig != nil {
		_ = cmd.Process.Signal(sig)
		if sigCont != nil { // a paused server must run to stop
			_ = signalGroup(cmd.Process, sigCont)
		}
		select {
		case <-done:
			return
		case <-time.After(stopTimeout):
		}
	}
	killGroup(cmd.Process, done)
	<-done
}

// signalGroup sends sig to the server's process group and records whether
// that leaves it paused. It returns the IDs of the processes signalled.
func (s *Server) signalGroup(sig os.Signal, paused bool) []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	pids := signalGroup(s.cmd.Process, sig)
	s.paused = paused
	return pids
}

// destroy stops the server the quick way and removes its directory.
// A PostgreSQL server that was killed first runs once more, briefly: a
// crash leaves shared memory behind (in /dev/shm and System V segments),
// which only a start of the server on the same data directory frees.
func (s *Server) destroy() error {
	s.stop(s.flavor.quitSignal)
	if s.flavor.crashLeftovers(s) && s.launch() == nil {
		s.stop(s.flavor.quitSignal)
	}
	return removeAll(s.dir)
}

// launch starts the server process and waits until it accepts
// connections, or exits, or startTimeout passes.
func (s *Server) launch() error {
	log, err := os.OpenFile(s.logPath(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := s.flavor.command(s)
	cmd.Dir = s.dir
	cmd.Stdout, cmd.Stderr = log, log
	configure(cmd, s.inst.runAs)
	err = startProcess(cmd)
	_ = log.Close() // the server has its own descriptor
	if err != nil {
		return fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()

	db, err := sql.Open(s.Driver(), s.flavor.adminDSN(s.Addr()))
	if err != nil {
		s.kill()
		return err
	}
	defer db.Close()
	deadline := time.Now().Add(startTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		err = db.PingContext(ctx)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-done:
			s.take()
			return fmt.Errorf("%s on port %d exited: %s", s.flavor.name, s.port, s.logTail())
		default:
		}
		if time.Now().After(deadline) {
			s.kill()
			return fmt.Errorf("%s on port %d not ready after %v: %v; log: %s",
				s.flavor.name, s.port, startTimeout, err, s.logTail())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runCmd runs a short-lived program (initdb, mariadb-install-db) through
// startProcess, killing it after timeout, and returns its output with its
// error.
func runCmd(cmd *exec.Cmd, timeout time.Duration) error {
	var out strings.Builder
	var mu sync.Mutex
	w := writerFunc(func(p []byte) (int, error) {
		mu.Lock()
		defer mu.Unlock()
		return out.Write(p)
	})
	cmd.Stdout, cmd.Stderr = w, w
	cmd.WaitDelay = 5 * time.Second // should a child of it keep the pipe open
	if err := startProcess(cmd); err != nil {
		return err
	}
	done := make(chan struct{})
	timer := time.AfterFunc(timeout, func() { killGroup(cmd.Process, done) })
	err := cmd.Wait()
	close(done)
	if !timer.Stop() {
		err = fmt.Errorf("killed after %v", timeout)
	}
	if err != nil {
		mu.Lock()
		defer mu.Unlock()
		return fmt.Errorf("%s: %w\n%s", filepath.Base(cmd.Path), err, out.String())
	}
	return nil
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// freePort returns a loopback port that is free now, below the ephemeral
// ports so that Restart can have it back. Another process may still take
// it before the server binds it; newServer retries then.
func freePort() (int, error) { return testkit.FreePort() }

// removeAll removes dir, retrying for a while: the processes of a killed
// server may still be exiting.
func removeAll(dir string) error {
	var err error
	for range 50 {
		if err = os.RemoveAll(dir); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}
