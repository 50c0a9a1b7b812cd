package boltstore

import (
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/internal/groupcommit"
)

// committer runs write functions in shared bbolt transactions (group
// commit, see package groupcommit): one commit and one fsync serve every
// writer queued behind the one under way.
type committer = groupcommit.Committer[*bbolt.Tx]

// newCommitter returns the committer of db. broke, if not nil, is called
// once for each panic in bbolt's own commit code (not in a call's
// function), with the error the group gets: bbolt's internal locks may be
// held for good after one, so the Store stops using the file (see
// Store.view). queued, if not nil, is groupcommit's test hook.
//
// A panic that leaves bbolt's writer lock held (it struck while bbolt began
// the transaction, or again while bbolt rolled it back) means no write
// transaction can ever begin on the database again: that call and every
// later one then fail at once with an error wrapping session.ErrCorrupt
// that says so, rather than wait for the lock forever.
func newCommitter(db *bbolt.DB, broke func(error), queued func(int)) *committer {
	return groupcommit.New(groupcommit.Config[*bbolt.Tx]{
		Update: db.Update,
		PanicError: func(r any) error {
			return fmt.Errorf("boltstore: panic during a group commit: %v: %w", r, session.ErrCorrupt)
		},
		Panicked: func(err error, tx *bbolt.Tx, began bool) (error, bool) {
			// bbolt releases its writer lock when it closes the
			// transaction, which clears the transaction's DB. Still set, or
			// never begun (the panic struck in Begin, which holds the
			// lock), it is held for good.
			lost := !began || tx.DB() != nil
			if lost {
				err = fmt.Errorf("%w; bbolt's write lock is lost with it, so every later write fails until the process restarts", err)
			}
			if broke != nil {
				broke(err)
			}
			return err, lost
		},
		Queued: queued,
	})
}
