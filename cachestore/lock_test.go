package cachestore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sessionkv/session"
	"github.com/sessionkv/session/memstore"
	"github.com/sessionkv/session/storetest"
)

// Deadlines of the lock tests: a call waits lockDeadline for a lock that is
// not released, and must have returned lockGrace after it started.
const (
	lockDeadline = 300 * time.Millisecond
	lockGrace    = 2 * time.Second
)

// TestStore_StripeWaitEndsWithContext: while an UpdateRecord holds a key's write
// lock (its function blocks), Save, Delete and UpdateRecord of the key, and
// DeleteUser, which takes every write lock, give up when their context
// ends, with an error wrapping the context's; none of them changes
// anything, and the store works once the UpdateRecord is done.
func TestStore_StripeWaitEndsWithContext(t *testing.T) {
	backing := memstore.New()
	s := newCache(t, backing, nil)
	k, other := storetest.Key("busy"), storetest.Key("other")
	mustSave(t, s, k, session.Record{Data: []byte("before"), Expires: live(), UserID: "alice"})
	mustSave(t, s, other, session.Record{Data: []byte("other"), Expires: live(), UserID: "alice"})

	entered, unblock := make(chan struct{}), make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(unblock) }) }
	t.Cleanup(release)
	updated := make(chan error, 1)
	go func() {
		updated <- s.UpdateRecord(context.Background(), k, func(cur session.Record, found bool) (session.Record, error) {
			close(entered)
			<-unblock
			cur.Data = []byte("updated")
			return cur, nil
		})
	}()
	<-entered

	rec := session.Record{Data: []byte("late"), Expires: live(), UserID: "alice"}
	ops := []struct {
		name string
		op   func(ctx context.Context) error
	}{
		{"Save", func(ctx context.Context) error { return s.Save(ctx, k, rec) }},
		{"Delete", func(ctx context.Context) error { return s.Delete(ctx, k) }},
		{"Update", func(ctx context.Context) error {
			return s.UpdateRecord(ctx, k, func(session.Record, bool) (session.Record, error) { return rec, nil })
		}},
		{"DeleteUser", func(ctx context.Context) error { _, err := s.DeleteUser(ctx, "alice"); return err }},
	}
	for _, o := range ops {
		ctx, cancel := context.WithTimeout(context.Background(), lockDeadline)
		done := make(chan error, 1)
		go func() { done <- o.op(ctx) }()
		var err error
		select {
		case err = <-done:
		case <-time.After(lockGrace):
			release()
			err = <-done
			cancel()
			t.Fatalf("%s with a %v deadline did not return within %v; it returned %v once the lock was released",
				o.name, lockDeadline, lockGrace, err)
		}
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "write lock") {
			t.Errorf("%s while the key's write lock is held = %v; want an error wrapping context.DeadlineExceeded about the write lock", o.name, err)
		}
	}

	release()
	if err := <-updated; err != nil {
		t.Fatalf("the blocked Update: %v", err)
	}
	if got := mustLoad(t, backing, k); string(got.Data) != "updated" {
		t.Fatalf("backing record after the abandoned writes = %q; want %q", got.Data, "updated")
	}
	if got := mustLoad(t, s, other); string(got.Data) != "other" {
		t.Fatalf("cached record of the other key = %q; want %q", got.Data, "other")
	}
	// DeleteUser gave back the locks it had taken when it gave up.
	ctx, cancel := context.WithTimeout(context.Background(), lockGrace)
	defer cancel()
	if n, err := s.DeleteUser(ctx, "alice"); n != 2 || err != nil {
		t.Fatalf("DeleteUser once the lock is free = %d, %v; want 2, nil", n, err)
	}
	if err := s.Save(ctx, k, rec); err != nil {
		t.Fatalf("Save once the lock is free: %v", err)
	}
	if got := mustLoad(t, s, k); string(got.Data) != "late" {
		t.Fatalf("Load after Save = %q; want %q", got.Data, "late")
	}
}
