// Package optimistic holds what the server stores' optimistic
// read-modify-write (a compare-and-set retried on conflict) shares:
// in-process locks per key, so that updates of one key from one process
// take turns instead of conflicting; hints, the value the last read of a key
// saw, which the next update takes as its first guess and so skips a
// round trip; and the back-off between attempts that conflicted with
// another process.
//
// # Concurrency and crashes
//
// Keys is safe for concurrent use. It holds only in-process state: locks
// and hints, which a crash loses with nothing else.
package optimistic

import (
	"context"
	"hash/maphash"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Stripes is the number of locks and hints the keys are spread over.
const Stripes = 1024

// Keys is a set of striped per-key locks and hints. Create it with New.
// Hints hold values of type T: each is a guess, the caller's to check.
type Keys[T any] struct {
	seed  maphash.Seed
	locks [Stripes]chan struct{}
	hints [Stripes]atomic.Pointer[hint[T]]
}

type hint[T any] struct {
	key string
	v   T
}

// New returns a Keys with every lock free and no hint.
func New[T any]() *Keys[T] {
	k := &Keys[T]{seed: maphash.MakeSeed()}
	for i := range k.locks {
		k.locks[i] = make(chan struct{}, 1)
	}
	return k
}

// stripe is the index of key's lock and hint.
func (k *Keys[T]) stripe(key string) uint64 { return maphash.String(k.seed, key) % Stripes }

// Lock takes key's lock (shared with the other keys of its stripe), or
// fails with ctx.Err() when ctx ends first. The caller must call unlock
// once, and must not take another lock while holding one.
func (k *Keys[T]) Lock(ctx context.Context, key string) (unlock func(), err error) {
	l := k.locks[k.stripe(key)]
	select {
	case l <- struct{}{}:
		return func() { <-l }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Remember keeps v as key's hint, replacing the hint of any key of the
// same stripe. v must be the caller's own copy: the hint is handed out as
// it is.
func (k *Keys[T]) Remember(key string, v T) {
	k.hints[k.stripe(key)].Store(&hint[T]{key: key, v: v})
}

// Take returns and forgets key's hint, unless Remember of another key of
// the same stripe, or Forget of key, has replaced or dropped it since. The
// value may be stale in any case (another process, or a write racing with
// the read that saw it, may have changed the record): it is only ever a
// guess for the compare-and-set to check.
func (k *Keys[T]) Take(key string) (T, bool) {
	slot := &k.hints[k.stripe(key)]
	h := slot.Load()
	if h == nil || h.key != key || !slot.CompareAndSwap(h, nil) {
		var zero T
		return zero, false
	}
	return h.v, true
}

// Forget drops key's hint, which a write has made stale.
func (k *Keys[T]) Forget(key string) {
	slot := &k.hints[k.stripe(key)]
	if h := slot.Load(); h != nil && h.key == key {
		slot.CompareAndSwap(h, nil)
	}
}

// ForgetAll drops every hint, so that the memory they hold can be freed.
func (k *Keys[T]) ForgetAll() {
	for i := range k.hints {
		k.hints[i].Store(nil)
	}
}

// Backoff waits before the next attempt after a conflict with another
// process: nothing after the first conflict (which has usually brought the
// current value with it), then a random time up to 50µs·2^attempt, at most
// 20ms. It returns ctx.Err() when ctx ends first.
func Backoff(ctx context.Context, attempt int) error {
	if attempt < 2 {
		return ctx.Err()
	}
	limit := min(50*time.Microsecond<<min(attempt, 20), 20*time.Millisecond)
	t := time.NewTimer(rand.N(limit))
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
