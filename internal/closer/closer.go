// Package closer is the closed state the stores share: once a store is
// closed, its calls fail with session.ErrClosed. A Flag is safe for
// concurrent use; it lives in memory only, so a crash loses nothing of it
// that matters.
package closer

import (
	"context"
	"sync/atomic"

	"github.com/sessionkv/session"
)

// Flag records whether a store is closed. The zero value is open.
type Flag struct{ closed atomic.Bool }

// Close marks the store closed and reports whether it already was.
func (f *Flag) Close() (already bool) { return f.closed.Swap(true) }

// Check returns ctx's error if it is done, else session.ErrClosed once
// Close has been called, else nil. Stores call it first in every method.
func (f *Flag) Check(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if f.closed.Load() {
		return session.ErrClosed
	}
	return nil
}
