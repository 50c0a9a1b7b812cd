//go:build unix

package boltstore

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/sessionkv/session"
)

// Deadlines of the group tests: a call waits groupDeadline for a commit
// that does not end, and must have returned groupGrace after it started.
const (
	groupDeadline = 300 * time.Millisecond
	groupGrace    = 2 * time.Second
)

var groupBucket = []byte("g")

// groupCommitter is a committer with its database and a settable queued
// hook, for the tests.
type groupCommitter struct {
	*committer
	db     *bbolt.DB
	queued func(n int) // set before the first Run
}

// newGroupCommitter returns a committer on a fresh database with the
// bucket groupBucket.
func newGroupCommitter(t *testing.T) *groupCommitter {
	t.Helper()
	db, err := bbolt.Open(filepath.Join(t.TempDir(), "group.db"), 0o600, &bbolt.Options{NoSync: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket(groupBucket); return err }); err != nil {
		t.Fatal(err)
	}
	c := &groupCommitter{db: db}
	c.committer = newCommitter(db, nil, func(n int) {
		if c.queued != nil {
			c.queued(n)
		}
	})
	return c
}

// groupPut returns a function that puts key in groupBucket.
func groupPut(key string) func(*bbolt.Tx) error {
	return func(tx *bbolt.Tx) error { return tx.Bucket(groupBucket).Put([]byte(key), []byte("v")) }
}

// groupHas reports whether key is in groupBucket.
func groupHas(t *testing.T, db *bbolt.DB, key string) bool {
	t.Helper()
	found := false
	if err := db.View(func(tx *bbolt.Tx) error {
		found = tx.Bucket(groupBucket).Get([]byte(key)) != nil
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return found
}

// gate blocks group functions until it is opened, once.
type gate struct {
	entered chan struct{} // closed when a function reaches the gate
	open    chan struct{}
	once    sync.Once
}

func newGate() *gate { return &gate{entered: make(chan struct{}), open: make(chan struct{})} }

// wait is called by the blocked function.
func (g *gate) wait() {
	close(g.entered)
	<-g.open
}

// release opens the gate; it may be called any number of times.
func (g *gate) release() { g.once.Do(func() { close(g.open) }) }

// within runs op in a goroutine and returns its result, failing the test if
// it has not returned groupGrace after it started; g is then released so
// that op can return and the test end.
func within[T any](t *testing.T, what string, g *gate, op func() T) T {
	t.Helper()
	done := make(chan T, 1)
	go func() { done <- op() }()
	select {
	case v := <-done:
		return v
	case <-time.After(groupGrace):
		g.release()
		v := <-done
		t.Fatalf("%s with a %v deadline did not return within %v; it returned %v once the blocking commit ended",
			what, groupDeadline, groupGrace, v)
		return v
	}
}

// TestStore_SaveLeavesQueueBehindBlockedUpdate: a Save queued behind a
// commit that does not end (an UpdateRecord whose function blocks) returns by its
// deadline with the context's error, is never applied, and the store works
// once the UpdateRecord is done.
func TestStore_SaveLeavesQueueBehindBlockedUpdate(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "sessions.db"), &Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	live := time.Now().Add(time.Hour)
	g := newGate()
	t.Cleanup(g.release)
	updated := make(chan error, 1)
	go func() {
		updated <- s.UpdateRecord(context.Background(), "blocked", func(session.Record, bool) (session.Record, error) {
			g.wait()
			return session.Record{Data: []byte("updated"), Expires: live}, nil
		})
	}()
	<-g.entered

	err = within(t, "Save", g, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), groupDeadline)
		defer cancel()
		return s.Save(ctx, "queued", session.Record{Data: []byte("late"), Expires: live})
	})
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not applied") {
		t.Fatalf("Save queued behind a blocked commit = %v; want context.DeadlineExceeded, not applied", err)
	}

	g.release()
	if err := <-updated; err != nil {
		t.Fatalf("the blocked Update: %v", err)
	}
	if _, err := s.Load(t.Context(), "queued"); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load of the abandoned Save = %v; want session.ErrNotFound", err)
	}
	if err := s.Save(t.Context(), "after", session.Record{Data: []byte("after"), Expires: live}); err != nil {
		t.Fatalf("Save once the commit is done: %v", err)
	}
	for _, k := range []string{"blocked", "after"} {
		if _, err := s.Load(t.Context(), k); err != nil {
			t.Errorf("Load(%q): %v", k, err)
		}
	}
}

