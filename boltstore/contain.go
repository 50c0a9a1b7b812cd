package boltstore

import (
	"context"
	"fmt"
	"runtime/debug"

	"go.etcd.io/bbolt"
)

// Damage that appears after Open (another process truncating or
// overwriting the file under the store's memory map) makes bbolt panic on
// a page that is not what it expects, or fault on a page past the end of
// the file. The store contains both at its boundary: every read
// transaction, and every function it runs inside a write transaction, runs
// with memory faults turned into panics (debug.SetPanicOnFault) and with
// panics turned into an error wrapping session.ErrCorrupt and one log
// line.

// guard calls fn with memory faults turned into panics, and turns a panic
// into a *recoveredPanic.
func guard(fn func() error) (err error) {
	prev := debug.SetPanicOnFault(true)
	defer debug.SetPanicOnFault(prev)
	defer func() {
		if r := recover(); r != nil {
			err = &recoveredPanic{r}
		}
	}()
	return fn()
}

// recoveredPanic is a panic that guard recovered.
type recoveredPanic struct{ value any }

func (e *recoveredPanic) Error() string { return fmt.Sprint("bbolt panicked: ", e.value) }

// damaged logs the panic p met during op and returns the error to return
// for it.
func (s *Store) damaged(op string, p *recoveredPanic) *damageError {
	s.opts.Logger.Error("boltstore: damaged database file", "path", s.db.Path(), "op", op, "panic", fmt.Sprint(p.value))
	return &damageError{p.Error()}
}

// contain runs fn, a part of a transaction's function that reads or writes
// the database, guarded: a panic in it becomes an error wrapping
// session.ErrCorrupt (and the transaction is rolled back).
func (s *Store) contain(op string, fn func() error) error {
	err := guard(fn)
	if p, ok := err.(*recoveredPanic); ok {
		return s.damaged(op, p)
	}
	return err
}

// view runs fn in a read transaction, guarded. A panic in fn becomes an
// error wrapping session.ErrCorrupt, and the store carries on: bbolt ends
// the transaction as it unwinds. A panic in bbolt itself, beginning or
// ending the transaction, may leave bbolt's internal locks held, so the
// store breaks: this call and every later one fail with an error wrapping
// ErrCorrupt without calling into bbolt, which could wait forever.
func (s *Store) view(op string, fn func(*bbolt.Tx) error) error {
	if d := s.broken.Load(); d != nil {
		return d
	}
	var inFn *recoveredPanic
	err := guard(func() error {
		return s.db.View(func(tx *bbolt.Tx) error {
			err := guard(func() error { return fn(tx) })
			inFn, _ = err.(*recoveredPanic)
			return err
		})
	})
	p, ok := err.(*recoveredPanic)
	if !ok {
		return err
	}
	if p != inFn {
		p = &recoveredPanic{fmt.Sprint(p.value, " (outside a transaction: the store stops using the file)")}
		d := s.damaged(op, p)
		s.broken.CompareAndSwap(nil, d)
		return d
	}
	return s.damaged(op, p)
}

// write runs fn in a write transaction shared with concurrent writers (see
// committer), unless the store is broken (see view). fn contains its own
// reads and writes of the database (see contain), so that a panic there
// fails only fn's call, not its whole group, and so that a caller's
// function it runs (UpdateRecord's) is not taken for damage. The committer
// contains what panics in bbolt's commit itself.
func (s *Store) write(ctx context.Context, fn func(*bbolt.Tx) error) error {
	if d := s.broken.Load(); d != nil {
		return d
	}
	return s.group.Run(ctx, fn)
}

// openBolt is bbolt.Open, guarded: should bbolt panic in the goroutine
// that opens the file despite the verification (the file changed
// meanwhile), Open fails with an error wrapping session.ErrCorrupt. The
// half-opened database is left to the garbage collector. A panic in a
// goroutine of bbolt's own cannot be recovered; the verification is what
// keeps bbolt's freelist rebuild from meeting damage.
func openBolt(path string, opts *bbolt.Options) (db *bbolt.DB, err error) {
	err = guard(func() error {
		db, err = bbolt.Open(path, 0o600, opts)
		return err
	})
	if p, ok := err.(*recoveredPanic); ok {
		return nil, &damageError{p.Error()}
	}
	return db, err
}
