package sqltest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gofrs/flock"
)

// SharedPostgres returns the PostgreSQL server of this test binary,
// starting it on first use; every later call, from any test, gets the same
// server. Take a database of the test's own on it with NewDatabase. If the
// start fails, this call and every later one fail their test. It skips or
// fails tb as RequirePostgres does when PostgreSQL is not installed. See
// Main for stopping it.
func SharedPostgres(tb testing.TB) *Server {
	tb.Helper()
	RequirePostgres(tb)
	return shared(tb, postgres)
}

// SharedMySQL is SharedPostgres for the MariaDB server of this test
// binary.
func SharedMySQL(tb testing.TB) *Server {
	tb.Helper()
	RequireMySQL(tb)
	return shared(tb, mysql)
}

func shared(tb testing.TB, f *flavor) *Server {
	tb.Helper()
	s, err := f.shared.get(func() (*Server, error) {
		s, err := newServer(f)
		if s != nil {
			s.shared = true
		}
		return s, err
	})
	if err != nil {
		tb.Fatalf("sqltest: shared %s server: %v", f.name, err)
	}
	return s
}

// Main runs the tests of m, then StopShared, and exits with their status.
// Call it from TestMain in a package that uses the shared servers:
//
//	func TestMain(m *testing.M) { sqltest.Main(m) }
func Main(m *testing.M) {
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// StopShared stops the shared servers started so far and removes their
// directories, and the templates that servers are made from: call it
// after the tests, as Main does, in a TestMain of your own, or at the end
// of a program that launched servers, once it has closed them (it leaves
// launched servers alone). A later SharedPostgres or SharedMySQL would
// start a new server. Problems are reported on stderr.
func StopShared() {
	for _, f := range flavors {
		if s, ok := f.shared.take(); ok {
			if err := s.destroy(); err != nil {
				fmt.Fprintln(os.Stderr, "sqltest:", err)
			}
		}
		if dir, ok := f.template.take(); ok {
			if err := removeAll(filepath.Dir(dir)); err != nil {
				fmt.Fprintln(os.Stderr, "sqltest:", err)
			}
		}
	}
	if w, ok := workDir.take(); ok {
		w.release()
	}
}

// lazy is a value made on first use. Concurrent users wait for the maker
// (whose own timeouts bound the wait), and a failure is kept: every user
// gets it.
type lazy[T any] struct {
	mu   sync.Mutex
	made bool
	v    T
	err  error
}

func (l *lazy[T]) get(make func() (T, error)) (T, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.made {
		l.v, l.err = make()
		l.made = true
	}
	return l.v, l.err
}

// take returns the value if one was made without error, and forgets it:
// the next get makes a new one.
func (l *lazy[T]) take() (v T, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	v, ok = l.v, l.made && l.err == nil
	var zero T
	l.v, l.err, l.made = zero, nil, false
	return v, ok
}

// workPrefix starts the names of the directories, in os.TempDir(), that
// test binaries keep their servers and templates in, one each.
const workPrefix = "sessionkv-sqltest-"

// staleAge is how long a work directory must have gone unchanged, with its
// lock free, before another test binary removes it.
const staleAge = time.Minute

// work is the directory of this test binary's servers and templates, in
// os.TempDir() rather than a test's TempDir: the postgres user must be able
// to reach into it. The binary holds a lock on the file "lock" in it for
// its whole life, which tells other binaries that it is in use.
type work struct {
	path string
	lock *flock.Flock
}

var workDir lazy[*work]

// getWork returns the work directory, making it on first use, after
// removing those that test binaries that are gone left behind.
func getWork() (*work, error) {
	return workDir.get(func() (*work, error) {
		dir, err := os.MkdirTemp("", workPrefix)
		if err != nil {
			return nil, err
		}
		// Others (the postgres user) may traverse it; only we list it.
		if err := os.Chmod(dir, 0o711); err != nil {
			return nil, err
		}
		lock := flock.New(filepath.Join(dir, "lock"))
		if ok, err := lock.TryLock(); !ok {
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("lock %s: %v", dir, err)
		}
		sweep(dir)
		return &work{path: dir, lock: lock}, nil
	})
}

// release removes the work directory if nothing but its lock is left in
// it. Otherwise it stays locked, for as long as this process lives.
func (w *work) release() {
	entries, err := os.ReadDir(w.path)
	if err != nil || len(entries) != 1 || entries[0].Name() != "lock" {
		return
	}
	_ = os.Remove(w.lock.Path())
	_ = w.lock.Close()
	_ = os.Remove(w.path)
}

// sweep removes the work directories of test binaries that are gone (see
// sweepDir), all but own.
func sweep(own string) {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), workPrefix+"*"))
	for _, dir := range dirs {
		if dir != own {
			sweepDir(dir, staleAge)
		}
	}
}

// sweepDir removes the work directory dir if its lock is free and it has
// not changed for minAge (a binary makes it a moment before taking the
// lock). Before that, it starts each killed PostgreSQL server in it once,
// and stops it again, to free the shared memory the kill left behind. It
// ignores what it cannot do: other users' directories, for one.
func sweepDir(dir string, minAge time.Duration) {
	fi, err := os.Lstat(dir)
	if err != nil || !fi.IsDir() || time.Since(fi.ModTime()) < minAge {
		return
	}
	lock := flock.New(filepath.Join(dir, "lock"))
	if ok, err := lock.TryLock(); !ok || err != nil {
		return
	}
	defer lock.Close()
	if inst, err := postgres.install(); err == nil {
		servers, _ := filepath.Glob(filepath.Join(dir, postgres.prefix+"-*"))
		for _, sdir := range servers {
			s := &Server{flavor: postgres, inst: inst, dir: sdir}
			if postgres.crashLeftovers(s) {
				if s.port, err = freePort(); err == nil {
					_ = s.destroy()
				}
			}
		}
	}
	_ = os.RemoveAll(dir)
}

// A thread that exits takes the parent-death signal of the processes it
// started with it (on Linux, the "parent" of PR_SET_PDEATHSIG is the
// thread), and the Go runtime ends a thread whose goroutine exits while
// locked to it. So every server starts from one goroutine that locks
// itself to its thread and never exits: its servers die with the process,
// and only then.
var spawner = sync.OnceValue(func() chan<- spawnRequest {
	reqs := make(chan spawnRequest)
	go func() {
		runtime.LockOSThread() // for good: this goroutine never returns
		for r := range reqs {
			r.err <- r.cmd.Start()
		}
	}()
	return reqs
})

type spawnRequest struct {
	cmd *exec.Cmd
	err chan error
}

// startProcess starts cmd from the spawner's thread.
func startProcess(cmd *exec.Cmd) error {
	r := spawnRequest{cmd: cmd, err: make(chan error, 1)}
	spawner() <- r
	return <-r.err
}