// TestCommitter_CallerWaitsForItsStartedFunction: a caller whose own
// function is under way when its context ends does not return while the
// function runs (it may write into the caller's buffers), then returns the
// transaction's real outcome; its pooled call is not handed to the next
// caller early, so that caller gets its own result.
func TestCommitter_CallerWaitsForItsStartedFunction(t *testing.T) {
	c := newGroupCommitter(t)
	errMine := errors.New("the next caller's own error")
	for i := range 5 {
		g := newGate()
		t.Cleanup(g.release)
		started := make(chan struct{})
		type results struct{ mine, next error }
		returned := make(chan results, 1)
		var fnDone atomic.Bool
		// Both calls from one goroutine, so that the pool, which is per P,
		// would hand the second the first's call if the first gave it back.
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), groupDeadline/3)
			defer cancel()
			var r results
			r.mine = c.Run(ctx, func(tx *bbolt.Tx) error {
				close(started)
				g.wait()
				fnDone.Store(true)
				return groupPut("mine")(tx)
			})
			if !fnDone.Load() {
				r.mine = errors.New("run returned while its function was still running")
			}
			r.next = c.Run(context.Background(), func(*bbolt.Tx) error { return errMine })
			returned <- r
		}()
		<-started
		time.Sleep(groupDeadline / 2) // past the caller's deadline
		select {
		case r := <-returned:
			t.Fatalf("round %d: run returned %+v while its function was blocked", i, r)
		default:
		}
		g.release()
		var r results
		select {
		case r = <-returned:
		case <-time.After(10 * groupDeadline):
			t.Fatalf("round %d: run did not return once its function did", i)
		}
		if r.mine != nil {
			t.Fatalf("round %d: run whose function outlived its deadline = %v; want the commit's outcome, nil", i, r.mine)
		}
		if !errors.Is(r.next, errMine) {
			t.Fatalf("round %d: the next caller's run = %v; want its own error %v", i, r.next, errMine)
		}
	}
	if !groupHas(t, c.db, "mine") {
		t.Error("the write whose function outlived its deadline is missing")
	}
}

