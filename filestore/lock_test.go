package filestore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gofrs/flock"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/storetest"
)

// Deadlines of the lock tests: each call waits lockDeadline for a lock
// held elsewhere, and must have returned lockGrace after it started.
const (
	lockDeadline = 300 * time.Millisecond
	lockGrace    = 2 * time.Second
)

// keyInShard returns a store key in the shard named shard, derived from
// name.
func keyInShard(shard, name string) string {
	for i := 0; ; i++ {
		if k := storetest.Key(fmt.Sprint(name, "-", i)); k[:2] == shard {
			return k
		}
	}
}

// returnsBy runs op with a context that ends after lockDeadline and
// returns its error, failing the test if op has not returned lockGrace
// after it started; release then frees what op waits for, so that op can
// return and the test end.
func returnsBy(t *testing.T, what string, release func(), op func(ctx context.Context) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), lockDeadline)
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- op(ctx) }()
	select {
	case err := <-done:
		return err
	case <-time.After(lockGrace):
		release()
		err := <-done
		t.Fatalf("%s with a %v deadline did not return within %v (it returned %v once the lock was released, %v after it started)",
			what, lockDeadline, lockGrace, err, time.Since(start).Round(time.Millisecond))
		return nil
	}
}

// wantLockTimeout fails the test unless err is a wait for a lock that the
// context ended, naming the lock by mentioning about.
func wantLockTimeout(t *testing.T, what string, err error, about string) {
	t.Helper()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("%s while the lock is held = %v; want an error wrapping context.DeadlineExceeded", what, err)
		return
	}
	if !strings.Contains(err.Error(), about) {
		t.Errorf("%s while the lock is held = %q; want it to say it waited for %q", what, err, about)
	}
}

// TestStore_FileLockWaitEndsWithContext: while another process holds a
// shard's flock (here an independent open file description of the lock
// file, which flock(2) treats as another process), every write to the
// shard gives up when its context ends, with an error wrapping the
// context's; a sweep with a context that never ends waits; once the lock
// is released the store works again, and none of the abandoned writes has
// happened.
func TestStore_FileLockWaitEndsWithContext(t *testing.T) {
	s, _ := newTestStore(t, nil)
	k := saveOwned(t, s, "held", "alice", time.Now().Add(time.Hour))
	sh := s.shardOf(k)
	expired := keyInShard(sh.name, "expired")
	if err := s.Save(t.Context(), expired, session.Record{Data: []byte("old"), Expires: time.Now().Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}

	other := flock.New(sh.lock.Path())
	if err := other.Lock(); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			if err := other.Unlock(); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(release)
	if ok, err := flock.New(sh.lock.Path()).TryLock(); ok || err != nil {
		t.Fatalf("a second flock of %s: TryLock = %v, %v; want it refused", sh.lock.Path(), ok, err)
	}

	ops := []struct {
		name string
		op   func(ctx context.Context) error
	}{
		{"Save", func(ctx context.Context) error {
			return s.Save(ctx, k, session.Record{Data: []byte("new"), Expires: time.Now().Add(time.Hour)})
		}},
		{"Update", func(ctx context.Context) error {
			return s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) {
				return session.Record{Data: []byte("updated"), Expires: time.Now().Add(time.Hour)}, nil
			})
		}},
		{"Delete", func(ctx context.Context) error { return s.Delete(ctx, k) }},
		{"DeleteUser", func(ctx context.Context) error { _, err := s.DeleteUser(ctx, "alice"); return err }},
		{"DeleteExpired", func(ctx context.Context) error { _, err := s.DeleteExpired(ctx); return err }},
	}
	for _, o := range ops {
		err := returnsBy(t, o.name, release, o.op)
		wantLockTimeout(t, o.name, err, "file lock "+sh.lock.Path())
	}

	// A sweep that nothing can cancel waits for the lock, as before.
	swept := make(chan error, 1)
	var n int
	go func() {
		var err error
		n, err = s.DeleteExpired(context.Background())
		swept <- err
	}()
	select {
	case err := <-swept:
		t.Fatalf("DeleteExpired(context.Background()) returned %v while the lock was held", err)
	case <-time.After(lockDeadline):
	}
	release()
	if err := <-swept; err != nil || n != 1 {
		t.Fatalf("DeleteExpired once the lock was released = %d, %v; want 1, nil", n, err)
	}

	if rec := mustLoad(t, s, k); string(rec.Data) != "held" || rec.UserID != "alice" {
		t.Fatalf("after the abandoned writes, Load = %q of %q; want the record saved before", rec.Data, rec.UserID)
	}
	if err := s.Save(withTimeout(t, lockGrace), k, session.Record{Data: []byte("new"), Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatalf("Save once the lock was released: %v", err)
	}
	if rec := mustLoad(t, s, k); string(rec.Data) != "new" {
		t.Fatalf("Load after Save = %q; want %q", rec.Data, "new")
	}
}

// TestStore_StripeWaitEndsWithContext: while an UpdateRecord of this process
// holds a shard (its function blocks), writes to the same shard give up
// when their context ends, with an error wrapping the context's, and work
// again once the UpdateRecord is done.
func TestStore_StripeWaitEndsWithContext(t *testing.T) {
	s, _ := newTestStore(t, nil)
	k := saveOwned(t, s, "busy", "", time.Now().Add(time.Hour))
	sh := s.shardOf(k)
	neighbour := keyInShard(sh.name, "neighbour")

	started, unblock := make(chan struct{}), make(chan struct{})
	updated := make(chan error, 1)
	go func() {
		updated <- s.UpdateRecord(context.Background(), k, func(cur session.Record, found bool) (session.Record, error) {
			close(started)
			<-unblock
			return cur, nil
		})
	}()
	<-started
	unblocked := false
	release := func() {
		if !unblocked {
			unblocked = true
			close(unblock)
		}
	}
	t.Cleanup(release)

	rec := session.Record{Data: []byte("neighbour"), Expires: time.Now().Add(time.Hour)}
	ops := []struct {
		name string
		op   func(ctx context.Context) error
	}{
		{"Save", func(ctx context.Context) error { return s.Save(ctx, neighbour, rec) }},
		{"Update", func(ctx context.Context) error {
			return s.UpdateRecord(ctx, neighbour, func(session.Record, bool) (session.Record, error) { return rec, nil })
		}},
		{"Delete", func(ctx context.Context) error { return s.Delete(ctx, k) }},
	}
	for _, o := range ops {
		err := returnsBy(t, o.name, release, o.op)
		wantLockTimeout(t, o.name, err, "shard "+sh.name+": waiting for its lock in this process")
	}

	release()
	if err := <-updated; err != nil {
		t.Fatalf("the blocked Update: %v", err)
	}
	wantNotFoundHere(t, s, neighbour)
	if err := s.Save(withTimeout(t, lockGrace), neighbour, rec); err != nil {
		t.Fatalf("Save once the shard is free: %v", err)
	}
	mustLoad(t, s, k)
	mustLoad(t, s, neighbour)
}

// mustLoad loads key, failing the test if it cannot.
func mustLoad(t *testing.T, s *Store, key string) session.Record {
	t.Helper()
	rec, err := s.Load(t.Context(), key)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return rec
}

// wantNotFoundHere fails the test unless key has no record.
func wantNotFoundHere(t *testing.T, s *Store, key string) {
	t.Helper()
	if _, err := s.Load(t.Context(), key); !errors.Is(err, session.ErrNotFound) {
		t.Fatalf("Load = %v; want session.ErrNotFound", err)
	}
}