// TestCommitter_PanicFailsItsGroupOnly: a function that panics during a
// group's commit gives every call of that group an error wrapping
// session.ErrCorrupt, applies none of them, and neither crashes the process
// nor stops the committer: the call queued behind the group commits, and so
// does a later one.
func TestCommitter_PanicFailsItsGroupOnly(t *testing.T) {
	c := newGroupCommitter(t)
	queued := make(chan int, 16)
	c.queued = func(n int) { queued <- n }
	awaitQueue := func(want int) {
		t.Helper()
		for n := range queued {
			if n == want {
				return
			}
		}
	}

	first := newGate()
	t.Cleanup(first.release)
	firstDone := make(chan error, 1)
	go func() {
		firstDone <- c.Run(context.Background(), func(tx *bbolt.Tx) error {
			first.wait()
			return groupPut("first")(tx)
		})
	}()
	<-first.entered
	awaitQueue(1)

	// The next group: a function that panics, once released, and a put.
	boom := newGate()
	t.Cleanup(boom.release)
	group := make(chan error, 2)
	go func() {
		group <- c.Run(context.Background(), func(*bbolt.Tx) error {
			boom.wait()
			panic("boom")
		})
	}()
	go func() { group <- c.Run(context.Background(), groupPut("sibling")) }()
	awaitQueue(2)
	first.release()
	if err := <-firstDone; err != nil {
		t.Fatalf("the first group: %v", err)
	}

	// A call queued behind the panicking group.
	<-boom.entered
	behind := make(chan error, 1)
	go func() { behind <- c.Run(context.Background(), groupPut("behind")) }()
	awaitQueue(1)
	boom.release()

	for range 2 {
		err := within(t, "a call of the panicking group", boom, func() error { return <-group })
		if !errors.Is(err, session.ErrCorrupt) || !strings.Contains(err.Error(), "boom") {
			t.Errorf("call of the panicking group = %v; want session.ErrCorrupt with the panic", err)
		}
	}
	if err := within(t, "the call queued behind", boom, func() error { return <-behind }); err != nil {
		t.Fatalf("the call queued behind the panicking group: %v", err)
	}
	if err := c.Run(context.Background(), groupPut("later")); err != nil {
		t.Fatalf("a later call: %v", err)
	}
	for key, want := range map[string]bool{"first": true, "sibling": false, "behind": true, "later": true} {
		if got := groupHas(t, c.db, key); got != want {
			t.Errorf("%q stored: %v; want %v", key, got, want)
		}
	}
	// The drain goroutine marks the committer idle just after it answers
	// the last call: give it a moment to get there.
	deadline := time.Now().Add(groupDeadline * 10)
	for {
		ok, queued := c.Idle()
		if ok && queued == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("committer left running (idle %v) with %d queued calls; want idle and empty", ok, queued)
		}
		time.Sleep(time.Millisecond)
	}
}

// TestCommitter_MemoryFaultIsErrCorrupt: a memory fault during a commit,
// here a read of a mapping past the end of its file as a truncated database
// file would give, is an error wrapping session.ErrCorrupt, not a crash.
func TestCommitter_MemoryFaultIsErrCorrupt(t *testing.T) {
	c := newGroupCommitter(t)
	f, err := os.Create(filepath.Join(t.TempDir(), "truncated"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	page := os.Getpagesize()
	mapped, err := syscall.Mmap(int(f.Fd()), 0, page, syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Munmap(mapped)
	var read atomic.Uint32
	err = c.Run(context.Background(), func(*bbolt.Tx) error {
		read.Store(uint32(mapped[page/2])) // past the end of the empty file: SIGBUS
		return nil
	})
	if !errors.Is(err, session.ErrCorrupt) {
		t.Fatalf("run whose function faults = %v (read %d); want session.ErrCorrupt", err, read.Load())
	}
	if err := c.Run(context.Background(), groupPut("after")); err != nil {
		t.Fatalf("a call after the fault: %v", err)
	}
}

// TestCommitter_LostWriteLockFailsFast: a panic that leaves bbolt's writer
// lock held (here bbolt finds both meta pages invalid while it begins the
// transaction, as when the file is damaged under the open database) fails
// that call and every later one at once with session.ErrCorrupt, instead
// of leaving them to wait for the lock forever.
func TestCommitter_LostWriteLockFailsFast(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lost.db")
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{NoSync: true, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	// db is never closed: Close would wait for the lost lock forever.
	if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket(groupBucket); return err }); err != nil {
		t.Fatal(err)
	}
	c := newCommitter(db, nil, nil)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(make([]byte, 2*db.Info().PageSize), 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}

	never := newGate() // nothing here blocks on a gate: within needs one
	for i := range 3 {
		err := within(t, "run on a database whose meta pages are gone", never, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), groupDeadline)
			defer cancel()
			return c.Run(ctx, groupPut("x"))
		})
		if !errors.Is(err, session.ErrCorrupt) || !strings.Contains(err.Error(), "write lock is lost") {
			t.Fatalf("call %d = %v; want session.ErrCorrupt saying the write lock is lost", i, err)
		}
	}
}
